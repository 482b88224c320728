// The one table of stable error codes. Users and scripts match on `code`; every code here is documented in
// docs/errors.md and test/errors.test.ts keeps the two in step. What a code means to the program is data here: its
// exit code and hint, read by the CLI, and its retry class, read by retry.ts:
//   always - nothing reached the server, or the server asked us to come back: retried whatever the method;
//   safe   - the request may have been processed: retried only when repeating it is safe;
//   never  - retrying cannot help.

export type RetryClass = 'always' | 'safe' | 'never';

/**
 * The exit code of a command that stops with a code: 2 for bad usage or bad input (fix the command or the file),
 * 1 for a failure while running. The CLI names them (src/cli/exit.ts); the engine only carries the number.
 */
export type StopExitCode = 1 | 2;

interface CommonInfo {
  retry: RetryClass;
  summary: string;
  /**
   * What to do about it, when one thing always helps: an imperative without a final stop, so the CLI can go on
   * (", then add --resume"). A BatchpostError's own hint, when it has one, says more and wins.
   */
  hint?: string;
}

type CodeInfo =
  /** In a result line's `error`, or in serve's answers; `exit` when it can also stop a command (serve's start). */
  | (CommonInfo & { scope: 'result' | 'serve'; exit?: StopExitCode })
  /** The reason a command stopped, on stderr. */
  | (CommonInfo & { scope: 'run'; exit: StopExitCode });

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
  EMFILE: {
    scope: 'result',
    retry: 'always',
    summary: 'This machine had no file descriptor left for a connection (ulimit -n); nothing was sent.',
  },
  ECONNRESET: {
    scope: 'result',
    retry: 'safe',
    summary: 'The connection was reset or closed before a full answer arrived.',
  },
  TLS_CERT_UNTRUSTED: {
    scope: 'result',
    retry: 'never',
    hint: "Add --cacert FILE with the CA that signed the server's certificate, or -k/--insecure to skip the check",
    summary: "The server's certificate is not signed by a trusted CA (self-signed, a private CA); nothing was sent.",
  },
  TLS_CERT_EXPIRED: {
    scope: 'result',
    retry: 'never',
    hint: "Have the server's certificate renewed (or check this machine's clock); -k/--insecure skips the check",
    summary: "The server's certificate has expired or is not valid yet; nothing was sent.",
  },
  TLS_HOSTNAME_MISMATCH: {
    scope: 'result',
    retry: 'never',
    hint: 'Use the host name the certificate is for in --url, or -k/--insecure to skip the check',
    summary: "The server's certificate is for another host name than the URL's; nothing was sent.",
  },
  TLS_HANDSHAKE_FAILED: {
    scope: 'result',
    retry: 'never',
    hint: 'Check that the port speaks TLS; a server that wants a client certificate needs --cert FILE --key FILE, one that speaks only HTTP/2 needs --http2',
    summary:
      'The TLS handshake failed: the server wants a client certificate (--cert), speaks only HTTP/2 (--http2), or no TLS at all; nothing was sent.',
  },
  PROXY_AUTH_REQUIRED: {
    scope: 'result',
    retry: 'never',
    hint: 'Put the credentials in the proxy URL: --proxy http://user:password@host:port (or HTTPS_PROXY)',
    summary: 'The proxy asked for credentials (407); nothing was sent to the server.',
  },
  PROXY_FAILED: {
    scope: 'result',
    retry: 'always',
    hint: 'Check the proxy, or reach the host directly with --noproxy HOST',
    summary: 'The proxy would not open a tunnel to the server (its CONNECT answer was not 200); nothing was sent.',
  },
  NETWORK_ERROR: { scope: 'result', retry: 'safe', summary: 'Another network failure; the message names it.' },
  BAD_RESPONSE: {
    scope: 'result',
    retry: 'never',
    summary:
      'The server answered with what HTTP does not allow there (e.g. a 100 Continue not asked for); it may have handled the request.',
  },
  RESPONSE_TOO_LARGE: {
    scope: 'result',
    retry: 'never',
    summary: 'The answer body was larger than --max-response-size; it was cut off unread and `status` is its status.',
  },
  RESPONSE_NOT_SAVED: {
    scope: 'result',
    retry: 'never',
    summary: 'With --save-responses: the answer body could not be written to its file; `status` is its status.',
  },
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
  INVALID_REQUEST: {
    scope: 'result',
    retry: 'never',
    summary:
      'With --skip-invalid and --input-format requests: a line that is not a request (no url, a method or headers of the wrong type), recorded instead of sent.',
  },
  INVALID_BODY: {
    scope: 'result',
    retry: 'never',
    summary: 'The body cannot be sent in --body-format form or text (not an object of plain values, not a string).',
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
  // Runs: why a command stopped before doing everything, on stderr, with its exit code.
  USAGE: { scope: 'run', exit: 2, retry: 'never', summary: 'An option or argument is missing or malformed.' },
  INPUT_NOT_FOUND: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The input file does not exist or cannot be read.',
  },
  INPUT_INVALID_JSON: {
    scope: 'run',
    exit: 2,
    hint: 'Fix the line',
    retry: 'never',
    summary: 'An input line or array element is not valid JSON (the message names the line).',
  },
  INPUT_INVALID_CSV: {
    scope: 'run',
    exit: 2,
    hint: 'Fix the row',
    retry: 'never',
    summary: 'A CSV row is malformed (an unclosed quote, the wrong number of fields); the message names the line.',
  },
  INPUT_UNSUPPORTED: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The input is in a format batchpost does not read (YAML, by its .yaml or .yml name).',
  },
  INPUT_TOO_LARGE: {
    scope: 'run',
    exit: 2,
    hint: 'Raise --max-line-size or split the payload',
    retry: 'never',
    summary: 'A payload (line, array element or CSV row) is larger than --max-line-size; the message names the line.',
  },
  INPUT_INVALID_UTF8: {
    scope: 'run',
    exit: 2,
    hint: 'Convert the input to UTF-8',
    retry: 'never',
    summary: 'JSON or NDJSON input holds a byte that is not UTF-8 (the message names the line).',
  },
  INPUT_INVALID_REQUEST: {
    scope: 'run',
    exit: 2,
    hint: 'Fix the line',
    retry: 'never',
    summary:
      'With --input-format requests: a line is not a request (no url, a relative url without --url, a method or headers of the wrong type).',
  },
  INPUT_INVALID_GZIP: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The input starts like gzip but does not decompress (truncated or corrupt).',
  },
  MISSING_ID: {
    scope: 'run',
    exit: 2,
    hint: 'Give every payload an id',
    retry: 'never',
    summary: 'A payload has no usable value at --id-field.',
  },
  DUPLICATE_ID: {
    scope: 'run',
    exit: 2,
    hint: 'Make the ids unique',
    retry: 'never',
    summary: 'Two payloads share an id taken from --id-field.',
  },
  OUTPUT_EXISTS: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The --out file already holds results (or --failed or a report exists); add --resume or --overwrite.',
  },
  OUTPUT_LOCKED: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'Another run is writing the --out file (its FILE.lock names the pid and host).',
  },
  RESULTS_CORRUPT: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The --out file read by --resume has a malformed line that is not the last one.',
  },
  OUTPUT_FAILED: {
    scope: 'run',
    exit: 1,
    retry: 'never',
    summary: 'Results could not be written (disk full, stdout closed).',
  },
  THREAD_FAILED: {
    scope: 'run',
    exit: 1,
    retry: 'never',
    summary: 'A sender thread (--threads) died; what it had not finished is not recorded.',
  },
  UNREACHABLE: {
    scope: 'run',
    exit: 1,
    retry: 'never',
    summary:
      'The first results (--unreachable-after) all failed to connect and none got an answer; the run stopped early.',
  },
  QUEUE_UNAVAILABLE: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary:
      'run --queue or worker: Redis cannot be reached at the URL given, does not answer, is older than 6.2, or lacks the database named.',
  },
  QUEUE_BUSY: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'run --queue: another live run holds the same queue name.',
  },
  AUTH_COMMAND_FAILED: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary:
      '--auth-command exited non-zero, printed nothing usable or timed out; its stderr is shown. Mid-run, the run stops.',
    hint: 'Check the command on its own (its stdout is header lines or one token)',
  },
  QUEUE_UNSAFE_REDIS: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'run --queue or worker: the Redis may evict keys (maxmemory-policy other than noeviction).',
  },
  QUEUE_LOST: {
    scope: 'run',
    exit: 1,
    retry: 'never',
    summary: "run --queue: Redis lost the run's queue mid-run (restarted without persistence, or its keys deleted).",
    hint: 'Continue with --resume',
  },
  CONFIG_INVALID: {
    scope: 'run',
    exit: 2,
    retry: 'never',
    summary: 'The --config file (or $BATCHPOST_CONFIG) cannot be read, does not parse, or names an unknown option.',
  },
  // serve: why a batch (or one $batch item) was refused, as {"error":{code,message}} with the HTTP status in docs/errors.md.
  INVALID_BATCH: {
    scope: 'serve',
    retry: 'never',
    summary: 'The batch parses but is not the expected shape; the message names the item and field.',
  },
  INVALID_HEADER: {
    scope: 'serve',
    retry: 'never',
    summary: 'A $batch item header has an invalid name, a control character in its value, or a name given twice.',
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
  DEPENDENCY_TOO_DEEP: {
    scope: 'serve',
    retry: 'never',
    summary: 'A $batch dependsOn chain is longer than serve runs one after another (1,000 requests).',
  },
  BATCH_TOO_DEEP: {
    scope: 'serve',
    retry: 'never',
    summary: 'The batch body nests arrays or objects more than 1,000 levels deep.',
  },
  REQUEST_TIMEOUT: {
    scope: 'serve',
    retry: 'never',
    summary: 'The batch body did not arrive within --request-timeout.',
  },
  LISTEN_FAILED: {
    scope: 'serve',
    exit: 2,
    retry: 'never',
    summary: 'serve could not listen on --host/--port (in use, or not an address of this machine).',
  },
  // serve --jobs: the /v1 files and batches API answers these in OpenAI's error shape {"error":{message,type,param,code}}.
  UNAUTHORIZED: {
    scope: 'serve',
    retry: 'never',
    summary: 'A /v1 request without the right Authorization: Bearer key.',
  },
  JOBS_INVALID_REQUEST: {
    scope: 'serve',
    retry: 'never',
    summary: 'A /v1 request is malformed; the message names the parameter.',
  },
  FILE_TOO_LARGE: {
    scope: 'serve',
    retry: 'never',
    summary: 'An uploaded file is larger than --max-file-size or holds more lines than --max-file-lines.',
  },
  JOBS_UNAVAILABLE: {
    scope: 'serve',
    retry: 'always',
    summary: 'serve --jobs cannot reach Redis right now; try again shortly.',
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

const infoOf = (code: string): CodeInfo | undefined => (ERROR_CODES as Record<string, CodeInfo>)[code];

export function retryClassOf(code: string): RetryClass {
  if (code.startsWith('HTTP_')) return HTTP_RETRY[Number(code.slice(5))] ?? 'never';
  return infoOf(code)?.retry ?? 'never';
}

/** The exit code of a command stopped by `code`; a code that never stops one is a failure (1). */
export function exitCodeOf(code: string): StopExitCode {
  return infoOf(code)?.exit ?? 1;
}

/** What to do about `code`, when the table knows (see CodeInfo.hint). */
export function hintOf(code: string): string | undefined {
  return infoOf(code)?.hint;
}

/** A failure below HTTP (socket, DNS, timeout), carrying one of the codes above. */
export class TransportError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The answer's status when one had started to arrive (RESPONSE_TOO_LARGE). */
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A reason to stop a command, with the exit code its code has in the table (usage and input errors: 2). */
export class BatchpostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** A second line telling the user what to do next, when there is one (else the table's hint). */
    readonly hint?: string,
    /** When this occurrence of the code exits otherwise than the table says (e.g. found before anything ran). */
    readonly exitCode: StopExitCode = exitCodeOf(code),
  ) {
    super(message);
    this.name = 'BatchpostError';
  }
}
