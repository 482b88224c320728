// What the main thread and its sender threads say to each other (see threaded-sender.ts). Requests and results
// travel in flat arrays of strings, many per message: one postMessage per event-loop turn and direction, not one
// per request. Strings because cloning an object graph costs a sender thread several times what JSON text costs
// to write and the main thread to parse: a Result travels as its result line, a request's headers only when they
// differ from the previous request's (on the plain path every request shares one headers object).
import type { SenderConfig } from '../engine/sender-config.js';
import type { Throttle } from '../engine/types.js';
import type { TransportConfig } from '../transport/config.js';

/** What a sender thread is started with (workerData). */
export interface ThreadSetup {
  /** This thread's share: its concurrency and rate add up with the others' to the run's. */
  config: SenderConfig;
  /** How this thread connects: the run's, with as many connections as its concurrency share. */
  transport: TransportConfig;
  /** An epoch time (ms) one of its paced starts falls on: threads sharing one --rate interleave (see Pacer). */
  paceAt: number;
}

/** Fields per request in a `submit` message: id, method, url, headers (null: the previous request's), body, key, hash. */
export const REQUEST_STRIDE = 7;

export type ToThread =
  | { t: 'submit'; requests: unknown[] }
  /** A pace signal another thread's sender saw (adaptive pace acts for the whole run). */
  | { t: 'relay'; pausedUntil: number; reasons: string[] }
  | { t: 'stop' }
  | { t: 'abort' }
  /** Nothing more will come: close the transport and exit once everything has been answered. */
  | { t: 'close' };

export interface ThreadCounters {
  started: number;
  inFlight: number;
  retries: number;
  throttle: Throttle | null;
}

export type FromThread =
  /** Requests settled since the last message (id, then its result line, or null when a stop dropped it), and the counters now. */
  | { t: 'settled'; items: (string | null)[]; counters: ThreadCounters }
  | { t: 'signal'; pausedUntil: number; reasons: string[] };
