// What one BullMQ job of batch jobs carries: a few lines of one batch, each ready to send (the upstream URL is
// the same for every line of a batch). Workers need no access to --data-dir.
import type { HeaderMap } from '../engine/types.js';

export interface JobLine {
  /** Line number in the input file: the line's key in the batch's results. */
  n: number;
  /** custom_id */
  c: string;
  /** The body as JSON text. */
  d: string;
}

export interface LinesJob {
  /** Batch id. */
  b: string;
  /** Full upstream URL. */
  u: string;
  l: JobLine[];
}

/** What serve publishes in Redis for every sender (its own and `batchpost worker`s). */
export interface JobsConfig {
  v: 1;
  /** The sender and transport settings, as distributed runs carry them (src/queue/config.ts). */
  run: string;
  /** Request headers every line carries (-H, Content-Type). */
  headers: HeaderMap;
  /** Add Idempotency-Key: <batch id>-<custom_id> (--idempotency-key). */
  idempotencyKey: boolean;
}
