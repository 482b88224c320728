// serve --jobs: the OpenAI Batch API (files and batches under /v1) on Redis and --data-dir. Opens what it needs,
// publishes serve's sending settings for every sender, starts the coordinator and serve's own sender, and hands
// serve one route function and its gauges.
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { AuthRefresher } from '../engine/auth.js';
import type { BatchpostError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/options.js';
import { hasHeader } from '../engine/headers.js';
import type { HeaderMap } from '../engine/types.js';
import { userAgent } from '../util/user-agent.js';
import { configOf, limiterOf } from '../queue/config.js';
import { PREFIX } from '../queue/names.js';
import { closeRedis, connectRedis } from '../queue/redis.js';
import { BearerAuth } from './auth.js';
import { Coordinator } from './coordinator.js';
import type { JobsConfig } from './job-data.js';
import { jobKeysOf } from './keys.js';
import { registerJobMetrics } from './metrics.js';
import { JobRoutes } from './routes.js';
import { defineJobScripts, type JobsRedis } from './scripts.js';
import { LinesSender } from './sender-worker.js';
import { JobStore } from './store.js';
import type { UploadLimits } from './upload.js';

export { readApiKey } from './auth.js';
export { checkNamespace } from './keys.js';

export interface JobsOptions {
  redisUrl: string;
  namespace: string;
  apiKey: string;
  dataDir: string;
  limits: UploadLimits;
  run: ResolvedOptions;
  /** serve's --auth-command refresher (null without it): its sender adds the same headers /batch does. */
  auth: AuthRefresher | null;
  stallTimeoutMs: number;
  log: (line: string) => void;
}

export interface JobsService {
  handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  registerMetrics(registry: Registry): void;
  close(): Promise<void>;
}

/** Commands fail at once while Redis is away (an API answer is a 503, not a hung request). */
function apiClient(url: string): JobsRedis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    connectionName: 'batchpost-jobs-api',
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  });
  client.on('error', () => {});
  return defineJobScripts(client);
}

export async function startJobs(o: JobsOptions): Promise<JobsService> {
  const keys = jobKeysOf(o.namespace);
  await fs.promises.mkdir(path.join(o.dataDir, 'files'), { recursive: true, mode: 0o700 });
  const bull = await connectRedis(o.redisUrl, 'batchpost-jobs'); // QUEUE_UNAVAILABLE now if Redis is not there
  const senderConn = await connectRedis(o.redisUrl, 'batchpost-jobs-sender');
  const api = apiClient(o.redisUrl);
  await new Promise<void>((resolve) => (api.status === 'ready' ? resolve() : api.once('ready', () => resolve())));
  const store = new JobStore(api, keys, o.dataDir);
  const queue = new Queue(keys.queue, { connection: bull, prefix: PREFIX });
  queue.on('error', () => {});
  await publishConfig(o, api, queue, keys.config);
  const runConfig = configOf(o.run);
  const base = o.run.url.replace(/\/+$/, '');
  const coordinator = new Coordinator({
    store,
    queue,
    base,
    perJob: runConfig.perJob,
    window: Math.max(1_000, 8 * o.run.concurrency),
    log: o.log,
  });
  coordinator.start();
  const sender = new LinesSender({
    redis: defineJobScripts(senderConn),
    connection: senderConn,
    keys,
    concurrency: null,
    stallTimeoutMs: o.stallTimeoutMs,
    log: o.log,
    auth: o.auth,
  });
  sender.start();
  const routes = new JobRoutes({ store, auth: new BearerAuth(o.apiKey), limits: o.limits, base, log: o.log });
  let closing: Promise<void> | null = null;
  return {
    handle: (req, res) => routes.handle(req, res),
    registerMetrics: (registry) => registerJobMetrics(registry, coordinator),
    close: () =>
      (closing ??= (async () => {
        await coordinator.close();
        await sender.close();
        await queue.close().catch(() => {});
        await closeRedis(senderConn);
        await closeRedis(bull);
        await closeRedis(api);
      })()),
  };
}

/** serve's sending settings, for its own sender and every `batchpost worker`; --rate as the queue's global limit. */
async function publishConfig(o: JobsOptions, redis: JobsRedis, queue: Queue, key: string): Promise<void> {
  const headers: HeaderMap = { ...(o.run.headers ?? {}) };
  if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/json';
  if (!hasHeader(headers, 'user-agent')) headers['user-agent'] = userAgent();
  const config: JobsConfig = {
    v: 1,
    run: JSON.stringify(configOf(o.run)),
    headers,
    idempotencyKey: o.run.idempotencyKey === true,
  };
  await redis.hset(key, { json: JSON.stringify(config) });
  if (o.run.rate !== null) {
    const { max, duration } = limiterOf(o.run.rate);
    await queue.setGlobalRateLimit(max, duration);
  } else await queue.removeGlobalRateLimit();
}

/**
 * A sender for `batchpost worker`: sends the lines of the namespace's batches once a serve has published them,
 * running serve's --auth-command itself; `onFatal` is told when that command fails (the worker stops).
 */
export async function startJobSender(
  redisUrl: string,
  namespace: string,
  concurrency: number | null,
  stallTimeoutMs: number,
  log: (line: string) => void,
  onFatal: (err: BatchpostError) => void,
): Promise<{ close(): Promise<void> }> {
  const conn = await connectRedis(redisUrl, 'batchpost-worker-jobs');
  const sender = new LinesSender({
    redis: defineJobScripts(conn),
    connection: conn,
    keys: jobKeysOf(namespace),
    concurrency,
    stallTimeoutMs,
    log,
    onFatal,
  });
  sender.start();
  return {
    close: async () => {
      await sender.close();
      await closeRedis(conn);
    },
  };
}
