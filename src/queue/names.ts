// Names in Redis: the queue a run uses, the BullMQ job id of each request, and batchpost's own keys beside
// BullMQ's. Everything of one run lives under `batchpost:<queue>:`, so `redis-cli --scan --pattern 'batchpost:<queue>:*'`
// shows it all, and a finished run deletes it all.
import { createHash } from 'node:crypto';
import { BatchpostError } from '../engine/errors.js';

/** BullMQ's key prefix for batchpost queues (BullMQ's default is `bull`). */
export const PREFIX = 'batchpost';

/** Runs waiting for workers: a hash of queue name → a JSON line describing the run (workers without --queue-name read it). */
export const REGISTRY_KEY = `${PREFIX}:bp-runs`;

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,80}$/;

/** --queue-name as given, or `bp-<run id>`: the same command run again (as --resume does) finds the same queue. */
export function queueNameOf(given: string | undefined, runId: string): string {
  if (given !== undefined) {
    if (!QUEUE_NAME.test(given)) {
      throw new BatchpostError('USAGE', `--queue-name "${given}": use 1 to 80 letters, digits, '.', '_' or '-'`);
    }
    return given;
  }
  const safe = /^[A-Za-z0-9_-]{1,40}$/.test(runId)
    ? runId
    : createHash('sha256').update(runId).digest('base64url').slice(0, 16);
  return `bp-${safe}`;
}

/**
 * The BullMQ job id of a request id: BullMQ refuses ids that are integers or hold `:`, so short plain ids get a
 * prefix (`r-17`) and anything else is hashed (`h-…`, 128 bits). The same request id gives the same job id within a
 * run's queue, so adding it twice adds it once.
 */
export function jobIdOf(id: string): string {
  if (/^[A-Za-z0-9_.-]{1,64}$/.test(id)) return `r-${id}`;
  return `h-${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`;
}

/** batchpost's keys for one queue, beside BullMQ's own (`bp-` never starts a job id, see jobIdOf). */
export function keysOf(queue: string) {
  const base = `${PREFIX}:${queue}:bp-`;
  return {
    /** Hash: gen (the logical run), rev (this run process), json (QueueRunConfig). */
    config: `${base}config`,
    /** Hash: request id → Result JSON, written by workers, deleted once the run has recorded it. */
    results: `${base}results`,
    /** Stream of {i: request id, r: Result JSON}: how the run hears of results as they happen. */
    done: `${base}done`,
    /** Sorted set: worker id → last heartbeat (Redis time, ms). */
    workers: `${base}workers`,
    /** String: the run process holding this queue (host/pid/token), with a TTL it keeps renewing. */
    lock: `${base}lock`,
  };
}

export type QueueKeys = ReturnType<typeof keysOf>;

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
