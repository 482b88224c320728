// `run --queue`: sets a run's queue up in Redis and tears it down. One run process holds a queue at a time (a lock
// with a TTL it renews); a fresh run starts from an empty queue, a resumed one keeps what the interrupted run left
// (queued requests are adopted, stored results collected). A run that finished deletes every key it made; an
// interrupted one leaves its queue paused for --resume.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Queue } from 'bullmq';
import { BatchpostError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/options.js';
import type { SenderFactory } from '../engine/run.js';
import { configOf, limiterOf } from './config.js';
import { idsOf, requestsPerJob } from './job.js';
import { keysOf, queueNameOf, REGISTRY_KEY, PREFIX, type QueueKeys } from './names.js';
import { QUEUE_ENV, queueOptionName, queueSourceOf, workerCommandOf } from './source.js';
import {
  checkRedisUrl,
  closeRedis,
  connectRedis,
  hostOf,
  whileAnswering,
  WORKER_ALIVE_MS,
  type BpRedis,
} from './redis.js';
import { QueueRequestSink } from './request-sink.js';
import { shellQuote } from '../util/shell-quote.js';

export interface QueueFlags {
  queue?: string;
  queueName?: string;
}

export interface QueueRunContext {
  /** --resume, --retry-failed, --rerun-where: keep what an interrupted run left in Redis. */
  resume: boolean;
  /** A line for the user while the run goes (through the progress display). */
  note: (message: string) => void;
  /** Read for BATCHPOST_QUEUE when --queue is not given. */
  env: NodeJS.ProcessEnv;
}

export interface QueueRun {
  readonly name: string;
  /** For RunDeps.sender: the requests go on the queue instead of out. */
  readonly sender: SenderFactory;
  /** Why the run stopped when Redis lost its queue (QUEUE_LOST) or stopped answering (QUEUE_UNAVAILABLE), else null. */
  readonly failure: Error | null;
  /** Deletes the run's keys when it finished, else leaves them for --resume; releases the queue. Idempotent. */
  close(): Promise<void>;
}

/** Requests on the queue (or on their way) at once: enough to keep dozens of workers busy, small for Redis. */
const MAX_OUTSTANDING = 10_000;
const LOCK_TTL_MS = Number(process.env.BATCHPOST_QUEUE_LOCK_MS) || 10_000;
/** Job states a resumed run adopts instead of queueing the request again. */
const QUEUED_STATES = ['wait', 'active', 'prioritized', 'delayed', 'failed'] as const;

/** Null without --queue. */
export async function openQueueRun(
  flags: QueueFlags,
  options: ResolvedOptions,
  ctx: QueueRunContext,
): Promise<QueueRun | null> {
  const source = queueSourceOf(flags.queue, ctx.env);
  if (source === null) {
    if (flags.queueName !== undefined)
      throw new BatchpostError('USAGE', `--queue-name goes with --queue redis://HOST:PORT (or ${QUEUE_ENV})`);
    return null;
  }
  const url = source.url;
  checkRedisUrl(url, queueOptionName(source));
  const name = queueNameOf(flags.queueName, options.runId);
  const keys = keysOf(name);
  let sink: QueueRequestSink | null = null;
  const redis = await connectRedis(url, `batchpost-run-${name}`, (up, error) => sink?.redisState(up, error));
  const token = `${os.hostname()}/${process.pid}/${randomBytes(6).toString('base64url')}`;
  const hold: QueueHold = { redis, keys, name, token, url };
  const parts = await setUpQueue(hold, options, ctx.resume);
  const workerCommand = workerCommandOf(source, name, shellQuote);
  let closing: Promise<void> | null = null;
  /** Redis froze while an interrupted run let go of its queue: the run stops as when it froze mid-run. */
  let closeFailure: BatchpostError | null = null;
  return {
    name,
    sender: (_senderOptions, stats) =>
      (sink = new QueueRequestSink({
        name,
        queue: parts.queue,
        redis,
        reader: parts.reader,
        keys,
        gen: parts.gen,
        stats,
        maxOutstanding: MAX_OUTSTANDING,
        perJob: requestsPerJob(options.concurrency, options.rate),
        resumed: ctx.resume,
        adopted: parts.adopted,
        note: ctx.note,
        workerCommand,
        where: hostOf(url),
      })),
    get failure() {
      return sink?.failure ?? closeFailure;
    },
    close() {
      closing ??= (async () => {
        sink?.close();
        if (sink?.failure?.code === 'QUEUE_UNAVAILABLE') return letGo(hold, parts);
        closeFailure = await release(hold, parts, sink?.completed ?? false);
      })();
      return closing;
    },
  };
}

/** What a run process holds in Redis: its connection, its queue's keys, and the token of its lock. */
interface QueueHold {
  redis: BpRedis;
  keys: QueueKeys;
  name: string;
  token: string;
  url: string;
}

/** The queue as set up for this run. */
interface QueueParts {
  queue: Queue;
  /** A second connection, for the blocking reads of results. */
  reader: BpRedis;
  /** Renews the lock while the run holds the queue. */
  renew: NodeJS.Timeout;
  /** The logical run: kept across --resume. */
  gen: string;
  /** Requests still queued from the interrupted run (resume only). */
  adopted: Set<string>;
}

/** Takes the queue and readies it for this run; on failure lets go of everything, the connection included. */
async function setUpQueue(hold: QueueHold, options: ResolvedOptions, resume: boolean): Promise<QueueParts> {
  const { redis, keys, token } = hold;
  const made: Made = { renew: null, queue: null, doing: 'the run was connecting' };
  const hint = `Check that Redis at ${hostOf(hold.url)} is up and answering, then run the command again: nothing was queued or sent.`;
  try {
    return await whileAnswering(redis, hold.url, () => made.doing, takeQueue(hold, options, resume, made), hint);
  } catch (err) {
    if (made.renew) clearInterval(made.renew);
    // Bounded: after a silence the connection is gone, and a queue still starting up may not notice at once.
    await bounded(made.queue?.close());
    await redis.bpUnlock(keys.lock, token).catch(() => {});
    await closeRedis(redis);
    throw err;
  }
}

/** What setUpQueue has made so far (to undo on failure), and the step it is at (for a message if Redis freezes). */
interface Made {
  renew: NodeJS.Timeout | null;
  queue: Queue | null;
  doing: string;
}

/** setUpQueue's steps, each named in `made.doing` before it waits on Redis. */
async function takeQueue(hold: QueueHold, options: ResolvedOptions, resume: boolean, made: Made): Promise<QueueParts> {
  const { redis, keys, token, name } = hold;
  await redis.ping();
  made.doing = `the run was taking the lock of queue ${name}`;
  await lock(redis, keys, name, token);
  made.renew = setInterval(() => void redis.bpLock(keys.lock, token, LOCK_TTL_MS).catch(() => {}), LOCK_TTL_MS / 3);
  made.renew.unref();
  made.doing = `the run was creating queue ${name} (BullMQ)`;
  const queue = (made.queue = new Queue(name, {
    connection: redis,
    prefix: PREFIX,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: false, attempts: 1 },
  }));
  queue.on('error', () => {}); // connection trouble shows through the sink's hold; BullMQ retries
  await queue.waitUntilReady();
  made.doing = resume
    ? `the run was reading what the interrupted run of queue ${name} left`
    : `the run was clearing what an earlier run of queue ${name} left`;
  const { gen, adopted } = await generation(hold, queue, resume);
  made.doing = 'the run was publishing its settings for the workers';
  await register(hold, queue, gen, options);
  await queue.resume();
  const reader = redis.duplicate() as BpRedis;
  reader.on('error', () => {});
  return { queue, reader, renew: made.renew, gen, adopted };
}

/** Waits for `work` at most a second; never throws. */
async function bounded(work: Promise<unknown> | undefined): Promise<void> {
  await Promise.race([work?.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
}

/** A finished run (every line recorded) whose Redis froze while it deleted its keys: worth a line, not a failure. */
function warnKeysLeft(hold: QueueHold, err: Error): void {
  process.stderr.write(
    `batchpost: ${err.message}; every result is recorded, but the keys of queue ${hold.name} stay in Redis (batchpost:${hold.name}:*) until a run of that name starts again\n`,
  );
}

/** A resumed run keeps its generation and adopts the requests still queued; a fresh one starts from nothing. */
async function generation(
  { redis, keys }: QueueHold,
  queue: Queue,
  resume: boolean,
): Promise<{ gen: string; adopted: Set<string> }> {
  const previous = resume ? await redis.hget(keys.config, 'gen') : null;
  if (previous === null) {
    // A fresh run: whatever an earlier run of this name left (interrupted, never resumed) goes.
    await queue.obliterate({ force: true });
    await redis.del(keys.results, keys.done, keys.config);
    return { gen: randomBytes(9).toString('base64url'), adopted: new Set() };
  }
  const adopted = await queuedIds(queue);
  if (adopted.size > 0) {
    process.stderr.write(
      `batchpost: ${adopted.size} request${adopted.size === 1 ? ' is' : 's are'} still queued from the interrupted run; they are not queued again\n`,
    );
  }
  return { gen: previous, adopted };
}

/** Publishes the run's config and --rate for the workers, and lists the run among those waiting for workers. */
async function register(hold: QueueHold, queue: Queue, gen: string, options: ResolvedOptions): Promise<void> {
  const { redis, keys, name, token } = hold;
  await redis.hset(keys.config, { gen, rev: token, json: JSON.stringify(configOf(options)) });
  if (options.rate !== null) {
    const { max, duration } = limiterOf(options.rate);
    await queue.setGlobalRateLimit(max, duration);
  } else {
    await queue.removeGlobalRateLimit();
  }
  const entry = { method: options.method, url: options.url, since: Date.now(), by: token };
  await redis.hset(REGISTRY_KEY, name, JSON.stringify(entry));
}

/**
 * tearDown, given up when Redis stops answering (after Ctrl-C nothing else watches it): a finished run only warns
 * that its keys stay; an interrupted one stops with QUEUE_UNAVAILABLE (returned) and its --resume command.
 */
async function release(hold: QueueHold, parts: QueueParts, completed: boolean): Promise<BatchpostError | null> {
  const doing = () => `the run was letting go of queue ${hold.name}`;
  const hint = 'Bring Redis back, then continue with --resume: what is recorded stays.';
  try {
    await whileAnswering(hold.redis, hold.url, doing, tearDown(hold, parts, completed), hint);
    return null;
  } catch (err) {
    await letGo(hold, parts);
    if (!completed) return err as BatchpostError;
    warnKeysLeft(hold, err as Error);
    return null;
  }
}

/** Deletes a finished run's keys (an interrupted one's stay, its queue paused, for --resume) and lets go. */
async function tearDown(hold: QueueHold, parts: QueueParts, completed: boolean): Promise<void> {
  const { redis, keys, name, token } = hold;
  clearInterval(parts.renew);
  try {
    if (completed) {
      // Workers drop the run once its config is gone, but until they have closed, BullMQ's stalled-job check in
      // each of them writes a key of the queue again: the rest goes once they have left (or stopped answering).
      await redis.del(keys.config);
      await untilWorkersLeft(redis, keys);
      await parts.queue.obliterate({ force: true });
      await redis.del(keys.results, keys.done, keys.workers);
    }
    // Either way the run stops waiting for workers; workers leave a paused queue alone until --resume.
    await redis.hdel(REGISTRY_KEY, name);
  } catch {
    // Redis went away: an interrupted run's keys stay; a finished run's are cleaned by the next run of this name
  }
  await redis.bpUnlock(keys.lock, token).catch(() => {});
  await parts.queue.close().catch(() => {});
  await closeRedis(parts.reader);
  await closeRedis(redis);
}

/**
 * Redis does not answer: commands would wait for ever, so the connections are dropped unsent. The lock expires on
 * its own and the run's keys stay for --resume.
 */
async function letGo(hold: QueueHold, parts: QueueParts): Promise<void> {
  clearInterval(parts.renew);
  parts.reader.disconnect();
  hold.redis.disconnect();
  await bounded(parts.queue.close());
}

/**
 * Waits until no worker is serving the run: each leaves the set of live workers when it has closed, or drops out
 * of it WORKER_ALIVE_MS after its last heartbeat (none come once the config is gone).
 */
async function untilWorkersLeft(redis: BpRedis, keys: QueueKeys): Promise<void> {
  const deadline = Date.now() + WORKER_ALIVE_MS + 2_000;
  while (Date.now() < deadline && ((await redis.bpLiveWorkers(keys.workers, WORKER_ALIVE_MS)) as number) > 0)
    await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Takes the queue, waiting up to the lock's TTL for a run that crashed (or steals it from a dead process here). */
async function lock(redis: BpRedis, keys: QueueKeys, name: string, token: string): Promise<void> {
  const deadline = Date.now() + LOCK_TTL_MS + 1_000;
  let told = false;
  for (;;) {
    if ((await redis.bpLock(keys.lock, token, LOCK_TTL_MS)) === 1) return;
    const holder = await redis.get(keys.lock);
    if (holder === null) continue;
    const [host, pid] = holder.split('/');
    if (host === os.hostname() && pid !== undefined && !alive(Number(pid))) {
      // Killed on this machine (kill -9, a crash): no need to wait out its lock.
      await redis.bpUnlock(keys.lock, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw new BatchpostError(
        'QUEUE_BUSY',
        `queue ${name} is in use by another run (${host}, pid ${pid})`,
        'Wait for it to finish, or give this run its own --queue-name (or --run-id).',
      );
    }
    if (!told) {
      told = true;
      process.stderr.write(
        `batchpost: queue ${name} is held by another run (${host}, pid ${pid}); waiting up to ${Math.round(LOCK_TTL_MS / 1000)}s in case it crashed\n`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The request ids an interrupted run left on the queue (waiting, being sent, or given up on). */
async function queuedIds(queue: Queue): Promise<Set<string>> {
  const ids = new Set<string>();
  const page = 1000;
  for (let start = 0; ; start += page) {
    const jobs = await queue.getJobs([...QUEUED_STATES], start, start + page - 1, true);
    for (const job of jobs) for (const id of idsOf(job?.data)) ids.add(id);
    if (jobs.length < page) return ids;
  }
}
