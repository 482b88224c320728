// A Sender's choices as plain data (expressions as source text), so they can cross to another thread or process
// and be compiled there: sender threads (src/threads) and distributed workers (src/queue) build their Senders from
// it, a local run compiles it in place. Which options travel is the option table's to say (`sender` entries).
import { compileExpr } from '../expr/index.js';
import type { SenderKey } from '../options/types.js';
import { SENDER_KEYS } from '../options/values.js';
import { hasHeader } from './headers.js';
import type { ResolvedOptions } from './options.js';
import { IDEMPOTENT_METHODS, RETRY_DEFAULTS, type RetryPolicy } from './retry.js';
import type { SenderOptions } from './sender.js';

/** An absent value as null: JSON (a distributed run's config in Redis) would drop an undefined one. */
type Plain<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

export type SenderConfig = Plain<Pick<ResolvedOptions, SenderKey>> & { policy: RetryPolicy };

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

/** The sender fields of `from` and its policy, nothing else (a worker's config holds more). */
function senderPart(from: ResolvedOptions | SenderConfig, policy: RetryPolicy): SenderConfig {
  const config: Record<string, unknown> = { policy };
  for (const key of SENDER_KEYS) config[key] = from[key] ?? null;
  return config as SenderConfig;
}

export function senderConfigOf(o: ResolvedOptions): SenderConfig {
  return senderPart(o, retryPolicyOf(o));
}

export function compileSender(c: SenderConfig): SenderOptions {
  return {
    ...senderPart(c, c.policy),
    transform: c.transform === null ? null : compileExpr(c.transform, '--transform'),
    expect: c.expect === null ? null : { source: c.expect, fn: compileExpr(c.expect, '--expect') },
  };
}

/** What a Sender needs of a run's options, expressions compiled. */
export const senderOptionsOf = (o: ResolvedOptions): SenderOptions => compileSender(senderConfigOf(o));
