// What one BullMQ job carries: a few requests (one with --rate), each built by the run exactly as a local run builds
// it, so a worker sends them without knowing the payloads, templates or --body. Several requests per job spread
// BullMQ's per-job cost (its scripts, events and locks) over them; with --rate each request is its own job, because
// BullMQ's limiter counts jobs. Short field names: there are many of these.
import { createHash } from 'node:crypto';
import type { HeaderMap, OutgoingRequest, Result } from '../engine/types.js';
import { unsentResult } from '../engine/unsent.js';
import { jobIdOf } from './names.js';

export interface JobData {
  /** The logical run (config `gen`) that queued it: a worker stores results only for the run still in Redis. */
  g: string;
  /** Method, URL and headers of most requests (those of the first); an item carries its own when they differ. */
  m: string;
  u: string;
  h: HeaderMap;
  r: JobItem[];
}

export interface JobItem {
  /** The request id (the results file's `id`). */
  i: string;
  /** Body text, or base64 bytes when `b64` is set; null for none. */
  b: string | null;
  b64?: 1;
  /** The request hash recorded in the result (Result.hash). */
  x?: string;
  m?: string;
  u?: string;
  h?: HeaderMap;
}

export interface Queued {
  id: string;
  request: OutgoingRequest;
  hash: string | undefined;
}

/** Requests per job: a few per request a worker keeps in flight (their --concurrency), at most 50; 1 with --rate. */
export function requestsPerJob(concurrency: number, rate: number | null): number {
  return rate !== null ? 1 : Math.max(1, Math.min(50, Math.ceil(concurrency / 2)));
}

/**
 * BullMQ jobs a worker keeps active for `concurrency` requests in flight: one more job than fills them, so the
 * next requests are at hand; exactly `concurrency` with one request per job (then BullMQ's limiter paces sends).
 */
export function activeJobsFor(concurrency: number, perJob: number): number {
  return perJob === 1 ? concurrency : Math.ceil(concurrency / perJob) + 1;
}

export function jobOf(items: Queued[], gen: string): { name: string; data: JobData; opts: { jobId: string } } {
  const first = items[0]!.request;
  const data: JobData = { g: gen, m: first.method, u: first.url, h: first.headers, r: [] };
  for (const { id, request, hash } of items) {
    const item: JobItem = { i: id, b: null };
    if (typeof request.body === 'string') item.b = request.body;
    else if (request.body !== null) {
      item.b = Buffer.from(request.body).toString('base64');
      item.b64 = 1;
    }
    if (hash !== undefined) item.x = hash;
    if (request.method !== data.m) item.m = request.method;
    if (request.url !== data.u) item.u = request.url;
    // Shared headers are one object on the plain path (RequestBuilder), so identity says "same" for free.
    if (request.headers !== data.h && JSON.stringify(request.headers) !== JSON.stringify(data.h))
      item.h = request.headers;
    data.r.push(item);
  }
  // One request: its own id (adding it twice adds it once). Several: named after all of them.
  const jobId =
    items.length === 1
      ? jobIdOf(items[0]!.id)
      : `c-${createHash('sha256')
          .update(items.map((q) => q.id).join('\n'))
          .digest('base64url')
          .slice(0, 22)}`;
  return { name: 'requests', data, opts: { jobId } };
}

export function requestOf(d: JobData, item: JobItem): OutgoingRequest {
  return {
    method: item.m ?? d.m,
    url: item.u ?? d.u,
    headers: item.h ?? d.h,
    body: item.b === null ? null : item.b64 ? Buffer.from(item.b, 'base64') : item.b,
  };
}

/** The request ids a job carries (tolerant of foreign or malformed jobs). */
export function idsOf(data: unknown): string[] {
  const items = (data as Partial<JobData> | undefined)?.r;
  return Array.isArray(items) ? items.map((it) => it?.i).filter((i): i is string => typeof i === 'string') : [];
}

/** A stored result as the run records it; a line that does not parse (never expected) becomes a failed result. */
export function parseResult(id: string, json: string): Result {
  try {
    const r = JSON.parse(json) as Result;
    if (r !== null && typeof r === 'object' && r.id === id) return r;
  } catch {
    // fall through
  }
  return unsentResult(
    id,
    'QUEUE_JOB_FAILED',
    'a worker stored a result batchpost cannot read; the request may have been sent',
  );
}

/** A job BullMQ gave up on (its workers died mid-request too often, or the worker crashed): recorded as failed. */
export function failedJobResult(
  id: string,
  reason: string,
  attempts: number,
  startedAt: number | undefined,
  hash: string | undefined,
): Result {
  const result: Result = {
    id,
    ok: false,
    status: null,
    attempts,
    durationMs: 0,
    response: null,
    error: {
      code: 'QUEUE_JOB_FAILED',
      message: `no worker finished this request (${reason}); it may have been sent. Check the server, then re-run with --retry-failed`,
    },
    startedAt: startedAt ?? Date.now(),
  };
  if (hash !== undefined) result.hash = hash;
  return result;
}
