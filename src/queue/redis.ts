// Connections to Redis and the few Lua scripts batchpost adds beside BullMQ's. Scripts run atomically on the
// server and read its clock, so hosts with skewed clocks still agree on which workers are alive.
import { Redis } from 'ioredis';
import { BatchpostError } from '../engine/errors.js';
import { tryUrl } from '../util/url.js';
import { redactUrl } from './names.js';

/** A worker is alive while its last heartbeat is younger than this (heartbeats go every second). */
export const WORKER_ALIVE_MS = 3_000;

/** A lock in one key (ARGV: the holder's token, ttl ms): taken, or renewed by its holder: 1, else 0. */
export const LOCK_SCRIPT = {
  numberOfKeys: 1,
  lua: `
      local held = redis.call('GET', KEYS[1])
      if held == false or held == ARGV[1] then
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
      end
      return 0`,
} as const;

/** Releases a LOCK_SCRIPT lock only for its holder (ARGV: token). */
export const UNLOCK_SCRIPT = {
  numberOfKeys: 1,
  lua: `
      if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
      return 0`,
} as const;

const SCRIPTS = {
  /** A worker's results (ARGV: gen, then id/json pairs): kept for the run (even one restarted with --resume) and announced, unless the run is gone. */
  bpStoreResults: {
    numberOfKeys: 3, // config, results, done
    lua: `
      if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
      redis.call('HSET', KEYS[2], unpack(ARGV, 2))
      for i = 2, #ARGV, 2 do
        redis.call('XADD', KEYS[3], '*', 'i', ARGV[i], 'r', ARGV[i + 1])
      end
      return 1`,
  },
  /**
   * A worker says it is alive (server time; the set expires when every worker has gone quiet) and learns the run's
   * config revision, or nil when the run is gone (then it writes nothing, so a finished run stays deleted).
   */
  bpHeartbeat: {
    numberOfKeys: 2, // workers, config
    lua: `
      local rev = redis.call('HGET', KEYS[2], 'rev')
      if not rev then return false end
      local t = redis.call('TIME')
      redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return rev`,
  },
  /** Workers heard from within ARGV[1] ms. */
  bpLiveWorkers: {
    numberOfKeys: 1,
    lua: `
      local t = redis.call('TIME')
      local now = t[1] * 1000 + math.floor(t[2] / 1000)
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
      return redis.call('ZCARD', KEYS[1])`,
  },
  /** Takes the run's lock, or renews it when this process already holds it: 1, else 0. */
  bpLock: LOCK_SCRIPT,
  /** Releases the lock only if this process holds it. */
  bpUnlock: UNLOCK_SCRIPT,
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** An ioredis client with batchpost's scripts defined on it. */
export type BpRedis = Redis & { [K in ScriptName]: (...args: (string | number)[]) => Promise<unknown> };

export function checkRedisUrl(url: string, option: string): void {
  const u = tryUrl(url);
  if (u === null) {
    throw new BatchpostError(
      'USAGE',
      `${option} "${redactUrl(url)}": expected a Redis URL such as redis://127.0.0.1:6379`,
    );
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new BatchpostError(
      'USAGE',
      `${option} "${redactUrl(url)}": expected redis://host:port[/db] (or rediss:// for TLS)`,
    );
  }
  if (!/^\/?(\d{1,9})?$/.test(u.pathname)) {
    throw new BatchpostError(
      'USAGE',
      `${option} "${redactUrl(url)}": the path names a database by its number (redis://host:port/2), not "${u.pathname}"`,
    );
  }
}

/** How long the first connection may take to answer: a port that accepts and never answers is not a Redis. */
const PROBE_MS = 5_000;

/**
 * A connected client (BullMQ's requirement: no per-command retry limit, so commands wait out a reconnect). Throws
 * QUEUE_UNAVAILABLE when Redis cannot be reached now or does not answer, and QUEUE_UNSAFE_REDIS when it may evict
 * keys; later outages are retried for ever, and `onState` hears of them.
 */
export async function connectRedis(
  url: string,
  name: string,
  onState?: (up: boolean, error?: string) => void,
): Promise<BpRedis> {
  await probe(url);
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    connectTimeout: 10_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  }) as BpRedis;
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script);
  let lastError = '';
  client.on('error', (err: Error) => (lastError = err.message));
  client.on('reconnecting', () => onState?.(false, lastError));
  client.on('ready', () => onState?.(true));
  return client;
}

/**
 * One connection attempt, no retries, answered within PROBE_MS: a clear error now beats a run that waits for ever
 * on a typo, a port that is not Redis, or a Redis that would lose its jobs.
 */
async function probe(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    connectTimeout: PROBE_MS,
    commandTimeout: PROBE_MS,
  });
  let cause = '';
  client.on('error', (err: Error) => (cause ||= err.message));
  // What the probe waits for: a server that answered the first commands and then froze is told apart from one
  // that never answered at all (not Redis, or frozen from the start).
  const step: ProbeStep = { doing: null };
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(silentProbeText(step))), PROBE_MS);
  });
  try {
    await Promise.race([checkServer(client, url, step), silent]);
  } catch (err) {
    if (err instanceof BatchpostError) throw err;
    const why = cause || (err as Error).message;
    throw new BatchpostError(
      'QUEUE_UNAVAILABLE',
      `cannot reach Redis at ${redactUrl(url)}: ${why}`,
      'Start Redis (redis-server) or fix the URL: redis://host:port[/db].',
    );
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** The probe's current command once the server has answered one; null before. */
interface ProbeStep {
  doing: string | null;
}

function silentProbeText(step: ProbeStep): string {
  const within = `within ${PROBE_MS / 1000}s`;
  if (step.doing === null) return `it accepted the connection but did not answer ${within}`;
  return `it answered, then stopped answering ${within} (while ${step.doing})`;
}

/** Version, database and eviction policy: what batchpost needs of the Redis at `url`. */
async function checkServer(client: Redis, url: string, step: ProbeStep): Promise<void> {
  await client.connect();
  step.doing = 'reading its version';
  const info = await client.info('server');
  const version = /redis_version:(\d+)\.(\d+)/.exec(info);
  if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
    throw new BatchpostError(
      'QUEUE_UNAVAILABLE',
      `Redis at ${redactUrl(url)} is version ${version[1]}.${version[2]}; batchpost needs 6.2 or later`,
    );
  }
  step.doing = 'checking the database the URL names';
  await checkDatabase(client, url);
  step.doing = 'reading its maxmemory-policy';
  const policy = await evictionPolicy(client);
  if (policy !== null && policy !== 'noeviction') {
    throw new BatchpostError(
      'QUEUE_UNSAFE_REDIS',
      `Redis at ${redactUrl(url)} evicts keys when its memory is full (maxmemory-policy ${policy}): an evicted job or result is a request lost, and the run would wait for it for ever`,
      'Set `CONFIG SET maxmemory-policy noeviction` on that Redis (and `maxmemory-policy noeviction` in its redis.conf), or use another Redis.',
    );
  }
}

/** ioredis goes on in database 0 when SELECT fails: a database the server does not have is refused here instead. */
async function checkDatabase(client: Redis, url: string): Promise<void> {
  const db = Number(new URL(url).pathname.slice(1) || '0');
  if (db === 0) return;
  try {
    await client.select(db);
  } catch (err) {
    const count = await configValue(client, 'databases');
    const has = count === null ? '' : ` (it has ${count}: 0 to ${Number(count) - 1})`;
    throw new BatchpostError(
      'QUEUE_UNAVAILABLE',
      `Redis at ${redactUrl(url)} has no database ${db}${has}: ${(err as Error).message}`,
      'Name a database the server has in the URL (redis://host:port/N), or raise `databases` in its redis.conf.',
    );
  }
}

/** The server's maxmemory-policy: from CONFIG GET, or INFO where CONFIG is disabled or renamed; null if neither says. */
async function evictionPolicy(client: Redis): Promise<string | null> {
  const configured = await configValue(client, 'maxmemory-policy');
  if (configured !== null) return configured;
  const info = await client.info('memory');
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
}

/** A CONFIG GET value, or null when CONFIG is refused (renamed, disabled, or not allowed to this user). */
async function configValue(client: Redis, name: string): Promise<string | null> {
  try {
    const reply = (await client.config('GET', name)) as unknown;
    return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
  } catch {
    return null;
  }
}

/**
 * Redis may be silent (a frozen server, a dropped network) or refuse connections (restarting) this long before a
 * run or a worker gives up on it: a restart fits well inside, a hang never ends on its own.
 */
export const UNANSWERED_MS = 10_000;

/**
 * Once a second, a PING on `client` (one at a time: one sent while Redis is away waits for the reconnection, and
 * BullMQ's need for unlimited retries rules out a command timeout on the client). `onSilent` hears, once, when no
 * PING has been answered for UNANSWERED_MS, whether Redis refused connections all along or accepted and stayed
 * silent. Returns the function that stops the watch.
 */
export function watchAnswers(client: Redis, onSilent: (silentMs: number) => void): () => void {
  let lastAnswer = Date.now();
  let pinging = false;
  const timer = setInterval(() => {
    const silentMs = Date.now() - lastAnswer;
    if (silentMs >= UNANSWERED_MS) {
      clearInterval(timer);
      return onSilent(silentMs);
    }
    if (pinging) return;
    pinging = true;
    client.ping().then(
      () => {
        pinging = false;
        lastAnswer = Date.now();
      },
      () => (pinging = false), // refused or disconnected: the clock keeps running
    );
  }, 1_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** `host:port` of a Redis URL, for messages: never its password. */
export function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '6379'}`;
}

/**
 * `work` on `client` where nothing else watches Redis (start-up, shutdown), given up like a mid-run silence: when
 * no PING is answered for UNANSWERED_MS (watchAnswers), the client is dropped, so the commands `work` waits on
 * fail at once, and this throws QUEUE_UNAVAILABLE saying what `doing()` was and where Redis is.
 */
export async function whileAnswering<T>(
  client: Redis,
  url: string,
  doing: () => string,
  work: Promise<T>,
  hint: string,
): Promise<T> {
  work.catch(() => {}); // after a silence its commands fail: nobody waits for it any more
  let unwatch = () => {};
  const silent = new Promise<never>((_, reject) => {
    unwatch = watchAnswers(client, (silentMs) => {
      client.disconnect();
      reject(silentError(url, doing(), silentMs, hint));
    });
  });
  try {
    return await Promise.race([work, silent]);
  } finally {
    unwatch();
  }
}

/** QUEUE_UNAVAILABLE for a Redis that answered nothing for `silentMs` while `doing`. */
function silentError(url: string, doing: string, silentMs: number, hint: string): BatchpostError {
  return new BatchpostError(
    'QUEUE_UNAVAILABLE',
    `Redis at ${hostOf(url)} did not answer for ${Math.round(silentMs / 1000)}s while ${doing} (stopped, frozen, overloaded, or cut off)`,
    hint,
  );
}

/** Closes a client, waiting for replies in flight when it can; never throws. */
export async function closeRedis(client: Redis | null | undefined): Promise<void> {
  if (!client || client.status === 'end') return;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  } catch {
    // already gone
  }
  client.disconnect();
}
