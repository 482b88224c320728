// Sender threads for `run` (--threads): see threaded-sender.ts for how they keep the run exact.
import { availableParallelism } from 'node:os';

export { ThreadedSender } from './threaded-sender.js';

/**
 * How many sender threads a run gets. --threads N is taken as given (never more than the requests in flight).
 * 'auto' sends from the main thread on machines of up to 2 cores: there, with the upstream on the same machine,
 * sender threads do not pay: no higher rate, more CPU per request for the messages between threads, and more memory
 * per thread (docs/benchmarks.md has the figures). With more cores the main thread, busy reading, sending and
 * writing, is the bottleneck of a fast upstream, so 'auto' gives it senders: one per core beyond the main thread's
 * and one left for the rest of the machine, at most 4.
 */
export function threadsFor(requested: number | 'auto', concurrency: number, cores = availableParallelism()): number {
  const n = requested === 'auto' ? (cores <= 2 ? 0 : Math.min(cores - 2, 4)) : requested;
  return Math.min(n, concurrency);
}
