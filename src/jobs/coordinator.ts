// Drives every batch through its lifecycle: validating → in_progress (its lines fed to the queue a window at a
// time, so batches interleave and none starves another) → finalizing → completed; or failed, cancelled, expired.
// One serve at a time drives a namespace (a lock in Redis with a short TTL): another serve, or this one
// restarted after a kill -9, takes over within seconds and goes on from what Redis holds.
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { jsonText, parseJson } from '../util/exact-json.js';
import { writeResultFiles } from './finalize.js';
import type { JobLine, LinesJob } from './job-data.js';
import { nowSeconds } from './ids.js';
import { isBlank, readLines, type FileLine } from './lines.js';
import type { BatchSpec, JobStore } from './store.js';
import { validateFile } from './validate.js';

const TICK_MS = 200;
const LOCK_MS = 5_000;
/**
 * A job that fails (its sender stopped before sending every line) is tried again; jobs stay an hour after they
 * complete, so a job added again after a restart is recognised by its id and not sent twice.
 */
const JOB_OPTIONS = {
  attempts: 1_000,
  backoff: { type: 'fixed', delay: 1_000 },
  removeOnComplete: { age: 3_600 },
  removeOnFail: { age: 86_400 },
} as const;

/**
 * Batches share the senders in rounds: a job's BullMQ priority (lower first) is the round its lines fall in, so the
 * first lines of a batch created now go ahead of the later lines of a big one already queued.
 */
const ROUND_LINES = 20;
const roundOf = (line: number): number => Math.min(2_000_000, 1 + Math.floor(line / ROUND_LINES));

export interface CoordinatorOptions {
  store: JobStore;
  queue: Queue;
  /** The upstream base (--url without a trailing slash): a line goes to base + endpoint. */
  base: string;
  /** Lines per BullMQ job. */
  perJob: number;
  /** Lines of one batch handed to the queue and not yet settled, at most. */
  window: number;
  log: (line: string) => void;
}

/** Job-state figures for /metrics: lines waiting as of the last tick. */
export interface JobsSnapshot {
  byStatus: Record<string, number>;
  linesWaiting: number;
}

export class Coordinator {
  private readonly token = randomBytes(8).toString('hex');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private readonly busy = new Set<string>();
  private readonly readers = new Map<string, AsyncGenerator<FileLine>>();
  /** Where each reader stands: the cursor this serve last stored for its batch. */
  private readonly readAt = new Map<string, number>();
  private readonly stop = new AbortController();
  private down = false;
  snapshot: JobsSnapshot = { byStatus: {}, linesWaiting: 0 };

  constructor(private readonly o: CoordinatorOptions) {}

  start(): void {
    const loop = (): void => {
      this.running = this.tick().finally(() => {
        if (!this.stop.signal.aborted) this.timer = setTimeout(loop, TICK_MS);
      });
    };
    loop();
  }

  async close(): Promise<void> {
    this.stop.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const r of this.readers.values()) await r.return(undefined);
    await this.o.store.redis.bpjUnlock(this.o.store.keys.lock, this.token).catch(() => {});
  }

  /**
   * Batches by status as Redis holds them now, so a scrape right after a batch changed sees the change, and a serve
   * that does not drive the namespace still reports it; the last figures when Redis does not answer.
   */
  async byStatus(): Promise<Record<string, number>> {
    try {
      const counts = await this.o.store.redis.hgetall(this.o.store.keys.counts);
      this.snapshot.byStatus = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Number(v)]));
    } catch {
      // Redis unreachable: /metrics still answers, with what was seen last.
    }
    return this.snapshot.byStatus;
  }

  private async tick(): Promise<void> {
    const { redis, keys } = this.o.store;
    try {
      if ((await redis.bpjLock(keys.lock, this.token, LOCK_MS)) !== 1) return;
      const ids = await redis.smembers(keys.active);
      let waiting = 0;
      for (const id of ids) waiting += await this.step(id);
      this.snapshot.linesWaiting = waiting;
      if (this.down) this.o.log('batchpost: jobs: Redis is back; batches go on');
      this.down = false;
    } catch (err) {
      if (!this.down) this.o.log(`batchpost: jobs: Redis unreachable (${(err as Error).message}); batches wait`);
      this.down = true;
    }
  }

  /** Moves one batch on as far as it can go now; returns its lines not yet settled. */
  private async step(id: string): Promise<number> {
    const { redis, keys } = this.o.store;
    const f = await redis.hgetall(keys.batch(id));
    if (f.obj === undefined) {
      await redis.srem(keys.active, id);
      return 0;
    }
    const spec = JSON.parse(f.obj) as BatchSpec;
    const status = f.status!;
    const ending = f.ending ?? '';
    const total = Number(f.total);
    const fed = Number(f.fed);
    const settled = Number(f.settled);
    if (this.busy.has(id)) return total - settled;
    const live = status === 'validating' || status === 'in_progress';
    if (live && ending === '' && Date.now() >= spec.created_at * 1000 + spec.window_ms) {
      await redis.hset(keys.batch(id), 'ending', 'expired');
      this.o.log(`batchpost: jobs: ${id} expired (completion window ${spec.completion_window})`);
      return total - settled;
    }
    if (status === 'validating' && ending === '') this.background(id, () => this.validate(id, spec));
    else if (status === 'finalizing') this.background(id, () => this.finalize(id, f, status, f.final ?? 'completed'));
    else if ((live || status === 'cancelling') && ending !== '') {
      if (settled >= fed) this.background(id, () => this.finalize(id, f, status, ending));
    } else if (status === 'in_progress') {
      if (settled >= total)
        await this.move(id, 'in_progress', 'finalizing', { finalizing_at: nowSeconds(), final: 'completed' });
      else if (fed < total && fed - settled < this.o.window) this.background(id, () => this.feed(id, spec, f));
    }
    return status === 'validating' ? 0 : total - settled;
  }

  /** Runs `work` for one batch while the ticks go on; the batch is left alone until it is done. */
  private background(id: string, work: () => Promise<void>): void {
    this.busy.add(id);
    const done = work()
      .catch((err: unknown) => {
        if (!this.stop.signal.aborted) this.o.log(`batchpost: jobs: ${id}: ${(err as Error).message}; will try again`);
      })
      .finally(() => this.busy.delete(id));
    this.running = this.running.then(() => done);
  }

  private move(id: string, from: string, to: string, fields: Record<string, string | number> = {}): Promise<number> {
    const { redis, keys } = this.o.store;
    const args = Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
    return redis.bpjMove(keys.batch(id), keys.counts, from, to, ...args);
  }

  private async validate(id: string, spec: BatchSpec): Promise<void> {
    const { store } = this.o;
    const v = await validateFile(store.filePath(spec.input_file_id), spec.endpoint, this.stop.signal);
    if (this.stop.signal.aborted) return;
    if (v.errors.length > 0) {
      if (
        (await this.move(id, 'validating', 'failed', { failed_at: nowSeconds(), errors: JSON.stringify(v.errors) })) ===
        1
      )
        await store.redis.srem(store.keys.active, id);
      this.o.log(
        `batchpost: jobs: ${id} failed validation: ${v.errors.length} error(s), first on line ${v.errors[0]!.line}`,
      );
      return;
    }
    await this.move(id, 'validating', 'in_progress', { in_progress_at: nowSeconds(), total: v.total, line: 1 });
  }

  /** Hands the next lines of a batch to the queue, up to its window, then records how far it got. */
  private async feed(id: string, spec: BatchSpec, f: Record<string, string>): Promise<void> {
    try {
      await this.feedLines(id, spec, f);
    } catch (err) {
      // Lines read but not recorded as fed are read again from the stored cursor.
      await this.dropReader(id);
      throw err;
    }
  }

  private async feedLines(id: string, spec: BatchSpec, f: Record<string, string>): Promise<void> {
    const { store, queue, perJob } = this.o;
    let reader = this.readers.get(id);
    if (reader !== undefined && this.readAt.get(id) !== Number(f.cursor)) {
      // Another serve fed this batch meanwhile (it held the lock): read on from where Redis says.
      await reader.return(undefined);
      reader = undefined;
    }
    if (reader === undefined) {
      const file = store.filePath(spec.input_file_id);
      reader = readLines(file, Number(f.cursor), Number(f.line ?? 1), this.stop.signal);
      this.readers.set(id, reader);
    }
    const room = this.o.window - (Number(f.fed) - Number(f.settled));
    const lines: JobLine[] = [];
    let cursor = Number(f.cursor);
    let next = Number(f.line ?? 1);
    while (lines.length < room) {
      const r = await reader.next();
      if (r.done === true) break;
      cursor = r.value.end;
      next = r.value.n + 1;
      if (isBlank(r.value.text)) continue;
      const line = parseJson(r.value.text) as { custom_id: string; body: unknown };
      lines.push({ n: r.value.n, c: line.custom_id, d: jsonText(line.body) });
    }
    if (lines.length === 0) return;
    const url = this.o.base + spec.endpoint;
    const jobs = [];
    for (let i = 0; i < lines.length; i += perJob) {
      const chunk = lines.slice(i, i + perJob);
      const data: LinesJob = { b: id, u: url, l: chunk };
      const opts = { jobId: `${id}-${chunk[0]!.n}`, priority: roundOf(chunk[0]!.n), ...JOB_OPTIONS };
      jobs.push({ name: 'lines', data, opts });
    }
    await queue.addBulk(jobs);
    this.readAt.set(id, cursor);
    const key = store.keys.batch(id);
    await store.redis
      .multi()
      .hset(key, { cursor: String(cursor), line: String(next) })
      .hincrby(key, 'fed', lines.length)
      .exec();
  }

  private async dropReader(id: string): Promise<void> {
    const reader = this.readers.get(id);
    this.readers.delete(id);
    this.readAt.delete(id);
    await reader?.return(undefined);
  }

  private async finalize(id: string, f: Record<string, string>, status: string, final: string): Promise<void> {
    const { store } = this.o;
    if (status !== 'finalizing' && final === 'completed') return;
    await this.dropReader(id);
    const files = await writeResultFiles(store, id, f, final);
    const moved = await this.move(id, status, final, {
      [`${final}_at`]: nowSeconds(),
      output_file_id: files.output ?? '',
      error_file_id: files.error ?? '',
    });
    if (moved !== 1) return;
    await store.redis.multi().srem(store.keys.active, id).del(store.keys.results(id)).exec();
    this.o.log(`batchpost: jobs: ${id} ${final}: ${f.completed} completed, ${f.failed} failed of ${f.total}`);
  }
}
