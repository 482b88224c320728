// The files and batches as Redis holds them, and the objects the API answers with (OpenAI's field names). A batch
// is a hash: `obj` (what never changes: endpoint, input file, window, metadata, created_at), `status`, the
// counters workers move (`settled`, `completed`, `failed`), the coordinator's progress (`total`, `fed`, `cursor`)
// and the timestamps of each status, in epoch seconds.
import path from 'node:path';
import type { JobKeys } from './keys.js';
import type { JobsRedis } from './scripts.js';

export type BatchStatus =
  'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export const FINAL: ReadonlySet<string> = new Set(['failed', 'completed', 'expired', 'cancelled']);
export const STATUSES: readonly BatchStatus[] = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
];

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
}

/** What a batch is created with and keeps. */
export interface BatchSpec {
  id: string;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  /** The window in ms (completion_window parsed). */
  window_ms: number;
  metadata: Record<string, string> | null;
  created_at: number;
}

const TIMES = [
  'in_progress_at',
  'finalizing_at',
  'completed_at',
  'failed_at',
  'expired_at',
  'cancelling_at',
  'cancelled_at',
] as const;

export class JobStore {
  constructor(
    readonly redis: JobsRedis,
    readonly keys: JobKeys,
    readonly dataDir: string,
  ) {}

  filePath(id: string): string {
    return path.join(this.dataDir, 'files', `${id}.jsonl`);
  }

  async putFile(file: FileObject, extra: Record<string, string> = {}): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.file(file.id), { json: JSON.stringify(file), ...extra })
      .zadd(this.keys.files, Date.now(), file.id)
      .exec();
  }

  async getFile(id: string): Promise<FileObject | null> {
    const json = await this.redis.hget(this.keys.file(id), 'json');
    return json === null ? null : (JSON.parse(json) as FileObject);
  }

  async createBatch(spec: BatchSpec, inputLines: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.batch(spec.id), {
        obj: JSON.stringify(spec),
        status: 'validating',
        total: String(inputLines),
        settled: '0',
        completed: '0',
        failed: '0',
        fed: '0',
        cursor: '0',
      })
      .zadd(this.keys.batches, Date.now(), spec.id)
      .sadd(this.keys.active, spec.id)
      .hincrby(this.keys.counts, 'validating', 1)
      .hset(this.keys.file(spec.input_file_id), 'batch', spec.id)
      .exec();
  }

  async batchFields(id: string): Promise<Record<string, string> | null> {
    const h = await this.redis.hgetall(this.keys.batch(id));
    return h.obj === undefined ? null : h;
  }

  async getBatch(id: string): Promise<Record<string, unknown> | null> {
    const h = await this.batchFields(id);
    return h === null ? null : batchObject(h);
  }
}

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

/** The batch object as OpenAI's API returns it. */
export function batchObject(h: Record<string, string>): Record<string, unknown> {
  const spec = JSON.parse(h.obj!) as BatchSpec;
  const status = h.status as BatchStatus;
  const times = Object.fromEntries(TIMES.map((t) => [t, num(h[t])]));
  const validating = status === 'validating' || (status === 'failed' && h.in_progress_at === undefined);
  return {
    id: spec.id,
    object: 'batch',
    endpoint: spec.endpoint,
    errors: h.errors === undefined ? null : { object: 'list', data: JSON.parse(h.errors) as unknown },
    input_file_id: spec.input_file_id,
    completion_window: spec.completion_window,
    status,
    output_file_id: FINAL.has(status) ? h.output_file_id || null : null,
    error_file_id: FINAL.has(status) ? h.error_file_id || null : null,
    created_at: spec.created_at,
    ...times,
    expires_at: spec.created_at + Math.ceil(spec.window_ms / 1000),
    request_counts: {
      total: validating ? 0 : Number(h.total ?? 0),
      completed: Number(h.completed ?? 0),
      failed: Number(h.failed ?? 0),
    },
    metadata: spec.metadata,
  };
}
