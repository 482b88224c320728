// The retry policy as data plus two pure functions: may this outcome be retried, and after how long.
import { retryClassOf } from './errors.js';

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

export interface RetryPolicy {
  /** Extra attempts after the first. */
  retries: number;
  /** True when repeating a request that may have been processed is safe (idempotent method, key, or told so). */
  repeatable: boolean;
  /** Why it is not repeatable, for the error message: e.g. "POST without an idempotency key". */
  unrepeatableReason: string;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

/** Backoff defaults (the retries and the Retry-After cap are options: their defaults are the option table's). */
export const RETRY_DEFAULTS = { baseDelayMs: 200, maxDelayMs: 10_000 } as const;

export type RetryVerdict = { retry: true } | { retry: false; note: string | null };

/** `attempts` is how many were made so far, including the one that just failed. */
export function shouldRetry(policy: RetryPolicy, code: string, attempts: number): RetryVerdict {
  const cls = retryClassOf(code);
  if (cls === 'never') return { retry: false, note: null };
  if (cls === 'safe' && !policy.repeatable) {
    return {
      retry: false,
      note: `not retried: ${policy.unrepeatableReason} (add --idempotency-key or --retry-unsafe)`,
    };
  }
  if (attempts > policy.retries)
    return { retry: false, note: `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}` };
  return { retry: true };
}

/** Exponential backoff with full jitter, unless the server named a delay (Retry-After), capped by the policy. */
export function retryDelayMs(
  policy: RetryPolicy,
  attempts: number,
  retryAfterMs: number | null,
  random = Math.random,
): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1));
  return random() * ceiling;
}

/** Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3); anything else is ignored. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
