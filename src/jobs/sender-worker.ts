// Sends the lines of batch jobs: a BullMQ Worker on the namespace's queue whose processor hands each line to one
// Sender (the engine of `run`: retries, adaptive pace, --concurrency in flight) and records each outcome in Redis
// once (bpjSettle). serve runs one; every `batchpost worker` runs one more. A job completes only after its lines
// are recorded, so a sender killed mid-job loses nothing: the job stalls, another sender takes it up, and lines
// already recorded are not sent again. With --auth-command every line carries the command's headers: serve's sender
// shares serve's own refresher, a worker runs the published command itself (src/queue/auth.ts), as for `run --queue`.
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AuthRefresher } from '../engine/auth.js';
import type { BatchpostError } from '../engine/errors.js';
import { Sender } from '../engine/sender.js';
import { createStats } from '../engine/stats.js';
import type { OutgoingRequest, Result, Transport, TransportResponse } from '../engine/types.js';
import { startConfigAuth } from '../queue/auth.js';
import { activeJobsFor } from '../queue/job.js';
import { parseRunConfig, senderOptionsOf, transportOf, type QueueRunConfig } from '../queue/config.js';
import { PREFIX } from '../queue/names.js';
import { createTransport } from '../transport/index.js';
import type { JobLine, JobsConfig, LinesJob } from './job-data.js';
import type { JobKeys } from './keys.js';
import { openAiLineToJson } from '../output/openai-line.js';
import { sentLine } from './openai-line.js';
import type { JobsRedis } from './scripts.js';

export interface SenderWorkerOptions {
  redis: JobsRedis;
  /** BullMQ's blocking connection (a client of its own). */
  connection: Redis;
  keys: JobKeys;
  /** Lines in flight at once on this sender; null: serve's --concurrency. */
  concurrency: number | null;
  stallTimeoutMs: number;
  log: (line: string) => void;
  /**
   * --auth-command's headers: serve hands in its own refresher (null without the option); undefined (a worker):
   * run the published config's command here.
   */
  auth?: AuthRefresher | null;
  /** This sender's --auth-command failed (at its start or on a refresh): it cannot send; its process stops. */
  onFatal?: (err: BatchpostError) => void;
}

const MAX_STALLED = 3;

export class LinesSender {
  private bull: Worker | null = null;
  private sender: Sender | null = null;
  private transport: Transport | null = null;
  private config: JobsConfig | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  /** The refresher this sender started itself (a worker's), closed with it. */
  private ownAuth: AuthRefresher | null = null;
  /** Ends a first run of the command still going when this sender closes. */
  private readonly stop = new AbortController();
  sent = 0;
  /** Batches this sender has sent lines of (for one log line each). */
  private readonly batches = new Set<string>();

  constructor(private readonly o: SenderWorkerOptions) {}

  /** Starts once serve has published its config (checked every second until then). */
  start(): void {
    const attempt = (): void => {
      if (this.closing !== null) return;
      void this.o.redis.hget(this.o.keys.config, 'json').then(
        (json) => (json === null ? this.later(attempt) : void this.begin(JSON.parse(json) as JobsConfig)),
        () => this.later(attempt),
      );
    };
    attempt();
  }

  private later(f: () => void): void {
    this.timer = setTimeout(f, 1_000);
  }

  private async begin(config: JobsConfig): Promise<void> {
    if (this.closing !== null) return;
    const run = parseRunConfig(config.run);
    const auth = await this.authFor(run);
    if (auth === false) return;
    if (this.closing !== null) return void this.ownAuth?.close(); // closed meanwhile
    this.config = config;
    const concurrency = this.o.concurrency ?? run.concurrency;
    this.transport = createTransport(transportOf(run, concurrency));
    this.sender = new Sender({ ...senderOptionsOf(run, concurrency), auth }, this.transport, createStats());
    this.bull = new Worker(this.o.keys.queue, (job) => this.process(job as Job<LinesJob>), {
      connection: this.o.connection,
      prefix: PREFIX,
      concurrency: activeJobsFor(concurrency, run.perJob),
      lockDuration: this.o.stallTimeoutMs,
      stalledInterval: Math.max(250, Math.round(this.o.stallTimeoutMs / 2)),
      maxStalledCount: MAX_STALLED,
      drainDelay: 1,
    });
    this.bull.on('error', () => {}); // Redis trouble: BullMQ reconnects; a lost lock hands the job to another sender
  }

  /** Serve's refresher, or (a worker) the published command run here once; false when it failed. */
  private async authFor(run: QueueRunConfig): Promise<AuthRefresher | null | false> {
    if (this.o.auth !== undefined) return this.o.auth;
    const auth = await startConfigAuth(run, (err) => this.o.onFatal?.(err), this.stop.signal);
    if (auth !== false) this.ownAuth = auth;
    return auth;
  }

  private async process(job: Job<LinesJob>): Promise<void> {
    const { b, u, l } = job.data;
    const { redis, keys } = this.o;
    const [status, ending] = await redis.hmget(keys.batch(b), 'status', 'ending');
    if (status === null) return; // the batch is gone
    const recorded = await redis.hmget(keys.results(b), ...l.map((x) => String(x.n)));
    const todo = l.filter((_, i) => recorded[i] === null);
    if (status !== 'in_progress' || (ending ?? '') !== '') {
      // Cancelled or expired before its turn: recorded as not sent, so the batch can finish.
      await Promise.all(todo.map((x) => redis.bpjSettle(keys.batch(b), keys.results(b), String(x.n), `-${x.c}`, 's')));
      return;
    }
    if (!this.batches.has(b)) {
      if (this.batches.size >= 1_000) this.batches.clear();
      this.batches.add(b);
      this.o.log(`batchpost: jobs: sending lines of ${b}`);
    }
    const outcomes = await Promise.all(todo.map((x) => this.send(b, u, x)));
    if (outcomes.some((o) => o === null)) throw new Error('stopped before every line was sent'); // back to the queue
  }

  private send(batch: string, url: string, line: JobLine): Promise<true | null> {
    const { redis, keys } = this.o;
    const config = this.config!;
    const headers = config.idempotencyKey
      ? { ...config.headers, 'idempotency-key': `${batch}-${line.c}` }
      : config.headers;
    const request: OutgoingRequest = { method: 'POST', url, headers, body: line.d };
    return new Promise((resolve, reject) => {
      this.sender!.submit(
        line.c,
        request,
        (result: Result | null, _id: string, response?: TransportResponse | null) => {
          if (result === null) return resolve(null);
          this.sent++;
          const { line: out, ok: good } = sentLine(line.c, result, response ?? null);
          const value = (good ? 'o' : 'e') + openAiLineToJson(out);
          redis
            .bpjSettle(keys.batch(batch), keys.results(batch), String(line.n), value, good ? 'c' : 'f')
            .then(() => resolve(true), reject);
        },
        { raw: true },
      );
    });
  }

  /** Graceful: lines in flight finish and are recorded; jobs not finished go back to the queue. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.stop.abort();
      this.sender?.stop();
      await this.bull?.close();
      this.sender?.close();
      this.ownAuth?.close();
      await this.transport?.close();
    })();
    return this.closing;
  }

  /** Hard: cancels the lines in flight too (their jobs are taken up again once their lock lapses). */
  abort(): void {
    this.sender?.abort();
  }
}
