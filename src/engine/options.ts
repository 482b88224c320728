// The options of a run, as the library takes them (already parsed: numbers, milliseconds). The CLI turns its
// flags into this shape. A field a flag sets takes its default from the option table (src/options/table.ts), so
// the library and the CLI share one; the defaults of the others are here.
import { tableDefaults } from '../options/values.js';
import type { TableDefaults } from '../options/types.js';
import { RETRY_DEFAULTS } from './retry.js';

export interface RunOptions {
  /** Target URL; may hold `{{ expr }}` templates evaluated on each payload. */
  url: string;
  /** HTTP method (default POST). GET and HEAD send no body. */
  method?: string;
  /**
   * Request headers; values may hold `{{ expr }}` templates. Content-Type defaults to application/json, User-Agent
   * to batchpost/<version>. A list sends the header once per value.
   */
  headers?: Record<string, string | string[]>;
  /** JMESPath building the body from the payload (default: the payload itself). */
  body?: string;
  /** JMESPath giving each payload's id (must be unique); default: the 1-based position. */
  idField?: string;
  /**
   * Shell command printing auth headers ("Name: value" lines, or one token: Authorization: Bearer <token>), run
   * through /bin/sh before the first request and again on a 401 (once for all requests that saw the same headers).
   * A failure (AUTH_COMMAND_FAILED) stops the run; runBatch's summary() rejects with it.
   */
  authCommand?: string;
  /** With authCommand: also run it this often (ms). */
  authRefreshMs?: number;
  /** Requests in flight at once (default 10). */
  concurrency?: number;
  /** Starts per second, evenly spaced (default: unpaced). */
  rate?: number | null;
  /** Per-attempt timeout in ms (default 30,000). */
  timeoutMs?: number;
  /** Largest answer body in bytes (default 10 MiB); a larger one fails its request with RESPONSE_TOO_LARGE. */
  maxResponseBytes?: number;
  /** Follow 301/302/303/307/308 redirects as curl -L does (default false: the 3xx is the result). */
  followRedirects?: boolean;
  /** With followRedirects: the most redirects followed per attempt (default 10). */
  maxRedirects?: number;
  /** Extra attempts after the first (default 2). */
  retries?: number;
  /** Cap on a server's Retry-After, ms (default 60,000). */
  maxRetryAfterMs?: number;
  /** Base of the exponential backoff, ms (default 200). */
  retryBaseDelayMs?: number;
  /** Retry timeouts, resets, 500/502/504 even for non-idempotent methods. */
  retryUnsafe?: boolean;
  /**
   * Stop the run when its first this many results all failed to connect (refused, unresolved, connect timeout,
   * TLS) and none got an answer: the target cannot be reached. Unsent payloads stay unrecorded. 0 never stops
   * (the default of runBatch; the CLI's is 20).
   */
  unreachableAfter?: number;
  /** Send an Idempotency-Key per request, derived from runId + id (makes retries safe). */
  idempotencyKey?: boolean;
  /** Names the run for idempotency keys; the same run resumed must keep it. */
  runId?: string;
  /** Add the response headers to each result. */
  includeHeaders?: boolean;
  /** Stream each answer's body to a file in this folder instead of the result (`file` names it). */
  saveResponses?: string;
  /** JMESPath over {status, headers, body} replacing `response`. */
  transform?: string;
  /** JMESPath over {status, headers, body} that a 2xx answer must meet to count as ok (else EXPECTATION_FAILED). */
  expect?: string;
  /** JMESPath on the payload: requests with the same key are never in flight together, and start in input order. */
  serializeBy?: string;
  /** Let 429/503, Retry-After and rate-limit headers slow the whole run (default true). */
  adaptive?: boolean;
  /** Request hashes recorded for skipped ids (--resume): a payload that now builds another request is reported. */
  recordedHashes?: ReadonlyMap<string, string>;
  /** Send recorded ids whose request changed since (default: report them only). */
  resendChanged?: boolean;
  /**
   * What the payloads were read from, for the error codes of unreadable ones (default json). requests: each payload
   * is a whole request `{id?, custom_id?, method?, url, headers?, body?}`; `url` may then be '' (every url absolute).
   */
  inputKind?: 'json' | 'csv' | 'requests';
  /** How the body is sent: json (default: the payload's own text), form (urlencoded object) or text (a string). */
  bodyFormat?: 'json' | 'form' | 'text';
  /** gzip: request bodies go out gzip-compressed with Content-Encoding: gzip (default none). */
  compress?: 'none' | 'gzip';
  /** Record unparseable payloads as failed results instead of stopping. */
  skipInvalid?: boolean;
  /** Ids not to send (already recorded by an earlier run). */
  skipIds?: ReadonlySet<string>;
  /** The ids of skipIds whose recorded result failed. */
  recordedFailed?: ReadonlySet<string>;
  /** Stops the run: nothing new starts and requests in flight are aborted (not recorded). */
  signal?: AbortSignal;
  /**
   * Proxy for every request (http:// or https:// URL; credentials as user:password@); '' for none. Default: the
   * environment's HTTP_PROXY / HTTPS_PROXY / NO_PROXY (lower case first), as curl.
   */
  proxy?: string;
  /** Hosts reached without the proxy, comma-separated as NO_PROXY (added to it): names, .domains, IPs, `*`. */
  noProxy?: string;
  /** PEM text of CAs to trust besides Node's (as --cacert FILE's contents). */
  caCert?: string;
  /** PEM text of a client certificate and its private key (mutual TLS). */
  clientCert?: string;
  clientKey?: string;
  /** The client key's passphrase (default: the BATCHPOST_KEY_PASSPHRASE environment variable). */
  keyPassphrase?: string;
  /** Do not check server certificates (curl -k). */
  insecure?: boolean;
  /** Offer HTTP/2 by ALPN on https URLs; HTTP/1.1 where the server does not take it. */
  http2?: boolean;
}

type OptionalKeys =
  | 'body'
  | 'idField'
  | 'transform'
  | 'expect'
  | 'serializeBy'
  | 'signal'
  | 'proxy'
  | 'noProxy'
  | 'caCert'
  | 'clientCert'
  | 'clientKey'
  | 'keyPassphrase'
  | 'saveResponses'
  | 'authCommand'
  | 'authRefreshMs';
export type ResolvedOptions = Required<Omit<RunOptions, OptionalKeys | 'rate' | 'runId'>> &
  Pick<RunOptions, OptionalKeys> & { rate: number | null; runId: string };

/** Defaults of the fields the command line does not set, or sets without a default of its own. */
function libraryDefaults(): { [K in Exclude<keyof RunOptions, keyof TableDefaults | 'url'>]-?: ResolvedOptions[K] } {
  return {
    body: undefined,
    idField: undefined,
    rate: null,
    retryBaseDelayMs: RETRY_DEFAULTS.baseDelayMs,
    runId: 'batchpost',
    transform: undefined,
    expect: undefined,
    serializeBy: undefined,
    saveResponses: undefined,
    recordedHashes: new Map(),
    inputKind: 'json',
    skipIds: new Set(),
    recordedFailed: new Set(),
    signal: undefined,
    proxy: undefined,
    noProxy: undefined,
    caCert: undefined,
    clientCert: undefined,
    clientKey: undefined,
    keyPassphrase: undefined,
    authCommand: undefined,
    authRefreshMs: undefined,
  };
}

export function resolveOptions(o: RunOptions): ResolvedOptions {
  const r: ResolvedOptions = { url: o.url, ...libraryDefaults(), ...tableDefaults() };
  const given = o as unknown as Record<string, unknown>;
  const into = r as unknown as Record<string, unknown>;
  // Only the fields of RunOptions: a caller's object may hold more (runBatch's transport).
  for (const key of Object.keys(r)) if (given[key] != null) into[key] = given[key];
  r.method = r.method.toUpperCase();
  if (!Number.isInteger(r.retries) || r.retries < 0)
    throw new RangeError(`retries must be a non-negative integer, got ${r.retries}`);
  if (r.rate !== null && !(r.rate > 0)) throw new RangeError(`rate must be positive, got ${r.rate}`);
  positiveInt('concurrency', r.concurrency);
  positiveInt('timeoutMs', r.timeoutMs);
  positiveInt('maxResponseBytes', r.maxResponseBytes);
  return r;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}
