// The engine's vocabulary: what flows in (payloads), what flows out (results), and the interfaces it is handed.
// Nothing here does I/O; transports, sinks and progress displays live in their own folders.

/** One payload as read from the input. `raw` is its exact source text when there is one (files, stdin). */
export interface InputRecord {
  /** 1-based line (NDJSON/CSV) or the line where the element starts (JSON array). */
  line: number;
  /** Exact source text of the payload, when read from text; sent as is when no --body is given. */
  raw?: string;
  /** Exact source text when it is not JSON (a CSV row): what --failed writes back. */
  source?: string;
  /** The parsed value; undefined when `error` is set. */
  value?: unknown;
  /** Set when the record could not be parsed: a human sentence naming what is wrong. */
  error?: string;
  /** With `error`: the reader cannot go on past it (a broken JSON array), so it stops the run even with --skip-invalid. */
  fatal?: true;
  /** With a fatal `error` that is not about the syntax: the code the run stops with (else INPUT_INVALID_JSON/CSV). */
  code?: 'INPUT_TOO_LARGE' | 'INPUT_INVALID_UTF8';
}

export interface ResultError {
  code: string;
  message: string;
}

/** One line of the results file. Field order here is the order written. */
export interface Result {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  durationMs: number;
  response: unknown;
  error: ResultError | null;
  /** When the first attempt started (or the payload was refused), epoch milliseconds: the report's time axis. */
  startedAt?: number;
  /** Short hash of the request sent (method, URL, body): --resume notices a payload edited since. */
  hash?: string;
  /**
   * Present only when adaptive pace held the run back as this request started: when that episode began (epoch ms)
   * and the server's signals behind it. A report made from the results afterwards reads its throttled periods here.
   */
  throttled?: ResultThrottled;
  /** The answer's X-Request-Id header, when it had one: the id a server's operators know the request by. */
  requestId?: string;
  /** --save-responses: where the answer's body was saved (the DIR given, joined with the file name). */
  file?: string;
  headers?: Record<string, string | string[]>;
}

export interface ResultThrottled {
  since: number;
  by: string[];
}

/** A request ready to send: everything resolved, nothing left to evaluate. */
export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Text, or bytes (serve's $batch sends base64 bodies decoded); null for none. */
  body: string | Uint8Array | null;
}

export interface TransportResponse {
  status: number;
  statusText: string;
  headers: Record<string, string | string[]>;
  /** Body decoded as text (UTF-8). */
  body: string;
  /** The body as received, when the transport keeps it (serve's $batch answers non-text bodies in base64). */
  bytes?: Uint8Array;
}

/**
 * Sends one attempt of one request. Rejects with a TransportError (see errors.ts) for anything that is not an
 * HTTP answer: refused, reset, timeout, abort. When `signal` aborts (a hard stop), rejects with its reason; when no
 * whole answer arrived within `timeoutMs` (the attempt's --timeout), rejects with a TIMEOUT TransportError. Either
 * may be noticed a few milliseconds late: a transport need not arm a timer or a listener per attempt.
 */
export interface Transport {
  send(request: OutgoingRequest, signal: AbortSignal, timeoutMs?: number): Promise<TransportResponse>;
  /** Idempotent; waits for open connections to close. */
  close(): Promise<void>;
}

/** Where results go. `write` is synchronous and must not lose a result once it returns (append + flush). */
export interface Sink {
  write(result: Result): void;
  /** Backpressure: a promise while the sink wants the run to pause reading, else null. */
  ready?(): Promise<void> | null;
  /** Idempotent; finishes the output (e.g. the closing brace of --format json). */
  close(): Promise<void>;
}

/** Live counters of a run, read by progress displays on their own clock (never pushed per request). */
export interface RunStats {
  /** Payloads this run will take up (a counted file, less the ids --resume skips), else null. Progress shows done/total. */
  total: number | null;
  /** Payloads read from the input so far. */
  read: number;
  /** Payloads skipped because --resume found them already recorded. */
  skipped: number;
  started: number;
  done: number;
  ok: number;
  failed: number;
  inFlight: number;
  retries: number;
  byStatus: Map<number, number>;
  byError: Map<string, number>;
  startedAt: number;
  /** Adaptive pace's state; null with --no-adaptive. */
  throttle: Throttle | null;
  /** Why the run waits besides adaptive pace, shown by progress displays (distributed mode: no worker yet). */
  hold?: string | null;
}

/** How the server's signals hold the run back (adaptive pace). Mutated live; read by displays. */
export interface Throttle {
  /** Held back now: paused, or running below the asked concurrency or rate. */
  active: boolean;
  /** Signals seen, in order of first appearance: "429", "503", "Retry-After", "RateLimit", "X-RateLimit". */
  reasons: string[];
  /** When the current episode began (epoch ms), while active. */
  since: number;
  /** Time held back in finished episodes. */
  totalMs: number;
  /** Allowed requests in flight now. */
  concurrency: number;
  /** Allowed starts per second now, when --rate is set. */
  rate: number | null;
}

export interface Progress {
  start(stats: RunStats): void;
  /** A line of human text (e.g. "stopping…") shown without tearing the bar. */
  note(message: string): void;
  stop(): void;
}

export interface Summary {
  total: number;
  ok: number;
  failed: number;
  skipped: number;
  retries: number;
  byStatus: Record<string, number>;
  byError: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  durationMs: number;
  ratePerSec: number;
  interrupted: boolean;
  /** Set when the input stopped the run (malformed line, duplicate id). */
  inputError: InputError | null;
  /** Adaptive pace: time held back, why, and the pace it settled at; null when never throttled. */
  throttle: { ms: number; reasons: string[]; concurrency: number; rate: number | null } | null;
  /** --resume: recorded ids whose payload now builds a different request. */
  changed: { count: number; firstIds: string[]; resent: boolean } | null;
}

/** Why the input stopped a run: the code, a message without location, and where. */
export interface InputError extends ResultError {
  line: number;
  /** The start of the offending source text, when there is one. */
  excerpt: string | null;
}
