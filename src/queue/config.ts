// What a run tells its workers, stored once per run in Redis (QueueKeys.config): everything a worker's Sender and
// transport need besides the requests themselves, which travel fully built in each job. Expressions travel as
// source text and are compiled by each worker.
import type { ResolvedOptions } from '../engine/options.js';
import { compileSender, senderConfigOf, type SenderConfig } from '../engine/sender-config.js';
import type { SenderOptions } from '../engine/sender.js';
import { transportConfigOf, type TransportConfig } from '../transport/config.js';
import { requestsPerJob } from './job.js';

/**
 * The shape of QueueRunConfig. A worker that misread a run's config would send differently from what the run asked,
 * so run and workers must agree on it: anything a worker must understand (a field here, in SenderConfig or in
 * TransportConfig) raises it, and a worker refuses a config of another version (parseRunConfig).
 */
export const QUEUE_CONFIG_VERSION = 3;

/**
 * A worker's Sender choices (SenderConfig: `concurrency` is per worker unless the worker says otherwise, `rate` the
 * global rate BullMQ's limiter enforces, shown in log lines) and what else workers need of the run.
 */
export interface QueueRunConfig extends SenderConfig {
  v: typeof QUEUE_CONFIG_VERSION;
  /** For workers' log lines: what the run sends to. */
  method: string;
  url: string;
  /** Requests per BullMQ job (see requestsPerJob): workers size their active jobs by it. */
  perJob: number;
  /** How workers connect: the run's choices, `connections` replaced by each worker's concurrency (transportOf). */
  transport: TransportConfig;
}

/** The same choices a local run's Sender gets (see Run's constructor), as data. */
export function configOf(run: ResolvedOptions): QueueRunConfig {
  return {
    v: QUEUE_CONFIG_VERSION,
    method: run.method,
    url: run.url,
    perJob: requestsPerJob(run.concurrency, run.rate),
    ...senderConfigOf(run),
    transport: transportConfigOf(run),
  };
}

/** A run's config as stored in Redis (QueueKeys.config `json`); throws when another batchpost version wrote it. */
export function parseRunConfig(json: string): QueueRunConfig {
  const config = JSON.parse(json) as { v?: unknown };
  if (config.v !== QUEUE_CONFIG_VERSION)
    throw new Error(
      `the run was queued by another batchpost version (config v${String(config.v)}); use the same version for run and workers`,
    );
  return config as QueueRunConfig;
}

/**
 * A worker's Sender options. No rate of its own: BullMQ's limiter spaces job starts across all workers, so a
 * worker's local pacer would only slow it further.
 */
export function senderOptionsOf(c: QueueRunConfig, concurrency: number): SenderOptions {
  return compileSender({ ...c, concurrency, rate: null });
}

/** A worker's transport: the run's, with as many connections as the worker keeps requests in flight. */
export function transportOf(c: QueueRunConfig, concurrency: number): TransportConfig {
  return { ...c.transport, connections: concurrency };
}

/**
 * --rate as BullMQ's limiter: at most `max` job starts per fixed window of `duration` ms, shared by every worker.
 * Windows are whole milliseconds, so a window of 1000/rate ms is rounded up (the real rate is never above the one
 * asked). One start per window while that rounding keeps the rate within 3 % (every rate up to 33/s, and many
 * above); else the fewest starts per window (windows of 10 to about 50 ms) that do, or come closest.
 */
export function limiterOf(rate: number): { max: number; duration: number } {
  const durationOf = (max: number) => Math.ceil((1000 * max) / rate);
  const errorOf = (max: number) => (durationOf(max) * rate) / (1000 * max) - 1;
  let best: number | null = null;
  const last = Math.max(Math.ceil(rate / 100) + 9, Math.ceil(rate / 20));
  for (let max = 1; max <= last; max++) {
    if (durationOf(max) < 10 && max < last) continue; // windows under 10 ms: let more starts share one
    if (errorOf(max) <= 0.03) return { max, duration: durationOf(max) };
    if (best === null || errorOf(max) < errorOf(best)) best = max;
  }
  return { max: best!, duration: durationOf(best!) };
}
