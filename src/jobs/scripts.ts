// The Lua scripts batch jobs add in Redis: each change of a batch that two processes could race on (a worker
// recording a line while the coordinator moves the batch on, a cancel arriving mid-validation) is one atomic step.
import type { Redis } from 'ioredis';
import { LOCK_SCRIPT, UNLOCK_SCRIPT } from '../queue/redis.js';

const SCRIPTS = {
  /**
   * A line settled (ARGV: line, value, kind c|f|s): kept once, whoever records it first; the batch's counters move
   * only then, so a line sent twice (a worker killed after sending) is counted once and written once.
   */
  bpjSettle: {
    numberOfKeys: 2, // batch, results
    lua: `
      if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
      redis.call('HINCRBY', KEYS[1], 'settled', 1)
      if ARGV[3] == 'c' then redis.call('HINCRBY', KEYS[1], 'completed', 1)
      elseif ARGV[3] == 'f' then redis.call('HINCRBY', KEYS[1], 'failed', 1) end
      return 1`,
  },
  /** Moves a batch from one status to another (ARGV: from, to, then field/value pairs): 1, or 0 if it had moved on. */
  bpjMove: {
    numberOfKeys: 2, // batch, counts by status
    lua: `
      if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
      redis.call('HSET', KEYS[1], 'status', ARGV[2])
      redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
      redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
      if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
      return 1`,
  },
  /** Cancels (ARGV: now) a batch still validating or in progress: 1; 0 when it is past that; -1 when unknown. */
  bpjCancel: {
    numberOfKeys: 2, // batch, counts by status
    lua: `
      local s = redis.call('HGET', KEYS[1], 'status')
      if not s then return -1 end
      if s == 'cancelling' or s == 'cancelled' then return 1 end
      if s ~= 'validating' and s ~= 'in_progress' then return 0 end
      if redis.call('HGET', KEYS[1], 'ending') == 'expired' then return 0 end
      redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', ARGV[1], 'ending', 'cancelled')
      redis.call('HINCRBY', KEYS[2], s, -1)
      redis.call('HINCRBY', KEYS[2], 'cancelling', 1)
      return 1`,
  },
  /** Takes or renews the coordinator's lock (ARGV: token, ttl ms): 1, else 0. */
  bpjLock: LOCK_SCRIPT,
  bpjUnlock: UNLOCK_SCRIPT,
} as const;

export type JobsRedis = Redis & { [K in keyof typeof SCRIPTS]: (...args: (string | number)[]) => Promise<number> };

export function defineJobScripts(client: Redis): JobsRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script);
  return client as JobsRedis;
}
