// What the main thread and its sender threads say to each other (see threaded-sender.ts). Requests and results
// travel in flat arrays of strings, many per message: one postMessage per event-loop turn and direction, not one
// per request. Strings because cloning an object graph costs a sender thread several times what JSON text costs
// to write and the main thread to parse: a Result travels as its result line, a request's headers only when they
// differ from the previous request's (on the plain path every request shares one headers object).
import type { AuthHeaders } from '../engine/auth.js';
import type { SenderConfig } from '../engine/sender-config.js';
import type { HeaderMap, OutgoingRequest, Throttle } from '../engine/types.js';
import type { TransportConfig } from '../transport/config.js';

/** What a sender thread is started with (workerData). */
export interface ThreadSetup {
  /** This thread's share: its concurrency and rate add up with the others' to the run's. */
  config: SenderConfig;
  /** How this thread connects: the run's, with as many connections as its concurrency share. */
  transport: TransportConfig;
  /** An epoch time (ms) one of its paced starts falls on: threads sharing one --rate interleave (see Pacer). */
  paceAt: number;
  /** --auth-command's headers now; null without it. The main thread runs the command, for all threads. */
  auth: AuthHeaders | null;
}

/**
 * The requests of a `submit` message: per request, in this order, id, method, url, headers (null: the previous
 * request's), body, key, hash. Flat, not an object per request: cheaper to build, clone and read. Written only by
 * RequestWriter and read only by RequestReader, so the layout lives here alone.
 */
export type RequestBatch = (string | HeaderMap | OutgoingRequest['body'] | undefined)[];

const REQUEST_FIELDS = 7;

/** Builds one thread's next RequestBatch; remembers the headers that thread last got. */
export class RequestWriter {
  private batch: RequestBatch = [];
  private lastHeaders: HeaderMap | null = null;

  /** Requests written since the last `take`. */
  get count(): number {
    return this.batch.length / REQUEST_FIELDS;
  }

  push(id: string, request: OutgoingRequest, key: string | undefined, hash: string | undefined): void {
    const headers = request.headers === this.lastHeaders ? null : (this.lastHeaders = request.headers);
    this.batch.push(id, request.method, request.url, headers, request.body, key, hash);
  }

  /** The batch so far, for a message; the writer starts a new one. */
  take(): RequestBatch {
    const batch = this.batch;
    this.batch = [];
    return batch;
  }
}

/** What a thread does with each request it is handed. */
export type OnRequest = (
  id: string,
  request: OutgoingRequest,
  key: string | undefined,
  hash: string | undefined,
) => void;

/** A thread's reading side of RequestWriter: the headers last sent stay for the requests that send null. */
export class RequestReader {
  private headers: HeaderMap = {};

  /** Calls `each` for every request of `batch`, in order. */
  read(batch: RequestBatch, each: OnRequest): void {
    for (let i = 0; i < batch.length; i += REQUEST_FIELDS) {
      const headers = batch[i + 3] as HeaderMap | null;
      if (headers !== null) this.headers = headers;
      const request: OutgoingRequest = {
        method: batch[i + 1] as string,
        url: batch[i + 2] as string,
        headers: this.headers,
        body: batch[i + 4] as OutgoingRequest['body'],
      };
      each(batch[i] as string, request, batch[i + 5] as string | undefined, batch[i + 6] as string | undefined);
    }
  }
}

/** Requests settled on a thread: per request its id, then its result line, or null when a stop dropped it. */
export type SettledBatch = (string | null)[];

export function pushSettled(batch: SettledBatch, id: string, line: string | null): void {
  batch.push(id, line);
}

/** Calls `each` for every settled request of `batch`, in order. */
export function readSettled(batch: SettledBatch, each: (id: string, line: string | null) => void): void {
  for (let i = 0; i < batch.length; i += 2) each(batch[i] as string, batch[i + 1] as string | null);
}

export type ToThread =
  | { t: 'submit'; requests: RequestBatch }
  /** A pace signal another thread's sender saw (adaptive pace acts for the whole run). */
  | { t: 'relay'; pausedUntil: number; reasons: string[] }
  /** The main thread has handed this many of the thread's results to the kernel: their slots are free again. */
  | { t: 'recorded'; n: number }
  | { t: 'stop' }
  | { t: 'abort' }
  /** Nothing more will come: close the transport and exit once everything has been answered. */
  | { t: 'close' }
  /** --auth-command ran again: its new headers. */
  | { t: 'auth'; auth: AuthHeaders }
  /** --auth-command failed: requests waiting for new headers are dropped (the run stops). */
  | { t: 'auth-failed'; message: string };

export interface ThreadCounters {
  started: number;
  inFlight: number;
  retries: number;
  throttle: Throttle | null;
}

export type FromThread =
  /** Requests settled since the last message, and the counters now. */
  | { t: 'settled'; items: SettledBatch; counters: ThreadCounters }
  | { t: 'signal'; pausedUntil: number; reasons: string[] }
  /** A 401 was answered to the auth headers of generation `stale`: newer ones, please. */
  | { t: 'auth-refresh'; stale: number };
