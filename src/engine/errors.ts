// The one table of stable error codes. Users and scripts match on `code`; every code here is documented in
// docs/errors.md and test/errors.test.ts keeps the two in step. Retry classes are data, read by retry.ts:
//   always - nothing reached the server, or the server asked us to come back: retried whatever the method;
//   safe   - the request may have been processed: retried only when repeating it is safe;
//   never  - retrying cannot help.

export type RetryClass = 'always' | 'safe' | 'never';

interface CodeInfo {
  /** Where the code appears: in a result line's `error`, as the reason a run stopped (exit code 2), or in serve's answers. */
  scope: 'result' | 'run' | 'serve';
  retry: RetryClass;
  summary: string;
}

export const ERROR_CODES = {
  // Results: the request got no usable HTTP answer.
  TIMEOUT: { scope: 'result', retry: 'safe', summary: 'An attempt took longer than --timeout.' },
  ECONNREFUSED: { scope: 'result', retry: 'always', summary: 'The server refused the connection; nothing was sent.' },
  ENOTFOUND: { scope: 'result', retry: 'always', summary: 'The host name did not resolve; nothing was sent.' },
  CONNECT_TIMEOUT: {
    scope: 'result',
    retry: 'always',
    summary: 'The connection could not be opened in time; nothing was sent.',
  },
  ECONNRESET: {
    scope: 'result',
    retry: 'safe',
    summary: 'The connection was reset or closed before a full answer arrived.',
  },
  NETWORK_ERROR: { scope: 'result', retry: 'safe', summary: 'Another network or TLS failure; the message names it.' },
  // Results: the payload itself could not become a request.
  INVALID_JSON: {
    scope: 'result',
    retry: 'never',
    summary: 'With --skip-invalid: an input line that is not valid JSON, recorded instead of sent.',
  },
  TEMPLATE_ERROR: {
    scope: 'result',
    retry: 'never',
    summary: 'A --url, --header or --body expression failed for this payload, so nothing was sent.',
  },
  EXPECTATION_FAILED: {
    scope: 'result',
    retry: 'never',
    summary: 'The answer was 2xx but did not meet --expect; the message names the expression.',
  },
  TRANSFORM_ERROR: {
    scope: 'result',
    retry: 'never',
    summary: 'The answer was 2xx but --transform failed on it; the request was sent once.',
  },
  QUEUE_JOB_FAILED: {
    scope: 'result',
    retry: 'never',
    summary:
      'Distributed run: no worker finished the request (workers died mid-request too often); it may have been sent.',
  },
  // Runs: why a run stopped before sending everything (exit code 2).
  USAGE: { scope: 'run', retry: 'never', summary: 'An option or argument is missing or malformed.' },
  INPUT_NOT_FOUND: { scope: 'run', retry: 'never', summary: 'The input file does not exist or cannot be read.' },
  INPUT_INVALID_JSON: {
    scope: 'run',
    retry: 'never',
    summary: 'An input line or array element is not valid JSON (the message names the line).',
  },
  INPUT_INVALID_CSV: {
    scope: 'run',
    retry: 'never',
    summary: 'A CSV row is malformed (an unclosed quote, the wrong number of fields); the message names the line.',
  },
  MISSING_ID: { scope: 'run', retry: 'never', summary: 'A payload has no usable value at --id-field.' },
  DUPLICATE_ID: { scope: 'run', retry: 'never', summary: 'Two payloads share an id taken from --id-field.' },
  OUTPUT_EXISTS: {
    scope: 'run',
    retry: 'never',
    summary: 'The --out file already holds results; add --resume, --retry-failed or --overwrite.',
  },
  RESULTS_CORRUPT: {
    scope: 'run',
    retry: 'never',
    summary: 'The --out file read by --resume has a malformed line that is not the last one.',
  },
  OUTPUT_FAILED: { scope: 'run', retry: 'never', summary: 'Results could not be written (disk full, stdout closed).' },
  THREAD_FAILED: {
    scope: 'run',
    retry: 'never',
    summary: 'A sender thread (--threads) died; what it had not finished is not recorded.',
  },
  QUEUE_UNAVAILABLE: {
    scope: 'run',
    retry: 'never',
    summary: 'run --queue or worker: Redis cannot be reached at the URL given (or is older than 6.2).',
  },
  QUEUE_BUSY: { scope: 'run', retry: 'never', summary: 'run --queue: another live run holds the same queue name.' },
  // serve: why a batch (or one $batch item) was refused, as {"error":{code,message}} with the HTTP status in docs/errors.md.
  INVALID_BATCH: {
    scope: 'serve',
    retry: 'never',
    summary: 'The batch parses but is not the expected shape; the message names the item and field.',
  },
  INVALID_HEADER: {
    scope: 'serve',
    retry: 'never',
    summary: 'A $batch item header has an invalid name, or a line break in its value.',
  },
  UNKNOWN_DEPENDENCY: {
    scope: 'serve',
    retry: 'never',
    summary: 'A $batch item dependsOn an id that is not in the batch.',
  },
  DEPENDENCY_CYCLE: { scope: 'serve', retry: 'never', summary: "The dependsOn of a $batch's items form a cycle." },
  TOO_MANY_ITEMS: { scope: 'serve', retry: 'never', summary: 'The batch holds more items than --max-items.' },
  BATCH_TOO_LARGE: { scope: 'serve', retry: 'never', summary: 'The batch body is larger than --max-bytes.' },
  UNSUPPORTED_MEDIA_TYPE: { scope: 'serve', retry: 'never', summary: 'The batch Content-Type is not one serve reads.' },
  NOT_FOUND: { scope: 'serve', retry: 'never', summary: 'No such endpoint.' },
  METHOD_NOT_ALLOWED: { scope: 'serve', retry: 'never', summary: 'The endpoint exists but not for this HTTP method.' },
  SHUTTING_DOWN: {
    scope: 'serve',
    retry: 'never',
    summary: 'The server is draining after SIGTERM and takes no new batches.',
  },
  FORBIDDEN_ORIGIN: {
    scope: 'serve',
    retry: 'never',
    summary: "An item's URL points at another origin than --url's; it was not contacted.",
  },
  FAILED_DEPENDENCY: {
    scope: 'serve',
    retry: 'never',
    summary: 'An item this $batch item dependsOn failed, so it was not sent.',
  },
  LISTEN_FAILED: {
    scope: 'serve',
    retry: 'never',
    summary: 'serve could not listen on --host/--port (in use, or not an address of this machine).',
  },
  INTERNAL_ERROR: {
    scope: 'serve',
    retry: 'never',
    summary: 'A bug in batchpost answered 500; the server log says more.',
  },
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
