// The library API: the engine without the CLI. `runBatch(payloads, options)` sends every payload and yields one
// result per request as it completes; the CLI is a thin layer over the same Run.
import { resolveOptions, type RunOptions } from './engine/options.js';
import { AuthRefresher } from './engine/auth.js';
import { Run } from './engine/run.js';
import { runAuthCommand } from './util/auth-command.js';
import type { InputRecord, Result, RunStats, Sink, Summary, Transport } from './engine/types.js';
import { isRecordStream } from './input/index.js';
import { createTransport, transportConfigOf } from './transport/index.js';

export type { RunOptions } from './engine/options.js';
export type {
  InputRecord,
  OutgoingRequest,
  Result,
  ResultError,
  RunStats,
  Sink,
  Summary,
  Transport,
  TransportResponse,
} from './engine/types.js';
export { ERROR_CODES, BatchpostError, TransportError, type ErrorCode } from './engine/errors.js';
export { readPayloads } from './input/index.js';

export interface RunBatchOptions extends RunOptions {
  /** Sends the requests; default: undici with one pool per origin. */
  transport?: Transport;
}

export interface BatchRun extends AsyncIterable<Result> {
  /** Live counters (read them on your own clock). */
  readonly stats: RunStats;
  /** Graceful stop: nothing new starts, requests in flight finish and are yielded. `signal` aborts instead. */
  stop(): void;
  /** Resolves when the run is over; results nobody iterated are discarded so the run can finish. */
  summary(): Promise<Summary>;
}

/** Unread results held before the run pauses reading payloads. */
const HIGH_WATER = 1024;

/**
 * Sends each payload (any JSON value) as a request. Iterate the returned object to get results in completion
 * order; the run pauses while more than ~1,000 results wait unread. What `readPayloads` returns is accepted as
 * is: each payload's source text is sent unchanged. The items of any other iterable are payloads, whatever their
 * shape.
 */
export function runBatch(payloads: Iterable<unknown> | AsyncIterable<unknown>, options: RunBatchOptions): BatchRun {
  // Off unless asked for: a library caller would see fewer results than payloads and no reason given.
  const resolved = resolveOptions({ ...options, unreachableAfter: options.unreachableAfter ?? 0 });
  const ownTransport = options.transport === undefined;
  const transport = options.transport ?? createTransport(transportConfigOf(resolved));
  // A consumer that breaks out of its loop is gone: wind the run down rather than send to nobody.
  const channel = new ResultChannel(() => run.stop());
  // authCommand: run before the first request (by the Sender that needs it first); a failure stops the run, and
  // summary() and the iteration reject with it.
  let authFailure: Error | null = null;
  const auth =
    resolved.authCommand === undefined
      ? null
      : new AuthRefresher((signal) => runAuthCommand(resolved.authCommand!, signal), {
          refreshMs: resolved.authRefreshMs ?? null,
          onFailure: (err) => {
            authFailure = err;
            run.stop();
          },
        });
  const run = new Run(resolved, { transport, sink: channel, auth });
  const records = isRecordStream(payloads) ? payloads : toRecords(payloads);
  const summary = run
    .execute(records)
    .then((s) => {
      if (authFailure !== null) throw authFailure;
      return s;
    })
    .finally(async () => {
      auth?.close();
      channel.end();
      if (ownTransport) await transport.close();
    });
  summary.catch(() => {});
  return {
    stats: run.stats,
    stop: () => run.stop(),
    summary: async () => {
      channel.discard();
      return summary;
    },
    [Symbol.asyncIterator]: () => channel.iterator(summary),
  };
}

async function* toRecords(payloads: Iterable<unknown> | AsyncIterable<unknown>): AsyncGenerator<InputRecord> {
  let line = 0;
  for await (const value of payloads) yield { line: ++line, value };
}

/** A Sink the library user pulls from, with backpressure towards the run. */
class ResultChannel implements Sink {
  private readonly buffer: Result[] = [];
  private ended = false;
  private discarding = false;
  private wakeReader: (() => void) | null = null;
  private wakeRun: (() => void) | null = null;
  private paused: Promise<void> | null = null;

  constructor(private readonly onAbandon: () => void) {}

  write(result: Result): void {
    if (this.discarding) return;
    this.buffer.push(result);
    this.wakeReader?.();
  }

  ready(): Promise<void> | null {
    if (this.discarding || this.buffer.length < HIGH_WATER) return null;
    this.paused ??= new Promise((resolve) => (this.wakeRun = resolve));
    return this.paused;
  }

  end(): void {
    this.ended = true;
    this.wakeReader?.();
  }

  discard(): void {
    this.discarding = true;
    this.buffer.length = 0;
    this.resume();
  }

  async close(): Promise<void> {}

  async *iterator(done: Promise<Summary>): AsyncGenerator<Result> {
    let finished = false;
    try {
      for (;;) {
        if (this.buffer.length > 0) {
          const batch = this.buffer.splice(0);
          this.resume();
          yield* batch;
          continue;
        }
        if (this.ended) break;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = null;
      }
      finished = true;
    } finally {
      if (!finished) {
        this.onAbandon();
        this.discard();
      }
    }
    await done;
  }

  private resume(): void {
    const wake = this.wakeRun;
    this.paused = null;
    this.wakeRun = null;
    wake?.();
  }
}
