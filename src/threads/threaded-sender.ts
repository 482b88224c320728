// --threads N: the run's requests are sent by N sender threads (worker_threads), each a local Sender with its own
// undici pools, while the main thread reads payloads, builds requests and writes results. The main thread hands
// each request to the thread with the fewest outstanding, or, with --serialize-by, always to the thread its key
// hashes to. Exactness across threads:
// - --serialize-by: all requests of a key go to one thread, in submission order (a thread reads its messages in the
//   order they were posted), and that thread's Sender holds the key (KeyGate) as a local run's does. Keys are not
//   gated here: each next request of a key would wait for a message from a thread and one back, and the key table
//   would sit on the main thread, the one the threads exist to relieve. The main thread only waits for room
//   (Backpressure): its backlog, every request outstanding at the threads, includes those held behind a key.
// - concurrency: each thread gets a share and its Sender never exceeds it; the shares add up to --concurrency.
// - rate: each thread paces rate/N on a grid offset by 1/rate from the previous thread's, so the starts of all
//   threads interleave evenly.
// - adaptive pace: a thread that sees a 429/503 or a quota header tells the main thread, which relays it to the
//   others; every thread then pauses until the same moment and halves its share, as one Sender would.
// - results: every request settles exactly once, on the main thread, through the callback it was submitted with.
// - kill -9: a thread's request keeps its slot until the main thread has handed its result to the kernel (the
//   'recorded' message), so a killed run has never started more requests than --concurrency without recording them.
// A thread that dies settles its outstanding requests as unfinished (not recorded: --resume sends them again),
// stops the run, and `failure` says why.
import { Worker } from 'node:worker_threads';
import type { AuthRefresher } from '../engine/auth.js';
import { BatchpostError } from '../engine/errors.js';
import { Backpressure } from '../engine/key-gate.js';
import type { OnSettled, RequestSink, SubmitOptions } from '../engine/request-sink.js';
import type { SenderConfig } from '../engine/sender-config.js';
import type { OutgoingRequest, Result, RunStats, Throttle } from '../engine/types.js';
import type { TransportConfig } from '../transport/config.js';
import {
  readSettled,
  RequestWriter,
  type FromThread,
  type ThreadCounters,
  type ThreadSetup,
  type ToThread,
} from './protocol.js';

/** Flush a thread's outbox at once past this many requests, whatever the turn: bounds a message's size. */
const MAX_OUTBOX = 512;
/** After close, a thread gets this long to finish and exit before it is terminated. */
const EXIT_GRACE_MS = 10_000;

interface Thread {
  worker: Worker;
  /** Submitted to this thread and not settled yet. */
  pending: Map<string, OnSettled>;
  outbox: RequestWriter;
  /** Results received from this thread and not yet reported back as recorded. */
  unrecorded: number;
  counters: ThreadCounters;
  exited: Promise<void>;
  dead: boolean;
}

export class ThreadedSender implements RequestSink {
  private readonly threads: Thread[];
  private outstanding = 0;
  private flushScheduled = false;
  private recordedScheduled = false;
  /** The submitter goes on once about twice the concurrency is outstanding. */
  private readonly backpressure = new Backpressure(() => this.outstanding <= 2 * this.concurrency);
  private stopping = false;
  private closed = false;
  private readonly concurrency: number;
  private readonly unsubscribe: (() => void) | null;
  /** Why a sender thread died, if one did. */
  failure: Error | null = null;

  constructor(
    config: SenderConfig,
    transport: TransportConfig,
    count: number,
    private readonly stats: Pick<RunStats, 'started' | 'inFlight' | 'retries' | 'throttle'>,
    /** The thread's script: sender-thread.js (tests give one that fails). */
    private readonly script: URL = new URL('./sender-thread.js', import.meta.url),
    /** --auth-command's refresher: it runs here, once for all threads, and its headers are sent to each. */
    private readonly auth: AuthRefresher | null = null,
  ) {
    this.concurrency = config.concurrency;
    const n = Math.max(1, Math.min(count, config.concurrency));
    const spacingMs = config.rate === null ? 0 : 1000 / config.rate;
    const epoch = performance.timeOrigin + performance.now();
    this.threads = Array.from({ length: n }, (_, i) => {
      const share: SenderConfig = {
        ...config,
        concurrency: Math.floor(config.concurrency / n) + (i < config.concurrency % n ? 1 : 0),
        rate: config.rate === null ? null : config.rate / n,
      };
      return this.spawn({
        config: share,
        transport: { ...transport, connections: share.concurrency },
        paceAt: epoch + i * spacingMs,
        auth: auth?.current() ?? null,
      });
    });
    this.unsubscribe = auth?.subscribe((a) => this.broadcast({ t: 'auth', auth: a })) ?? null;
    if (config.adaptive) {
      stats.throttle = {
        active: false,
        reasons: [],
        since: 0,
        totalMs: 0,
        concurrency: config.concurrency,
        rate: config.rate,
      };
    }
  }

  get size(): number {
    return this.threads.length;
  }

  submit(id: string, request: OutgoingRequest, settled: OnSettled, options: SubmitOptions = {}): void {
    if (this.stopping) return settled(null, id);
    const thread =
      options.key === undefined ? this.leastBusy() : this.threads[hashOf(options.key) % this.threads.length]!;
    if (thread.dead) return settled(null, id);
    thread.pending.set(id, settled);
    this.outstanding++;
    thread.outbox.push(id, request, options.key, options.hash);
    if (thread.outbox.count >= MAX_OUTBOX) this.flushThread(thread);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Enough requests wait (beyond those that can be in flight) that the reader should pause. */
  full(highWater: number): boolean {
    return this.backpressure.full(this.outstanding >= highWater + this.concurrency);
  }

  room(): Promise<void> {
    return this.backpressure.room();
  }

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.flush();
    this.broadcast({ t: 'stop' });
  }

  abort(): void {
    this.stop();
    this.broadcast({ t: 'abort' });
  }

  /** Everything has settled: the threads close their pools and exit (see `exited`). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.flush();
    this.broadcast({ t: 'close' });
    // The run's summary is read now: an episode of adaptive pace still open ends here, as a local Sender's would.
    const th = this.stats.throttle;
    if (th?.active) {
      th.active = false;
      th.totalMs += Date.now() - th.since;
    }
  }

  /** Resolves when every thread has exited (closed, or terminated after a grace period). Idempotent. */
  exited(): Promise<void> {
    this.close();
    return Promise.all(
      this.threads.map((t) => {
        const timer = setTimeout(() => void t.worker.terminate(), EXIT_GRACE_MS);
        return t.exited.finally(() => clearTimeout(timer));
      }),
    ).then(() => undefined);
  }

  private spawn(setup: ThreadSetup): Thread {
    const worker = new Worker(this.script, { workerData: setup });
    const thread: Thread = {
      worker,
      pending: new Map(),
      outbox: new RequestWriter(),
      unrecorded: 0,
      counters: { started: 0, inFlight: 0, retries: 0, throttle: null },
      exited: new Promise((resolve) => worker.once('exit', () => resolve())),
      dead: false,
    };
    worker.on('message', (m: FromThread) => this.onMessage(thread, m));
    worker.on('error', (err) => this.onDeath(thread, err));
    worker.once('exit', (code) => {
      if (thread.pending.size > 0 || (!this.closed && !thread.dead))
        this.onDeath(thread, new Error(`sender thread exited with code ${code}`));
    });
    return thread;
  }

  private leastBusy(): Thread {
    let best = this.threads[0]!;
    for (let i = 1; i < this.threads.length; i++)
      if (this.threads[i]!.pending.size < best.pending.size) best = this.threads[i]!;
    return best;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const t of this.threads) if (t.outbox.count > 0) this.flushThread(t);
  };

  private flushThread(t: Thread): void {
    const requests = t.outbox.take();
    if (!t.dead) t.worker.postMessage({ t: 'submit', requests } satisfies ToThread);
  }

  private broadcast(m: ToThread, except?: Thread): void {
    for (const t of this.threads) if (t !== except && !t.dead) t.worker.postMessage(m);
  }

  private onMessage(thread: Thread, m: FromThread): void {
    if (m.t === 'signal') return this.broadcast({ t: 'relay', pausedUntil: m.pausedUntil, reasons: m.reasons }, thread);
    if (m.t === 'auth-refresh') return this.refreshAuth(thread, m.stale);
    thread.counters = m.counters;
    this.count();
    const pending = thread.pending;
    let results = 0;
    readSettled(m.items, (id, line) => {
      if (line !== null) results++;
      const settled = pending.get(id);
      if (settled === undefined) return;
      pending.delete(id);
      this.outstanding--;
      settled(line === null ? null : (JSON.parse(line) as Result), id);
    });
    this.backpressure.notify();
    if (results === 0) return;
    thread.unrecorded += results;
    if (!this.recordedScheduled) {
      this.recordedScheduled = true;
      setImmediate(this.recorded);
    }
  }

  /**
   * Tells each thread how many of its results are now in the kernel's hands. The `settled` callbacks wrote them to
   * the results writer, which hands what it holds to the kernel in a setImmediate queued at the first write of the
   * turn (src/output/line-writer.ts); this one was queued after it, and immediates run in order.
   */
  private readonly recorded = (): void => {
    this.recordedScheduled = false;
    for (const t of this.threads) {
      if (t.unrecorded === 0) continue;
      if (!t.dead) t.worker.postMessage({ t: 'recorded', n: t.unrecorded } satisfies ToThread);
      t.unrecorded = 0;
    }
  };

  /**
   * A thread saw a 401: one refresh for all (AuthRefresher joins requests for the same generation); every thread
   * gets the new headers through the subscription, and a thread that asked about an older generation gets the
   * current ones now.
   */
  private refreshAuth(thread: Thread, stale: number): void {
    if (this.auth === null) return;
    this.auth.refresh(stale).then(
      (a) => {
        if (a.generation > stale && !thread.dead) thread.worker.postMessage({ t: 'auth', auth: a } satisfies ToThread);
      },
      (err: Error) => this.broadcast({ t: 'auth-failed', message: err.message }),
    );
  }

  /** The run's counters: the sum of the threads'. */
  private count(): void {
    let started = 0;
    let inFlight = 0;
    let retries = 0;
    for (const t of this.threads) {
      started += t.counters.started;
      inFlight += t.counters.inFlight;
      retries += t.counters.retries;
    }
    this.stats.started = started;
    this.stats.inFlight = inFlight;
    this.stats.retries = retries;
    if (this.stats.throttle !== null && !this.closed)
      mergeThrottle(
        this.stats.throttle,
        this.threads.map((t) => t.counters.throttle),
      );
  }

  private onDeath(thread: Thread, err: Error): void {
    if (thread.dead) return;
    thread.dead = true;
    this.failure ??= new BatchpostError(
      'THREAD_FAILED',
      `a sender thread failed: ${err.message}`,
      'Add --resume to send what it had not finished.',
    );
    thread.counters = { ...thread.counters, inFlight: 0 };
    this.count();
    this.stop();
    const lost = [...thread.pending];
    thread.pending.clear();
    this.outstanding -= lost.length;
    for (const [id, settled] of lost) settled(null, id);
    this.backpressure.notify();
  }
}

/** One view of the threads' adaptive pace, for displays and the summary. */
function mergeThrottle(into: Throttle, parts: (Throttle | null)[]): void {
  let active = false;
  let since = Infinity;
  let totalMs = 0;
  let concurrency = 0;
  let rate: number | null = null;
  for (const p of parts) {
    if (p === null) continue;
    if (p.active) {
      active = true;
      since = Math.min(since, p.since);
    }
    totalMs = Math.max(totalMs, p.totalMs);
    concurrency += p.concurrency;
    if (p.rate !== null) rate = (rate ?? 0) + p.rate;
    for (const r of p.reasons) if (!into.reasons.includes(r)) into.reasons.push(r);
  }
  into.active = active;
  if (active) into.since = since;
  into.totalMs = totalMs;
  into.concurrency = concurrency;
  into.rate = rate === null ? null : Math.round(rate * 10) / 10;
}

/** FNV-1a: spreads --serialize-by keys over the threads, the same key always to the same thread. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
