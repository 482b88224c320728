// What a Run hands its requests to. The Sender (sender.ts) sends them itself; sender threads (src/threads) hand
// them to Senders on other threads, distributed runs (src/queue) put them on a queue for workers that each run a
// Sender of their own. test/request-sink.contract.test.ts holds every implementation to this contract.
import type { RetryPolicy } from './retry.js';
import type { OutgoingRequest, Result, TransportResponse } from './types.js';

export interface SubmitOptions {
  /** Requests with the same key are never in flight together and start in submission order (--serialize-by). */
  key?: string;
  /** Carried into the result (see Result.hash). */
  hash?: string;
  /** This request's retry policy instead of the sender's (serve: each $batch item has its own method and headers). */
  policy?: RetryPolicy;
  /** Queue priority, higher first (default 0; retries go at 1). Serve interleaves concurrent batches with it. */
  priority?: number;
  /**
   * Once aborted, the request is dropped (settled null) unless an attempt is already in flight. Checked, not
   * listened to.
   */
  signal?: AbortSignal;
  /** No --transform and no --expect: `response` is the parsed body (serve's $batch answers with the body itself). */
  raw?: boolean;
}

/**
 * Called once per submitted request: its Result, or null when a stop or abort dropped it unfinished; with the last
 * HTTP answer, when there was one.
 */
export type OnSettled = (result: Result | null, id: string, response?: TransportResponse | null) => void;

export interface RequestSink {
  submit(id: string, request: OutgoingRequest, settled: OnSettled, options?: SubmitOptions): void;
  /** True while the submitter should wait for `room()` before submitting more. */
  full(highWater: number): boolean;
  room(): Promise<void>;
  /** Graceful: nothing new starts; what was submitted and not started settles as null. */
  stop(): void;
  /** Hard: also cancels what is in flight (settles as null). */
  abort(): void;
  /** The work is done: release timers and bookkeeping. Idempotent. */
  close(): void;
}
