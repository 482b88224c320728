// The /v1 routes: OpenAI's Files and Batches API as its SDKs call it. Every route needs the Bearer key; a Redis
// that cannot be reached is a 503 JOBS_UNAVAILABLE, never a crash.
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../server/reply.js';
import { readBody } from '../server/body.js';
import { ApiError, invalid, notFound, sendApiError, sendApiJson } from './api-error.js';
import type { BearerAuth } from './auth.js';
import { FINAL, type BatchSpec, type FileObject, type JobStore } from './store.js';
import { isBatchId, isFileId, newBatchId, newFileId, nowSeconds } from './ids.js';
import { receiveUpload, type UploadLimits } from './upload.js';

export interface RoutesOptions {
  store: JobStore;
  auth: BearerAuth;
  limits: UploadLimits;
  /** The upstream's origin: an endpoint must stay on it. */
  base: string;
  log: (line: string) => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse, id: string, url: URL) => Promise<void>;

export class JobRoutes {
  private readonly table: [method: string, pattern: RegExp, handler: Handler][];

  constructor(private readonly o: RoutesOptions) {
    this.table = [
      ['POST', /^\/v1\/files$/, (req, res) => this.upload(req, res)],
      ['GET', /^\/v1\/files$/, (_req, res, _id, url) => this.listFiles(res, url)],
      ['GET', /^\/v1\/files\/([^/]+)$/, (_req, res, id) => this.file(res, id)],
      ['GET', /^\/v1\/files\/([^/]+)\/content$/, (_req, res, id) => this.content(res, id)],
      ['DELETE', /^\/v1\/files\/([^/]+)$/, (_req, res, id) => this.deleteFile(res, id)],
      ['POST', /^\/v1\/batches$/, (req, res) => this.create(req, res)],
      ['GET', /^\/v1\/batches$/, (_req, res, _id, url) => this.listBatches(res, url)],
      ['GET', /^\/v1\/batches\/([^/]+)$/, (_req, res, id) => this.batch(res, id)],
      ['POST', /^\/v1\/batches\/([^/]+)\/cancel$/, (_req, res, id) => this.cancel(res, id)],
    ];
  }

  /** Handles /v1 requests (true), or leaves the request to serve's other routes (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://serve.invalid');
    if (url.pathname !== '/v1' && !url.pathname.startsWith('/v1/')) return false;
    void this.run(req, res, url);
    return true;
  }

  private async run(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      this.o.auth.check(req);
      const method = req.method ?? 'GET';
      const found = this.table.filter(([, p]) => p.test(url.pathname));
      if (found.length === 0) throw new ApiError(404, 'NOT_FOUND', `No route ${method} ${url.pathname}`);
      const route = found.find(([m]) => m === method);
      if (route === undefined)
        throw new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `${method} ${url.pathname}: use ${found.map(([m]) => m).join(', ')}`,
        );
      const id = decodeURIComponent(route[1].exec(url.pathname)![1] ?? '');
      await route[2](req, res, id, url);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (!(err instanceof ApiError) && err instanceof HttpError) err = new ApiError(err.status, err.code, err.message);
    if (err instanceof ApiError) {
      if (err.status === 413 || err.status >= 500)
        this.o.log(`batchpost: ${req.method} ${pathOnly(req)} ${err.status}: ${err.code} ${err.message}`);
      return sendApiError(res, err);
    }
    if (isRedisTrouble(this.o.store, err)) {
      return sendApiError(
        res,
        new ApiError(503, 'JOBS_UNAVAILABLE', 'The job store (Redis) cannot be reached; try again shortly'),
      );
    }
    this.o.log(
      `batchpost: ${req.method} ${pathOnly(req)} 500: internal error: ${(err as Error)?.stack ?? String(err)}`,
    );
    sendApiError(res, new ApiError(500, 'INTERNAL_ERROR', 'Internal error; the server log says more'));
  }

  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { store } = this.o;
    await store.redis.ping(); // refuse before reading 200 MB when Redis is away
    const id = newFileId();
    const dest = store.filePath(id);
    const got = await receiveUpload(req, `${dest}.part`, this.o.limits);
    if (got.purpose !== 'batch') {
      await fs.promises.rm(`${dest}.part`, { force: true });
      throw invalid("purpose must be 'batch' (the only purpose this server keeps files for)", 'purpose');
    }
    await fs.promises.rename(`${dest}.part`, dest);
    const file: FileObject = {
      id,
      object: 'file',
      bytes: got.bytes,
      created_at: nowSeconds(),
      expires_at: null,
      filename: got.filename,
      purpose: 'batch',
      status: 'processed',
      status_details: null,
    };
    try {
      await store.putFile(file, { lines: String(got.lines) });
    } catch (err) {
      await fs.promises.rm(dest, { force: true });
      throw err;
    }
    sendApiJson(res, 200, file);
  }

  private async listFiles(res: ServerResponse, url: URL): Promise<void> {
    const { store } = this.o;
    const { ids, hasMore } = await page(store, store.keys.files, url, 10_000);
    const files = await Promise.all(ids.map((id) => store.getFile(id)));
    const purpose = url.searchParams.get('purpose');
    const data = files.filter((f): f is FileObject => f !== null && (purpose === null || f.purpose === purpose));
    sendApiJson(res, 200, listOf(data, hasMore));
  }

  private async fileOr404(id: string): Promise<FileObject> {
    const f = isFileId(id) ? await this.o.store.getFile(id) : null;
    if (f === null) throw notFound(`file: ${id}`);
    return f;
  }

  private async file(res: ServerResponse, id: string): Promise<void> {
    sendApiJson(res, 200, await this.fileOr404(id));
  }

  private async content(res: ServerResponse, id: string): Promise<void> {
    const f = await this.fileOr404(id);
    const stream = fs.createReadStream(this.o.store.filePath(id));
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    }).catch(() => {
      throw notFound(`file content: ${id}`);
    });
    res.writeHead(200, { 'content-type': 'application/jsonl', 'content-length': String(f.bytes) });
    stream.pipe(res);
  }

  private async deleteFile(res: ServerResponse, id: string): Promise<void> {
    const { store } = this.o;
    await this.fileOr404(id);
    const batch = await store.redis.hget(store.keys.file(id), 'batch');
    if (batch !== null && (await store.redis.sismember(store.keys.active, batch)) === 1)
      throw new ApiError(
        409,
        'JOBS_INVALID_REQUEST',
        `The file is the input of ${batch}, still running; cancel it first`,
        'file_id',
      );
    await store.redis.multi().del(store.keys.file(id)).zrem(store.keys.files, id).exec();
    await fs.promises.rm(store.filePath(id), { force: true });
    sendApiJson(res, 200, { id, object: 'file', deleted: true });
  }

  private async create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, res, 1024 * 1024);
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid('The body must be JSON');
    }
    const spec = await this.specOf(v);
    const lines = Number(await this.o.store.redis.hget(this.o.store.keys.file(spec.input_file_id), 'lines'));
    await this.o.store.createBatch(spec, lines);
    this.o.log(`batchpost: jobs: ${spec.id} created from ${spec.input_file_id} → ${spec.endpoint}`);
    sendApiJson(res, 200, await this.o.store.getBatch(spec.id));
  }

  private async specOf(v: unknown): Promise<BatchSpec> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('The body must be a JSON object');
    const b = v as Record<string, unknown>;
    if (typeof b.input_file_id !== 'string') throw invalid('input_file_id is required', 'input_file_id');
    const file = await this.fileOr404(b.input_file_id).catch(() => {
      throw invalid(`No such file: ${String(b.input_file_id)}`, 'input_file_id');
    });
    if (file.purpose !== 'batch') throw invalid("The input file's purpose must be 'batch'", 'input_file_id');
    const endpoint = checkEndpoint(b.endpoint, this.o.base);
    const window = typeof b.completion_window === 'string' ? windowMs(b.completion_window) : null;
    if (window === null)
      throw invalid('completion_window must be a duration such as 24h, 90m, 30s or 2d', 'completion_window');
    return {
      id: newBatchId(),
      endpoint,
      input_file_id: file.id,
      completion_window: b.completion_window as string,
      window_ms: window,
      metadata: checkMetadata(b.metadata),
      created_at: nowSeconds(),
    };
  }

  private async listBatches(res: ServerResponse, url: URL): Promise<void> {
    const { store } = this.o;
    const { ids, hasMore } = await page(store, store.keys.batches, url, 20);
    const batches = await Promise.all(ids.map((id) => store.getBatch(id)));
    sendApiJson(
      res,
      200,
      listOf(
        batches.filter((b) => b !== null),
        hasMore,
      ),
    );
  }

  private async batchOr404(id: string): Promise<Record<string, unknown>> {
    const b = isBatchId(id) ? await this.o.store.getBatch(id) : null;
    if (b === null) throw notFound(`batch: ${id}`);
    return b;
  }

  private async batch(res: ServerResponse, id: string): Promise<void> {
    sendApiJson(res, 200, await this.batchOr404(id));
  }

  private async cancel(res: ServerResponse, id: string): Promise<void> {
    const { store } = this.o;
    const b = await this.batchOr404(id);
    const r = await store.redis.bpjCancel(store.keys.batch(id), store.keys.counts, nowSeconds());
    if (r === 0)
      throw new ApiError(
        409,
        'JOBS_INVALID_REQUEST',
        `The batch is ${String(b.status)} and can no longer be cancelled`,
      );
    this.o.log(`batchpost: jobs: ${id} cancelling`);
    sendApiJson(res, 200, await this.batchOr404(id));
  }
}

function pathOnly(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
}

function isRedisTrouble(store: JobStore, err: unknown): boolean {
  if (store.redis.status !== 'ready') return true;
  const m = (err as Error)?.message ?? '';
  return /Stream isn't writeable|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|LOADING|max retries/i.test(
    m,
  );
}

/** A page of a newest-first list: `limit` (1–100 for batches), `after` an id of the previous page. */
async function page(store: JobStore, key: string, url: URL, defaultLimit: number) {
  const limitText = url.searchParams.get('limit');
  const max = Math.max(100, defaultLimit);
  const limit = limitText === null ? defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw invalid(`limit must be an integer from 1 to ${max}`, 'limit');
  const after = url.searchParams.get('after');
  let start = 0;
  if (after !== null) {
    const rank = await store.redis.zrevrank(key, after);
    if (rank === null) throw invalid(`after: no such id ${after}`, 'after');
    start = rank + 1;
  }
  const ids = await store.redis.zrevrange(key, start, start + limit);
  return { ids: ids.slice(0, limit), hasMore: ids.length > limit };
}

function listOf<T extends { id?: unknown }>(data: T[], hasMore: boolean) {
  return {
    object: 'list',
    data,
    first_id: (data[0]?.id as string | undefined) ?? null,
    last_id: (data[data.length - 1]?.id as string | undefined) ?? null,
    has_more: hasMore,
  };
}

/** An endpoint is a path on the upstream (/v1/chat/completions, /orders): never another origin. */
function checkEndpoint(v: unknown, base: string): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || /[\s#\\]/.test(v))
    throw invalid('endpoint must be a path such as /v1/chat/completions', 'endpoint');
  if (new URL(base + v).origin !== new URL(base).origin)
    throw invalid('endpoint must stay on the upstream', 'endpoint');
  return v;
}

const WINDOW_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "24h", "90m", "2s", "7d", at most 30 days; null when malformed. */
export function windowMs(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) return null;
  const ms = Number(m[1]) * WINDOW_UNITS[m[2]!]!;
  return ms >= 1_000 && ms <= 30 * 86_400_000 ? ms : null;
}

function checkMetadata(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('metadata must be an object of strings', 'metadata');
  const entries = Object.entries(v);
  if (entries.length > 16) throw invalid('metadata holds at most 16 pairs', 'metadata');
  for (const [k, val] of entries) {
    if (k.length > 64 || typeof val !== 'string' || val.length > 512)
      throw invalid('metadata keys are at most 64 characters, values strings of at most 512', 'metadata');
  }
  return v as Record<string, string>;
}

export { FINAL };
