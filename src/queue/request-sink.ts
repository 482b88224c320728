// The run's side of a distributed run: a RequestSink that, instead of sending, puts each built request on a BullMQ
// queue and settles it with the Result a worker stores. Requests go in chunks (addBulk), never more than
// `maxOutstanding` at a time (backpressure: the input is read as fast as workers finish, never held whole).
// Results arrive on a Redis stream the run reads; workers also keep each one in a hash until the run has recorded
// it, so a run restarted with --resume collects what finished while it was away.
import type { Queue } from 'bullmq';
import { BatchpostError } from '../engine/errors.js';
import { KeyGate } from '../engine/key-gate.js';
import type { OnSettled, RequestSink, SubmitOptions } from '../engine/request-sink.js';
import type { OutgoingRequest, Result, RunStats } from '../engine/types.js';
import { failedJobResult, idsOf, jobOf, parseResult } from './job.js';
import type { QueueKeys } from './names.js';
import { watchAnswers, WORKER_ALIVE_MS, type BpRedis } from './redis.js';

/** Requests per addBulk (and per HMGET when looking for stored results). */
const CHUNK = 500;
const POLL_MS = 1_000;
const CLEANUP_MS = 250;

export interface QueueRequestSinkOptions {
  name: string;
  queue: Queue;
  /** Commands. */
  redis: BpRedis;
  /** Its own connection: blocking reads of the results stream. */
  reader: BpRedis;
  keys: QueueKeys;
  gen: string;
  stats: RunStats;
  /** Most requests on the queue (or on their way) at once. */
  maxOutstanding: number;
  /** Requests per BullMQ job. */
  perJob: number;
  /** Resumed: results may already be stored, and these ids are still on the queue from the interrupted run. */
  resumed: boolean;
  adopted: ReadonlySet<string>;
  /** A human line on stderr (through the progress display). */
  note: (message: string) => void;
  /** The command that starts a worker for this run, for the "waiting for a worker" note. */
  workerCommand: string;
  /** `host:port` of the Redis, for messages (never its password). */
  where: string;
}

interface Entry {
  id: string;
  request: OutgoingRequest;
  settled: OnSettled;
  hash: string | undefined;
  key: string | undefined;
}

export class QueueRequestSink implements RequestSink {
  /** Submitted and not settled: in `buffer`, or on the queue. */
  private readonly pending = new Map<string, Entry>();
  /** Not yet on the queue. */
  private buffer: Entry[] = [];
  /**
   * --serialize-by across every worker: a key's next request goes on the queue once the last one settled. And the
   * submitter's wait: it goes on once a quarter of `maxOutstanding` has settled.
   */
  private readonly gate: KeyGate<Entry>;
  private flushing = false;
  private stopping = false;
  private aborted = false;
  private closed = false;
  /** Recorded results whose stored copies may go once their lines are written (two cleanup ticks later). */
  private collected: string[] = [];
  private collectedPrev: string[] = [];
  private lastEntry = '0';
  private trimPrev = '0';
  private trimmed = '0';
  private workers = -1;
  /** Polls in a row that found no worker: one can be a worker still starting up. */
  private idlePolls = 0;
  private waitingNoted = false;
  private redisDown: string | null = null;
  private redisError: string | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unwatch: () => void;
  /**
   * Set when Redis lost the run's queue (QUEUE_LOST) or stopped answering (QUEUE_UNAVAILABLE): the run stopped, and
   * --resume continues it.
   */
  failure: BatchpostError | null = null;

  constructor(private readonly o: QueueRequestSinkOptions) {
    this.gate = new KeyGate(() => this.pending.size <= (o.maxOutstanding * 3) / 4);
    const poll = setInterval(() => void this.poll(), POLL_MS);
    const cleanup = setInterval(() => void this.cleanup(), CLEANUP_MS);
    poll.unref();
    cleanup.unref();
    this.timers.push(poll, cleanup);
    // Redis silent for UNANSWERED_MS: the run would wait for ever, so it stops like lost().
    this.unwatch = watchAnswers(o.redis, (silentMs) => this.unavailable(silentMs));
    void this.readLoop();
  }

  /** True when every request submitted was settled with a result and nothing stopped the run: its keys may go. */
  get completed(): boolean {
    return !this.stopping && this.pending.size === 0 && this.gate.waiting === 0;
  }

  /** Redis went away or came back (from the connection's events). */
  redisState(up: boolean, error?: string): void {
    this.redisDown = up ? null : `Redis unreachable${error ? ` (${error})` : ''}, reconnecting`;
    this.updateHold();
  }

  submit(id: string, request: OutgoingRequest, settled: OnSettled, options: SubmitOptions = {}): void {
    if (this.stopping) return settled(null, id);
    const entry: Entry = { id, request, settled, hash: options.hash, key: options.key };
    if (entry.key !== undefined && !this.gate.admit(entry.key, entry)) return; // held until its key's request settles
    this.enqueue(entry);
  }

  /** `maxOutstanding` bounds what the queue holds, whatever the run's high-water mark. */
  full(): boolean {
    return this.gate.full(this.pending.size >= this.o.maxOutstanding);
  }

  room(): Promise<void> {
    return this.gate.room();
  }

  /**
   * Graceful: nothing new goes on the queue, and the queue is paused so workers start nothing more of it; requests
   * workers are sending finish and are recorded; the rest stay queued (settled null here) for --resume.
   */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    // Requests behind a busy key first, so settling the buffer does not move them into it.
    for (const entry of this.gate.clear()) entry.settled(null, entry.id);
    for (const entry of this.buffer.splice(0)) this.finish(entry, null);
    void this.drain();
  }

  /** Hard: settle everything now; what workers are sending still finishes there and is kept for --resume. */
  abort(): void {
    this.stop();
    this.aborted = true;
    for (const entry of [...this.pending.values()]) this.finish(entry, null);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.unwatch();
    this.o.stats.hold = null;
    this.o.reader.disconnect();
  }

  private enqueue(entry: Entry): void {
    this.pending.set(entry.id, entry);
    this.buffer.push(entry);
    if (!this.flushing) {
      this.flushing = true;
      // One turn later: the reader submits a burst synchronously, and it goes in one addBulk.
      setImmediate(() => void this.flushLoop());
    }
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.buffer.length > 0 && !this.stopping) {
        const chunk = this.buffer.splice(0, CHUNK);
        for (;;) {
          try {
            await this.add(chunk);
            this.redisError = null;
            break;
          } catch (err) {
            // A refusal, not an outage (ioredis waits those out): say so and try again; Ctrl-C stops the run.
            if (this.redisError === null)
              this.say(`batchpost: Redis refused to queue requests: ${(err as Error).message}; retrying`);
            this.redisError = `Redis refused: ${(err as Error).message}`;
            this.updateHold();
            await sleep(1_000);
            if (this.stopping) return this.settleUnqueued(chunk);
          }
        }
      }
    } finally {
      this.flushing = false;
      if (this.buffer.length > 0 && !this.stopping) {
        this.flushing = true;
        setImmediate(() => void this.flushLoop());
      }
    }
  }

  private async add(chunk: Entry[]): Promise<void> {
    let live = chunk.filter((e) => this.pending.get(e.id) === e);
    if (this.o.resumed && live.length > 0) {
      // Finished while no run was collecting: recorded from the stored copy, never sent again.
      const stored = await this.o.redis.hmget(this.o.keys.results, ...live.map((e) => e.id));
      live.forEach((e, i) => {
        const json = stored[i];
        if (json != null) this.deliver(e.id, json);
      });
      live = live.filter((e) => this.pending.get(e.id) === e);
    }
    if (this.stopping) return this.settleUnqueued(live);
    const fresh = live.filter((e) => !this.o.adopted.has(e.id));
    if (fresh.length === 0) return;
    const jobs = [];
    for (let i = 0; i < fresh.length; i += this.o.perJob)
      jobs.push(jobOf(fresh.slice(i, i + this.o.perJob), this.o.gen));
    await this.o.queue.addBulk(jobs);
  }

  private settleUnqueued(entries: Entry[]): void {
    for (const e of entries) if (this.pending.get(e.id) === e) this.finish(e, null);
  }

  /** Results as workers announce them. Entries for ids not pending (duplicates, or not yet re-submitted) are skipped. */
  private async readLoop(): Promise<void> {
    const { reader, keys } = this.o;
    while (!this.closed) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = await reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', keys.done, this.lastEntry);
      } catch {
        if (this.closed) return;
        await sleep(200);
        continue;
      }
      if (reply === null) continue;
      for (const [, entries] of reply) {
        for (const [entryId, fields] of entries) {
          this.lastEntry = entryId;
          const id = fieldOf(fields, 'i');
          const json = fieldOf(fields, 'r');
          if (id !== null && json !== null) this.deliver(id, json);
        }
      }
    }
  }

  private deliver(id: string, json: string): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.finish(entry, parseResult(id, json));
  }

  private finish(entry: Entry, result: Result | null): void {
    this.pending.delete(entry.id);
    const stats = this.o.stats;
    if (result !== null) {
      this.collected.push(entry.id);
      stats.started++;
      stats.retries += Math.max(0, result.attempts - 1);
      if (this.idlePolls > 0) this.workerArrived();
    }
    if (entry.key !== undefined) {
      const next = this.gate.release(entry.key);
      if (next !== undefined) this.enqueue(next);
    }
    entry.settled(result, entry.id);
    this.gate.notify();
  }

  /** Once a second: are workers there, how many requests are they sending, did BullMQ give up on any. */
  private async poll(): Promise<void> {
    if (this.closed || this.redisDown !== null) return;
    const { redis, queue, keys } = this.o;
    try {
      const [gen, workers, active, failed] = await Promise.all([
        redis.hget(keys.config, 'gen'),
        redis.bpLiveWorkers(keys.workers, WORKER_ALIVE_MS) as Promise<number>,
        queue.getActiveCount(),
        queue.getFailedCount(),
      ]);
      if (this.closed) return;
      if (gen !== this.o.gen) return this.lost();
      this.workers = workers;
      this.idlePolls = workers === 0 ? this.idlePolls + 1 : 0;
      this.o.stats.inFlight = this.inFlightOf(active);
      if (failed > 0) await this.collectFailed();
    } catch {
      return; // Redis trouble shows through redisState; the next poll tries again
    }
    const waiting = this.waitingForWorkers();
    if (waiting && !this.waitingNoted) {
      this.waitingNoted = true;
      this.say(
        `batchpost: no worker is serving queue ${this.o.name} yet; waiting. Start one with:\n  ${this.o.workerCommand}`,
      );
    } else if (this.workers > 0) {
      this.workerArrived();
    }
    this.updateHold();
  }

  /**
   * The run's config is gone from Redis (or belongs to another run): Redis restarted without persistence, or the
   * keys were deleted. Queued requests and stored results went with it and workers dropped the run, so waiting
   * would be for ever: stop, settling what has no result as unsent, for --resume.
   */
  private lost(): void {
    const open = this.pending.size + this.gate.waiting;
    this.fail(
      new BatchpostError(
        'QUEUE_LOST',
        `Redis lost queue ${this.o.name} while the run was going (${open} request${open === 1 ? '' : 's'} without a result): the run's keys are gone, as after a Redis restart without persistence; workers stopped serving it`,
        'Continue with --resume: what is recorded stays, the rest is queued again. Keep Redis with appendonly yes to survive restarts.',
      ),
    );
  }

  private unavailable(silentMs: number): void {
    if (this.closed) return;
    const open = this.pending.size + this.gate.waiting;
    const why = this.redisDown !== null ? ` (${this.redisDown})` : '';
    // After Ctrl-C the run waits for what workers are sending: a frozen Redis would make that wait endless.
    const when = this.stopping ? ' while the run was stopping' : '';
    this.fail(
      new BatchpostError(
        'QUEUE_UNAVAILABLE',
        `Redis at ${this.o.where} for queue ${this.o.name} did not answer for ${Math.round(silentMs / 1000)}s${when}${why}; the run stopped (${open} request${open === 1 ? '' : 's'} without a result)`,
        'Bring Redis back (a stopped or frozen server, a network cut), then continue with --resume: what is recorded stays.',
      ),
    );
  }

  /** Stops the run at once for `error`, settling what has no result as unsent; also ends a graceful stop's wait. */
  private fail(error: BatchpostError): void {
    if (this.failure !== null || this.aborted) return;
    this.failure = error;
    this.stopping = true;
    this.aborted = true;
    for (const entry of this.gate.clear()) entry.settled(null, entry.id);
    for (const entry of this.buffer.splice(0)) this.finish(entry, null);
    for (const entry of [...this.pending.values()]) this.finish(entry, null);
    this.o.stats.hold = null;
  }

  /** A worker showed up (a heartbeat, or a result came before the next poll): the wait is over. */
  private workerArrived(): void {
    this.idlePolls = 0;
    if (this.waitingNoted) {
      this.waitingNoted = false;
      const n = Math.max(1, this.workers);
      this.say(`batchpost: ${n} worker${n === 1 ? '' : 's'} serving queue ${this.o.name}`);
    }
    this.updateHold();
  }

  /** Requests workers hold (all of their active jobs' requests get sent), at most what is pending. */
  private inFlightOf(activeJobs: number): number {
    return Math.min(this.pending.size, activeJobs * this.o.perJob);
  }

  /** A line for the user; straight to stderr if the display cannot take it. */
  private say(message: string): void {
    try {
      this.o.note(message);
    } catch {
      process.stderr.write(message + '\n');
    }
  }

  private waitingForWorkers(): boolean {
    return this.idlePolls >= 2 && (this.pending.size > 0 || this.gate.waiting > 0) && !this.stopping;
  }

  private updateHold(): void {
    if (this.closed) return;
    const waiting = this.waitingForWorkers() ? `waiting for a worker (queue ${this.o.name})` : null;
    this.o.stats.hold = this.redisDown ?? this.redisError ?? waiting;
  }

  /** Jobs BullMQ moved to failed (stalled too often: workers killed mid-request): recorded as QUEUE_JOB_FAILED. */
  private async collectFailed(): Promise<void> {
    const { queue, redis, keys } = this.o;
    const jobs = await queue.getFailed(0, 199);
    for (const job of jobs) {
      const all = idsOf(job.data);
      const ids = all.filter((id) => this.pending.has(id));
      if (ids.length === 0) continue; // not submitted (yet) by this run process
      const stored = await redis.hmget(keys.results, ...ids);
      ids.forEach((id, k) => {
        const entry = this.pending.get(id);
        if (entry === undefined) return;
        const json = stored[k];
        const reason = job.failedReason || 'failed';
        this.finish(
          entry,
          json != null
            ? parseResult(id, json)
            : failedJobResult(id, reason, job.attemptsStarted ?? 1, job.processedOn, entry.hash),
        );
      });
      // Kept while it holds requests this run has not reached yet (a resumed run adopts them); the end removes it.
      if (ids.length === all.length) await job.remove().catch(() => {});
    }
  }

  /**
   * Stored results may go once their lines are written: lines are handed to the kernel once per event-loop turn,
   * so ids recorded before the previous tick are safe. The stream is trimmed to what was read likewise.
   */
  private async cleanup(): Promise<void> {
    if (this.redisDown !== null) return;
    const ids = this.collectedPrev;
    this.collectedPrev = this.collected;
    this.collected = [];
    const trimTo = this.trimPrev;
    this.trimPrev = this.lastEntry;
    const { redis, keys } = this.o;
    try {
      for (let i = 0; i < ids.length; i += 1000) await redis.hdel(keys.results, ...ids.slice(i, i + 1000));
      if (trimTo !== '0' && trimTo !== this.trimmed) {
        await redis.xtrim(keys.done, 'MINID', nextEntryId(trimTo));
        this.trimmed = trimTo;
      }
    } catch {
      // left for the run's final cleanup (or the next --resume)
    }
  }

  /** After a stop: workers start nothing more; wait for what they are sending, record it, leave the rest queued. */
  private async drain(): Promise<void> {
    const { queue, redis, keys, stats } = this.o;
    try {
      await queue.pause();
      while (!this.aborted && this.pending.size > 0) {
        const active = await queue.getActiveCount();
        stats.inFlight = this.inFlightOf(active);
        if (active === 0) break;
        await sleep(250);
      }
      // Results are stored before a job leaves `active`: whatever the stream has not brought yet is in the hash.
      const ids = [...this.pending.keys()];
      for (let i = 0; i < ids.length && !this.aborted; i += 1000) {
        const slice = ids.slice(i, i + 1000);
        const stored = await redis.hmget(keys.results, ...slice);
        slice.forEach((id, j) => {
          const json = stored[j];
          if (json != null) this.deliver(id, json);
        });
      }
    } catch {
      // Redis trouble while stopping: what is not recorded is sent or collected by --resume
    }
    for (const entry of [...this.pending.values()]) this.finish(entry, null);
  }
}

function fieldOf(fields: string[], name: string): string | null {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  return null;
}

/** The stream entry id right after `id` (XTRIM MINID drops entries below its argument). */
function nextEntryId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${Number(seq ?? 0) + 1}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
