// `batchpost worker`'s engine: serves runs' queues. Each queue gets a BullMQ Worker whose processor hands the job's
// requests to a local Sender (the same transport, timeouts, retry policy and adaptive pace as a local run) and stores
// each Result in Redis for the run. Without --queue-name a worker serves every run registered in Redis.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { AuthRefresher } from '../engine/auth.js';
import { BatchpostError } from '../engine/errors.js';
import { Sender } from '../engine/sender.js';
import { createStats } from '../engine/stats.js';
import type { Result, Transport } from '../engine/types.js';
import { createTransport, INSECURE_WARNING } from '../transport/index.js';
import { startConfigAuth } from './auth.js';
import { parseRunConfig, senderOptionsOf, transportOf, type QueueRunConfig } from './config.js';
import { activeJobsFor, requestOf, type JobData } from './job.js';
import { keysOf, PREFIX, REGISTRY_KEY, type QueueKeys } from './names.js';
import { watchAnswers, type BpRedis } from './redis.js';

const HEARTBEAT_MS = 1_000;
/** Jobs interrupted this many times (their worker died mid-request) are given up on: QUEUE_JOB_FAILED. */
const MAX_STALLED = 2;

export interface WorkerPoolOptions {
  redis: BpRedis;
  /** Serve only this queue (and wait for a run to use it); else every run registered in Redis. */
  queueName: string | null;
  /** Requests in flight per queue; null: what each run asks for (its --concurrency). */
  concurrency: number | null;
  /** A worker silent this long loses its jobs to other workers (BullMQ's lock duration). */
  stallTimeoutMs: number;
  log: (line: string) => void;
  /** Where proxies and the client key's passphrase are read (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * A run's --auth-command failed (at its start here, or on a refresh): without headers its requests cannot be
   * sent. Or Redis did not answer for UNANSWERED_MS (QUEUE_UNAVAILABLE): results cannot be stored. The worker
   * stops; its jobs go back to the queue (once Redis answers again, when their locks expire).
   */
  onFatal?: (err: BatchpostError) => void;
}

export interface WorkerCounts {
  sent: number;
  ok: number;
  failed: number;
}

/** Every queue this process serves, found and dropped as runs come and go. */
export class WorkerPool {
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly serving = new Map<string, QueueWorker>();
  private readonly starting = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private unwatch: () => void = () => {};
  readonly totals: WorkerCounts = { sent: 0, ok: 0, failed: 0 };

  constructor(private readonly o: WorkerPoolOptions) {}

  async start(): Promise<void> {
    await this.tick();
    if (this.stopped) return; // stopped while the first tick waited on Redis
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, HEARTBEAT_MS);
    this.unwatch = watchAnswers(this.o.redis, (silentMs) =>
      this.o.onFatal?.(
        new BatchpostError(
          'QUEUE_UNAVAILABLE',
          `Redis at ${this.where} did not answer for ${Math.round(silentMs / 1000)}s (stopped, frozen, or cut off); this worker stops`,
          'Bring Redis back and start the worker again: the jobs it held go back to the queue when their locks expire.',
        ),
      ),
    );
  }

  /** `host:port` of the Redis, for messages (never its password). */
  private get where(): string {
    const { host, port } = this.o.redis.options;
    return `${host ?? 'localhost'}:${port ?? 6379}`;
  }

  /** Requests being sent right now, across queues. */
  get inFlight(): number {
    let n = 0;
    for (const w of this.serving.values()) n += w.inFlight;
    return n;
  }

  /**
   * Graceful: requests being sent finish (and are stored for their runs); requests of this worker's jobs not started
   * yet go back to the queue with their jobs, for other workers.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    if (this.timer) clearInterval(this.timer);
    for (const w of this.serving.values()) w.stop();
    await this.ticking;
    await Promise.all([...this.serving.values()].map((w) => w.close()));
    this.serving.clear();
  }

  /** Forced: cancel the requests being sent and hand their jobs back to the queue for another worker. */
  returnJobs(): void {
    for (const w of this.serving.values()) w.returnJobs();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { redis } = this.o;
    try {
      const names = this.o.queueName !== null ? [this.o.queueName] : await redis.hkeys(REGISTRY_KEY);
      for (const name of names) {
        if (this.serving.has(name) || this.starting.has(name)) continue;
        this.starting.add(name);
        void QueueWorker.start(name, this.o, this.id, this.totals)
          .then((w) => {
            if (w === null) return;
            if (this.stopped) return void w.close();
            this.serving.set(name, w);
          })
          .catch((err: unknown) =>
            this.o.log(`batchpost worker: queue ${name}: cannot serve it: ${(err as Error).message}`),
          )
          .finally(() => this.starting.delete(name));
      }
      await Promise.all(
        [...this.serving].map(async ([name, w]) => {
          if ((await w.heartbeat()) === 'gone') {
            this.serving.delete(name);
            await w.close();
          }
        }),
      );
    } catch {
      // Redis is reconnecting: the next tick tries again
    }
  }
}

/** One run's queue, served with one BullMQ Worker and one Sender. */
class QueueWorker {
  private sender: Sender;
  private config: QueueRunConfig;
  private gen: string;
  private rev: string;
  private readonly bull: Worker;
  private readonly transport: Transport;
  private readonly writer: ResultWriter;
  private readonly counts: WorkerCounts = { sent: 0, ok: 0, failed: 0 };
  private readonly stats = createStats();
  /** Every Sender this queue had (a restarted run gets a new one); a forced stop cancels them all. */
  private readonly senders = new Set<Sender>();
  private returning = false;
  private closing: Promise<void> | null = null;

  static async start(
    name: string,
    o: WorkerPoolOptions,
    workerId: string,
    totals: WorkerCounts,
  ): Promise<QueueWorker | null> {
    const keys = keysOf(name);
    const stored = await o.redis.hgetall(keys.config);
    if (!stored.json || !stored.gen || !stored.rev) return null; // no run uses this queue (yet)
    const config = parseRunConfig(stored.json);
    const auth = await startConfigAuth(config, (err) => o.onFatal?.(err));
    if (auth === false) return null;
    // Among the run's live workers before BullMQ's worker writes anything: a run that ends waits for those to leave.
    const live = await o.redis.bpHeartbeat(keys.workers, keys.config, workerId, HEARTBEAT_MS * 10);
    if (live === null) {
      auth?.close();
      return null; // the run ended meanwhile
    }
    return new QueueWorker(name, o, workerId, totals, keys, config, stored.gen, stored.rev, auth);
  }

  private constructor(
    private readonly name: string,
    private readonly o: WorkerPoolOptions,
    private readonly workerId: string,
    private readonly totals: WorkerCounts,
    private readonly keys: QueueKeys,
    config: QueueRunConfig,
    gen: string,
    rev: string,
    /** The run's --auth-command, run by this worker; a restarted run keeps it (the command is the run's). */
    private readonly auth: AuthRefresher | null,
  ) {
    this.config = config;
    this.gen = gen;
    this.rev = rev;
    const concurrency = o.concurrency ?? config.concurrency;
    this.transport = createTransport(transportOf(config, concurrency, o.env));
    this.sender = new Sender({ ...senderOptionsOf(config, concurrency), auth }, this.transport, this.stats);
    this.senders.add(this.sender);
    this.writer = new ResultWriter(o.redis, keys);
    this.bull = new Worker(name, (job) => this.process(job as Job<JobData>), {
      connection: o.redis,
      prefix: PREFIX,
      concurrency: activeJobsFor(concurrency, config.perJob),
      name: workerId,
      lockDuration: o.stallTimeoutMs,
      stalledInterval: Math.max(250, Math.round(o.stallTimeoutMs / 2)),
      maxStalledCount: MAX_STALLED,
      drainDelay: 1,
    });
    this.bull.on('error', () => {}); // connection trouble: BullMQ retries; jobs whose lock is lost go back to the queue
    void this.heartbeat().catch(() => {});
    this.log(
      `serving ${config.method} ${config.url} (${concurrency} in flight${config.rate === null ? '' : `, ${config.rate}/s across all workers`})`,
    );
    if (config.transport.tls?.insecure) this.log(INSECURE_WARNING);
  }

  get inFlight(): number {
    return this.stats.inFlight;
  }

  /** Tells the run this worker is alive; 'gone' once the run's keys are deleted (it finished). */
  async heartbeat(): Promise<'ok' | 'gone'> {
    const rev = (await this.o.redis.bpHeartbeat(
      this.keys.workers,
      this.keys.config,
      this.workerId,
      HEARTBEAT_MS * 10,
    )) as string | null;
    if (rev === null) return 'gone';
    if (rev !== this.rev) await this.reload();
    return 'ok';
  }

  /** The run restarted (--resume, or a new run of the same name): take up its config. */
  private async reload(): Promise<void> {
    const stored = await this.o.redis.hgetall(this.keys.config);
    if (!stored.json || !stored.gen || !stored.rev || stored.rev === this.rev) return;
    this.config = JSON.parse(stored.json) as QueueRunConfig;
    this.gen = stored.gen;
    this.rev = stored.rev;
    const concurrency = this.o.concurrency ?? this.config.concurrency;
    // Requests in flight finish on the old Sender; new jobs take the new one.
    this.sender = new Sender(
      { ...senderOptionsOf(this.config, concurrency), auth: this.auth },
      this.transport,
      this.stats,
    );
    this.senders.add(this.sender);
    this.bull.concurrency = activeJobsFor(concurrency, this.config.perJob);
    this.log(`run restarted: ${this.config.method} ${this.config.url}`);
  }

  private async process(job: Job<JobData>): Promise<void> {
    const d = job.data;
    if (d.g !== this.gen) await this.reload();
    let items = d.r;
    if ((job.attemptsStarted ?? 1) > 1) {
      // Interrupted before (a worker died, or handed it back): what was stored then is not sent again.
      const stored = await this.o.redis.hmget(this.keys.results, ...items.map((it) => it.i));
      items = items.filter((_, k) => stored[k] == null);
    }
    if (this.returning) throw Worker.RateLimitError();
    const sender = this.sender;
    let cancelled = 0;
    let unstored: Error | null = null;
    await Promise.all(
      items.map(
        (item) =>
          new Promise<void>((resolve) =>
            sender.submit(
              item.i,
              requestOf(d, item),
              (result) => {
                if (result === null) {
                  cancelled++;
                  return resolve();
                }
                this.count(result);
                void this.writer.store(d.g, result).then(resolve, (err: Error) => {
                  unstored = err;
                  resolve();
                });
              },
              { hash: item.x },
            ),
          ),
      ),
    );
    // Not sent because this worker stops: back to the queue (BullMQ's rate-limit path moves the job to waiting,
    // unharmed); what finished is stored, so the next worker sends only the rest.
    if (cancelled > 0) throw Worker.RateLimitError();
    // The job fails (the run records QUEUE_JOB_FAILED for what is not stored) rather than completing without results.
    if (unstored !== null) throw new Error(`results could not be stored in Redis: ${(unstored as Error).message}`);
  }

  private count(result: Result): void {
    for (const c of [this.counts, this.totals]) {
      c.sent++;
      if (result.ok) c.ok++;
      else c.failed++;
    }
  }

  /** Starts nothing more: requests not started go back to the queue with their jobs. */
  stop(): void {
    this.returning = true;
    for (const s of this.senders) s.stop();
  }

  /** Also cancels the requests in flight: their jobs go back to the queue too. */
  returnJobs(): void {
    this.returning = true;
    for (const s of this.senders) s.abort();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.bull.close();
      await this.o.redis.zrem(this.keys.workers, this.workerId).catch(() => {});
      for (const s of this.senders) s.close();
      this.auth?.close();
      await this.transport.close();
      const c = this.counts;
      this.log(`done: sent ${c.sent} request${c.sent === 1 ? '' : 's'} (${c.ok} ok, ${c.failed} failed)`);
    })();
    return this.closing;
  }

  private log(line: string): void {
    this.o.log(`batchpost worker: queue ${this.name}: ${line}`);
  }
}

/**
 * Stores results for the run, many per round trip: those finished in the same event-loop turn go in one script
 * call. A job completes only after its results are stored, so a worker killed in between loses nothing stored.
 */
class ResultWriter {
  private batch: { gen: string; args: string[]; done: { resolve: () => void; reject: (err: Error) => void }[] } | null =
    null;

  constructor(
    private readonly redis: BpRedis,
    private readonly keys: QueueKeys,
  ) {}

  store(gen: string, result: Result): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.batch !== null && (this.batch.gen !== gen || this.batch.done.length >= 200)) this.flush();
      if (this.batch === null) {
        this.batch = { gen, args: [gen], done: [] };
        setImmediate(() => this.flush());
      }
      this.batch.args.push(result.id, JSON.stringify(result));
      this.batch.done.push({ resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.batch;
    if (batch === null) return;
    this.batch = null;
    this.redis.bpStoreResults(this.keys.config, this.keys.results, this.keys.done, ...batch.args).then(
      () => batch.done.forEach((d) => d.resolve()),
      (err: Error) => batch.done.forEach((d) => d.reject(err)),
    );
  }
}
