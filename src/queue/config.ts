// What a run tells its workers, stored once per run in Redis (QueueKeys.config): everything a worker's Sender needs
// besides the requests themselves, which travel fully built in each job. Expressions travel as source text and
// are compiled by each worker.
import type { ResolvedOptions } from '../engine/options.js';
import { compileSender, senderConfigOf, type SenderConfig } from '../engine/sender-config.js';
import type { SenderOptions } from '../engine/sender.js';
import { requestsPerJob } from './job.js';

/**
 * A worker's Sender choices (SenderConfig: `concurrency` is per worker unless the worker says otherwise, `rate` the
 * global rate BullMQ's limiter enforces, shown in log lines) and what else workers need of the run.
 */
export interface QueueRunConfig extends SenderConfig {
  v: 1;
  /** For workers' log lines: what the run sends to. */
  method: string;
  url: string;
  /** Requests per BullMQ job (see requestsPerJob): workers size their active jobs by it. */
  perJob: number;
}

/** The same choices a local run's Sender gets (see Run's constructor), as data. */
export function configOf(run: ResolvedOptions): QueueRunConfig {
  return {
    v: 1,
    method: run.method,
    url: run.url,
    perJob: requestsPerJob(run.concurrency, run.rate),
    ...senderConfigOf(run),
  };
}

/**
 * A worker's Sender options. No rate of its own: BullMQ's limiter spaces job starts across all workers, so a
 * worker's local pacer would only slow it further.
 */
export function senderOptionsOf(c: QueueRunConfig, concurrency: number): SenderOptions {
  return compileSender({ ...c, concurrency, rate: null });
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
