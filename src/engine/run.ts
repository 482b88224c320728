// The run loop: reads payloads as fast as the queue drains (backpressure), sends each through the transport with
// exact concurrency and even pacing, retries per the policy, and hands every outcome to the sink exactly once.
// A graceful stop lets requests in flight finish; an abort cancels them. Requests that never completed are not
// recorded, so --resume sends them again.
import { STATUS_CODES } from 'node:http';
import PQueue from 'p-queue';
import { compileExpr, TemplateError, type Expr } from '../expr/index.js';
import { httpCode, TransportError } from './errors.js';
import { IdAssigner } from './ids.js';
import type { ResolvedOptions } from './options.js';
import { Pacer } from './pacer.js';
import { RequestBuilder } from './request.js';
import { IDEMPOTENT_METHODS, RETRY_DEFAULTS, parseRetryAfter, retryDelayMs, shouldRetry, type RetryPolicy } from './retry.js';
import { buildSummary, countResult, createStats, Latency } from './stats.js';
import type { InputError, InputRecord, OutgoingRequest, Result, RunStats, Sink, Summary, Transport, TransportResponse } from './types.js';

interface Job {
  id: string;
  request: OutgoingRequest;
  attempts: number;
  startedAt: number;
}

export interface RunDeps {
  transport: Transport;
  sink: Sink;
  /** Known total for progress displays (a counted file); null when streaming from a pipe. */
  total?: number | null;
}

/** Marks an abort the run asked for, as opposed to a per-attempt timeout. */
const ABORTED = new Error('run aborted');
const STOPPED: unique symbol = Symbol('stopped');

export class Run {
  readonly stats: RunStats;
  private readonly queue: PQueue;
  private readonly pacer: Pacer | null;
  private readonly builder: RequestBuilder;
  private readonly policy: RetryPolicy;
  private readonly ids: IdAssigner;
  private readonly transform: Expr | null;
  private readonly latency = new Latency();
  private readonly controllers = new Set<AbortController>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private outstanding = 0;
  private readingDone = false;
  private settle: (() => void) | null = null;
  private stopping = false;
  /** Wakes the reader's one pending wait when the run stops (see `untilStopped`). */
  private wakeReader: (() => void) | null = null;
  private inputError: InputError | null = null;
  private readonly timeoutError: TransportError;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly deps: RunDeps,
  ) {
    this.stats = createStats(deps.total ?? null);
    this.queue = new PQueue({ concurrency: o.concurrency });
    this.pacer = o.rate === null ? null : new Pacer(o.rate);
    this.builder = new RequestBuilder(o);
    this.ids = new IdAssigner(o.idField, o.skipInvalid);
    this.transform = o.transform === undefined ? null : compileExpr(o.transform, '--transform');
    const hasKey = o.idempotencyKey || Object.keys(o.headers).some((h) => h.toLowerCase() === 'idempotency-key');
    this.policy = {
      retries: o.retries,
      repeatable: o.retryUnsafe || hasKey || IDEMPOTENT_METHODS.has(o.method),
      unrepeatableReason: `${o.method} without an idempotency key`,
      baseDelayMs: o.retryBaseDelayMs,
      maxDelayMs: RETRY_DEFAULTS.maxDelayMs,
      maxRetryAfterMs: o.maxRetryAfterMs,
    };
    this.timeoutError = new TransportError('TIMEOUT', `no answer within ${formatMs(o.timeoutMs)} (--timeout)`);
  }

  /** Graceful: start nothing new, let requests in flight finish. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeReader?.();
    // Queued jobs never run once cleared, so their share of `outstanding` is released here, as is that of
    // jobs waiting out a retry delay.
    this.outstanding -= this.queue.size + this.retryTimers.size;
    this.queue.clear();
    this.pacer?.cancel(STOPPED);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.recount();
  }

  /** Hard: also cancel requests in flight; they are not recorded. */
  abort(): void {
    this.stop();
    for (const c of this.controllers) c.abort(ABORTED);
  }

  get interrupted(): boolean {
    return this.stopping && this.inputError === null;
  }

  async execute(records: AsyncIterable<InputRecord>): Promise<Summary> {
    const t0 = performance.now();
    this.stats.startedAt = Date.now();
    const onAbort = () => this.abort();
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.o.signal?.aborted) this.abort();
    const done = new Promise<void>((resolve) => (this.settle = resolve));
    let readError: unknown = null;
    try {
      await this.read(records);
    } catch (err) {
      // The input broke (an I/O error): what is in flight still finishes and is recorded before the error surfaces.
      readError = err;
      this.stop();
    } finally {
      this.readingDone = true;
      this.recount();
    }
    await done;
    this.o.signal?.removeEventListener('abort', onAbort);
    if (readError !== null) throw readError;
    return buildSummary(this.stats, this.latency, performance.now() - t0, this.interrupted, this.inputError);
  }

  private async read(records: AsyncIterable<InputRecord>): Promise<void> {
    const it = records[Symbol.asyncIterator]();
    const highWater = this.o.concurrency * 2 + 16;
    try {
      while (!this.stopping) {
        const next = await this.untilStopped(it.next());
        if (next === STOPPED || next.done) break;
        const record = next.value;
        this.stats.read++;
        const outcome = this.ids.next(record);
        if (!('id' in outcome)) {
          this.fail(outcome.code, outcome.message, record);
          break;
        }
        const id = outcome.id;
        if (this.o.skipIds.has(id)) {
          this.stats.skipped++;
          continue;
        }
        if (record.error !== undefined) {
          this.record(this.failure(id, 0, 0, null, null, 'INVALID_JSON', `line ${record.line}: ${record.error}`));
          continue;
        }
        let request: OutgoingRequest;
        try {
          request = this.builder.build(record, id, this.o.method);
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          this.record(this.failure(id, 0, 0, null, null, 'TEMPLATE_ERROR', `line ${record.line}: ${err.message}`));
          continue;
        }
        this.outstanding++;
        const job: Job = { id, request, attempts: 0, startedAt: 0 };
        void this.queue.add(() => this.attempt(job));
        if (this.queue.size >= highWater) await this.untilStopped(this.queue.onSizeLessThan(this.o.concurrency + 1));
        const sinkReady = this.deps.sink.ready?.();
        if (sinkReady) await this.untilStopped(sinkReady);
      }
    } finally {
      // Not awaited: a generator blocked on a silent pipe would never return; the CLI closes the stream.
      void it.return?.()?.catch(() => {});
    }
  }

  /**
   * `p`, or STOPPED as soon as the run stops. Not Promise.race against a long-lived promise: every race would
   * leave a reaction on it until the run ends, one per payload.
   */
  private untilStopped<T>(p: Promise<T>): Promise<T | typeof STOPPED> {
    if (this.stopping) return Promise.resolve(STOPPED);
    return new Promise<T | typeof STOPPED>((resolve, reject) => {
      this.wakeReader = () => resolve(STOPPED);
      p.then(resolve, reject);
    });
  }

  private fail(code: string, message: string, record: InputRecord): void {
    this.inputError = { code, message, line: record.line, excerpt: record.raw?.slice(0, 80) ?? null };
    this.stop();
  }

  private async attempt(job: Job): Promise<void> {
    if (this.pacer !== null) {
      const wait = this.pacer.acquire();
      if (wait !== null) {
        try {
          await wait;
        } catch {
          return this.drop();
        }
      }
    }
    if (this.stopping) return this.drop();
    if (job.attempts === 0) {
      job.startedAt = performance.now();
      this.stats.started++;
    }
    job.attempts++;
    this.stats.inFlight++;
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(() => ac.abort(this.timeoutError), this.o.timeoutMs);
    let res: TransportResponse | null = null;
    let err: unknown = null;
    try {
      res = await this.deps.transport.send(job.request, ac.signal);
    } catch (e) {
      err = ac.signal.aborted ? ac.signal.reason : e;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
      this.stats.inFlight--;
    }
    if (err === ABORTED) return this.drop();
    const code = res !== null ? (res.status >= 200 && res.status < 300 ? null : httpCode(res.status)) : codeOf(err);
    if (code === null) return this.finish(this.success(job, res!));
    const verdict = shouldRetry(this.policy, code, job.attempts);
    if (verdict.retry) {
      if (this.stopping) return this.drop();
      this.stats.retries++;
      const delay = retryDelayMs(this.policy, job.attempts, res ? parseRetryAfter(res.headers['retry-after']) : null);
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        // Retries go ahead of payloads not yet started: they are older.
        void this.queue.add(() => this.attempt(job), { priority: 1 });
      }, delay);
      this.retryTimers.add(t);
      return;
    }
    const what = `${job.request.method} ${job.request.url}`;
    const base = res !== null ? `${what} answered ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd() : `${what}: ${(err as Error).message}`;
    const message = verdict.note ? `${base}; ${verdict.note}` : base;
    this.finish(this.failure(job.id, job.attempts, performance.now() - job.startedAt, res, res ? this.failedResponseOf(res) : null, code, message));
  }

  private success(job: Job, res: TransportResponse): Result {
    const result: Result = {
      id: job.id,
      ok: true,
      status: res.status,
      attempts: job.attempts,
      durationMs: round1(performance.now() - job.startedAt),
      response: null,
      error: null,
    };
    try {
      result.response = this.responseOf(res);
    } catch (err) {
      result.ok = false;
      result.error = { code: 'TRANSFORM_ERROR', message: `--transform failed on the answer: ${(err as Error).message}` };
    }
    if (this.o.includeHeaders) result.headers = res.headers;
    return result;
  }

  private failure(
    id: string,
    attempts: number,
    durationMs: number,
    res: TransportResponse | null,
    response: unknown,
    code: string,
    message: string,
  ): Result {
    const result: Result = { id, ok: false, status: res?.status ?? null, attempts, durationMs: round1(durationMs), response, error: { code, message } };
    if (this.o.includeHeaders && res) result.headers = res.headers;
    return result;
  }

  private responseOf(res: TransportResponse): unknown {
    const body = parseBody(res);
    return this.transform === null ? body : this.transform({ status: res.status, headers: res.headers, body });
  }

  /** A failed answer keeps its body even when --transform cannot handle it: the failure is the news. */
  private failedResponseOf(res: TransportResponse): unknown {
    try {
      return this.responseOf(res);
    } catch {
      return parseBody(res);
    }
  }

  private finish(result: Result): void {
    this.latency.record(result.durationMs);
    this.record(result);
    this.outstanding--;
    this.recount();
  }

  private record(result: Result): void {
    countResult(this.stats, result);
    this.deps.sink.write(result);
  }

  private drop(): void {
    this.outstanding--;
    this.recount();
  }

  private recount(): void {
    if (this.readingDone && this.outstanding <= 0 && this.stats.inFlight === 0) this.settle?.();
  }
}

function codeOf(err: unknown): string {
  return err instanceof TransportError ? err.code : 'NETWORK_ERROR';
}

function parseBody(res: TransportResponse): unknown {
  if (res.body === '') return null;
  const ct = res.headers['content-type'];
  if (typeof ct === 'string' && ct.includes('json')) {
    try {
      return JSON.parse(res.body);
    } catch {
      return res.body;
    }
  }
  return res.body;
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;
const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
