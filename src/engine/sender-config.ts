// A Sender's choices as plain data (expressions as source text), so they can cross to another thread or process
// and be compiled there: sender threads (src/threads) and distributed workers (src/queue) build their Senders from
// it, a local run compiles it in place.
import { compileExpr } from '../expr/index.js';
import { hasHeader } from './headers.js';
import type { ResolvedOptions } from './options.js';
import { IDEMPOTENT_METHODS, RETRY_DEFAULTS, type RetryPolicy } from './retry.js';
import type { SenderOptions } from './sender.js';

export interface SenderConfig {
  concurrency: number;
  rate: number | null;
  timeoutMs: number;
  policy: RetryPolicy;
  transform: string | null;
  expect: string | null;
  includeHeaders: boolean;
  adaptive: boolean;
}

export function retryPolicyOf(o: ResolvedOptions): RetryPolicy {
  const hasKey = o.idempotencyKey || hasHeader(o.headers, 'idempotency-key');
  return {
    retries: o.retries,
    repeatable: o.retryUnsafe || hasKey || IDEMPOTENT_METHODS.has(o.method),
    unrepeatableReason: `${o.method} without an idempotency key`,
    baseDelayMs: o.retryBaseDelayMs,
    maxDelayMs: RETRY_DEFAULTS.maxDelayMs,
    maxRetryAfterMs: o.maxRetryAfterMs,
  };
}

export function senderConfigOf(o: ResolvedOptions): SenderConfig {
  return {
    concurrency: o.concurrency,
    rate: o.rate,
    timeoutMs: o.timeoutMs,
    policy: retryPolicyOf(o),
    transform: o.transform ?? null,
    expect: o.expect ?? null,
    includeHeaders: o.includeHeaders,
    adaptive: o.adaptive,
  };
}

export function compileSender(c: SenderConfig): SenderOptions {
  return {
    concurrency: c.concurrency,
    rate: c.rate,
    timeoutMs: c.timeoutMs,
    policy: c.policy,
    transform: c.transform === null ? null : compileExpr(c.transform, '--transform'),
    expect: c.expect === null ? null : { source: c.expect, fn: compileExpr(c.expect, '--expect') },
    includeHeaders: c.includeHeaders,
    adaptive: c.adaptive,
  };
}

/** What a Sender needs of a run's options, expressions compiled. */
export const senderOptionsOf = (o: ResolvedOptions): SenderOptions => compileSender(senderConfigOf(o));
