// Names in Redis for batch jobs: everything of one namespace lives under `batchpost:jobs:<namespace>:`, beside the
// BullMQ queue (`batchpost:bpjobs-<namespace>:…`) whose jobs carry the lines to send. Several serve processes (and
// test runs) share one Redis by picking distinct namespaces (--jobs-namespace).
import { BatchpostError } from '../engine/errors.js';

const NAMESPACE = /^[A-Za-z0-9_.-]{1,40}$/;

export function checkNamespace(name: string): string {
  if (!NAMESPACE.test(name))
    throw new BatchpostError('USAGE', `--jobs-namespace "${name}": use 1 to 40 letters, digits, '.', '_' or '-'`);
  return name;
}

export function jobKeysOf(namespace: string) {
  const base = `batchpost:jobs:${namespace}:`;
  return {
    /** BullMQ queue name (under BullMQ prefix `batchpost`). */
    queue: `bpjobs-${namespace}`,
    /** Hash: json (the sender and transport config workers use), base (the upstream base URL). */
    config: `${base}config`,
    /** String with a TTL: the serve process driving the batches' lifecycle. */
    lock: `${base}lock`,
    /** Sorted set: file id by creation time (ms). */
    files: `${base}files`,
    /** Hash of one file: json (the file object), path (under --data-dir). */
    file: (id: string) => `${base}file:${id}`,
    /** Sorted set: batch id by creation time (ms). */
    batches: `${base}batches`,
    /** Hash: status → number of batches in it (the /metrics gauge). */
    counts: `${base}counts`,
    /** Set: batches not in a final state, which the coordinator drives. */
    active: `${base}active`,
    /** Hash of one batch: see BatchFields in batch-store.ts. */
    batch: (id: string) => `${base}batch:${id}`,
    /** Hash of one batch's settled lines: line number → `o`/`e` + output line, or `-` + custom_id (not sent). */
    results: (id: string) => `${base}res:${id}`,
  };
}

export type JobKeys = ReturnType<typeof jobKeysOf>;
