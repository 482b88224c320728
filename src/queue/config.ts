// What a run tells its workers, stored once per run in Redis (QueueKeys.config): everything a worker's Sender and
// transport need besides the requests themselves, which travel fully built in each job. Expressions travel as
// source text and are compiled by each worker.
import type { ResolvedOptions } from '../engine/options.js';
import { compileSender, senderConfigOf, type SenderConfig } from '../engine/sender-config.js';
import type { SenderOptions } from '../engine/sender.js';
import {
  proxyEnvOf,
  transportConfigOf,
  KEY_PASSPHRASE_VAR,
  type Env,
  type TransportConfig,
} from '../transport/config.js';
import { requestsPerJob } from './job.js';

/**
 * The shape of QueueRunConfig. A worker that misread a run's config would send differently from what the run asked,
 * so run and workers must agree on it: anything a worker must understand (a field here, in SenderConfig or in
 * TransportConfig) raises it, and a worker refuses a config of another version (parseRunConfig).
 */
export const QUEUE_CONFIG_VERSION = 4;

/**
 * A worker's Sender choices (SenderConfig: `concurrency` is per worker unless the worker says otherwise, `rate` the
 * global rate BullMQ's limiter enforces, shown in log lines) and what else workers need of the run.
 */
export interface QueueRunConfig extends SenderConfig {
  v: typeof QUEUE_CONFIG_VERSION;
  /** For workers' log lines: what the run sends to. */
  method: string;
  url: string;
  /** Requests per BullMQ job (see requestsPerJob): workers size their active jobs by it. */
  perJob: number;
  /**
   * How workers connect: the run's choices, `connections` replaced by each worker's concurrency (transportOf). The
   * certificates travel as PEM text (a worker needs no copy of the files); the environment's proxies and the key's
   * passphrase do not: each worker reads its own environment, as its machine's network may differ from the run's.
   */
  transport: TransportConfig;
}

/** The same choices a local run's Sender gets (see Run's constructor), as data. */
export function configOf(run: ResolvedOptions): QueueRunConfig {
  return {
    v: QUEUE_CONFIG_VERSION,
    method: run.method,
    url: run.url,
    perJob: requestsPerJob(run.concurrency, run.rate),
    ...senderConfigOf(run),
    transport: sharedTransport(transportConfigOf(run, {})),
  };
}

/** The run's transport choices without what stays on the run's machine: its proxy environment and key passphrase. */
function sharedTransport(t: TransportConfig): TransportConfig {
  if (t.proxy?.env !== undefined) {
    const { env: _env, ...proxy } = t.proxy;
    t.proxy = proxy;
  }
  if (t.tls?.passphrase !== undefined) {
    const { passphrase: _p, ...tls } = t.tls;
    t.tls = tls;
  }
  return t;
}

/** A run's config as stored in Redis (QueueKeys.config `json`); throws when another batchpost version wrote it. */
export function parseRunConfig(json: string): QueueRunConfig {
  const config = JSON.parse(json) as { v?: unknown };
  if (config.v !== QUEUE_CONFIG_VERSION)
    throw new Error(
      `the run was queued by another batchpost version (config v${String(config.v)}); use the same version for run and workers`,
    );
  return config as QueueRunConfig;
}

/**
 * A worker's Sender options. No rate of its own: BullMQ's limiter spaces job starts across all workers, so a
 * worker's local pacer would only slow it further.
 */
export function senderOptionsOf(c: QueueRunConfig, concurrency: number): SenderOptions {
  return compileSender({ ...c, concurrency, rate: null });
}

/**
 * A worker's transport: the run's, with as many connections as the worker keeps requests in flight, the proxies of
 * the worker's environment (--proxy, when the run gave it, still wins) and the key passphrase from it.
 */
export function transportOf(c: QueueRunConfig, concurrency: number, env: Env = process.env): TransportConfig {
  const t: TransportConfig = { ...c.transport, connections: concurrency };
  const proxyEnv = proxyEnvOf(env, t.proxy?.url !== undefined && t.proxy.url !== '');
  if (proxyEnv !== undefined) t.proxy = { ...t.proxy, env: proxyEnv };
  const passphrase = env[KEY_PASSPHRASE_VAR];
  if (t.tls?.key !== undefined && passphrase !== undefined) t.tls = { ...t.tls, passphrase };
  return t;
}

/**
 * --rate as BullMQ's limiter: at most `max` job starts per fixed window of `duration` ms, shared by every worker.
 * Windows are whole milliseconds, so a window of 1000/rate ms is rounded up (the real rate is never above the one
 * asked). One start per window while that rounding keeps the rate within 3 % (every rate up to 33/s, and many
 * above); else the fewest starts per window (windows of 10 to about 50 ms) that do, or come closest.
 */
export function limiterOf(rate: number): { max: number; duration: number } {
  const durationOf = (max: number) => Math.ceil((1000 * max) / rate);
  const errorOf = (max: number) => (durationOf(max) * rate) / (1000 * max) - 1;
  let best: number | null = null;
  const last = Math.max(Math.ceil(rate / 100) + 9, Math.ceil(rate / 20));
  for (let max = 1; max <= last; max++) {
    if (durationOf(max) < 10 && max < last) continue; // windows under 10 ms: let more starts share one
    if (errorOf(max) <= 0.03) return { max, duration: durationOf(max) };
    if (best === null || errorOf(max) < errorOf(best)) best = max;
  }
  return { max: best!, duration: durationOf(best!) };
}
