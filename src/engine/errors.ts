// The one table of stable error codes. Users and scripts match on `code`; every code here is documented in
// docs/errors.md and test/errors.test.ts keeps the two in step. Retry classes are data, read by retry.ts:
//   always - nothing reached the server, or the server asked us to come back: retried whatever the method;
//   safe   - the request may have been processed: retried only when repeating it is safe;
//   never  - retrying cannot help.

export type RetryClass = 'always' | 'safe' | 'never';

interface CodeInfo {
  /** Where the code appears: in a result line's `error`, or as the reason a run stopped (exit code 2). */
  scope: 'result' | 'run';
  retry: RetryClass;
  summary: string;
}

export const ERROR_CODES = {
  // Results: the request got no usable HTTP answer.
  TIMEOUT: { scope: 'result', retry: 'safe', summary: 'An attempt took longer than --timeout.' },
  ECONNREFUSED: { scope: 'result', retry: 'always', summary: 'The server refused the connection; nothing was sent.' },
  ENOTFOUND: { scope: 'result', retry: 'always', summary: 'The host name did not resolve; nothing was sent.' },
  CONNECT_TIMEOUT: { scope: 'result', retry: 'always', summary: 'The connection could not be opened in time; nothing was sent.' },
  ECONNRESET: { scope: 'result', retry: 'safe', summary: 'The connection was reset or closed before a full answer arrived.' },
  NETWORK_ERROR: { scope: 'result', retry: 'safe', summary: 'Another network or TLS failure; the message names it.' },
  // Results: the payload itself could not become a request.
  INVALID_JSON: { scope: 'result', retry: 'never', summary: 'With --skip-invalid: an input line that is not valid JSON, recorded instead of sent.' },
  TEMPLATE_ERROR: { scope: 'result', retry: 'never', summary: 'A --url, --header or --body expression failed for this payload, so nothing was sent.' },
  TRANSFORM_ERROR: { scope: 'result', retry: 'never', summary: 'The answer was 2xx but --transform failed on it; the request was sent once.' },
  // Runs: why a run stopped before sending everything (exit code 2).
  USAGE: { scope: 'run', retry: 'never', summary: 'An option or argument is missing or malformed.' },
  INPUT_NOT_FOUND: { scope: 'run', retry: 'never', summary: 'The input file does not exist or cannot be read.' },
  INPUT_INVALID_JSON: { scope: 'run', retry: 'never', summary: 'An input line or array element is not valid JSON (the message names the line).' },
  MISSING_ID: { scope: 'run', retry: 'never', summary: 'A payload has no usable value at --id-field.' },
  DUPLICATE_ID: { scope: 'run', retry: 'never', summary: 'Two payloads share an id taken from --id-field.' },
  OUTPUT_EXISTS: { scope: 'run', retry: 'never', summary: 'The --out file already holds results; add --resume, --retry-failed or --overwrite.' },
  RESULTS_CORRUPT: { scope: 'run', retry: 'never', summary: 'The --out file read by --resume has a malformed line that is not the last one.' },
  OUTPUT_FAILED: { scope: 'run', retry: 'never', summary: 'Results could not be written (disk full, stdout closed).' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** HTTP answers outside 2xx become `HTTP_<status>`; their retry class comes from this table (others: never). */
export const HTTP_RETRY: Readonly<Record<number, RetryClass>> = {
  429: 'always',
  503: 'always',
  500: 'safe',
  502: 'safe',
  504: 'safe',
};

export const httpCode = (status: number): string => `HTTP_${status}`;

export function retryClassOf(code: string): RetryClass {
  if (code.startsWith('HTTP_')) return HTTP_RETRY[Number(code.slice(5))] ?? 'never';
  return (ERROR_CODES as Record<string, CodeInfo>)[code]?.retry ?? 'never';
}

/** A failure below HTTP (socket, DNS, timeout), carrying one of the codes above. */
export class TransportError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A reason to stop a run with exit code 2: bad usage or bad input. */
export class BatchpostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** A second line telling the user what to do next, when there is one. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'BatchpostError';
  }
}
