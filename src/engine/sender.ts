// Sends ready-made requests: exact concurrency (Slots), even pacing (Pacer), per-key order (KeyGate), per-attempt
// timeouts, the retry policy, and one Result per request. It knows nothing of input or output: `run` feeds it
// payloads turned into requests, `serve` feeds it the items of a batch.
import { STATUS_CODES } from 'node:http';
import { truthy, type Expr } from '../expr/index.js';
import { Governor } from './adaptive.js';
import { httpCode, TransportError } from './errors.js';
import { parseJsonOrText } from './json-depth.js';
import { KeyGate } from './key-gate.js';
import { Pacer } from './pacer.js';
import type { OnSettled, RequestSink, SubmitOptions } from './request-sink.js';
import { redactUrls } from '../util/redact.js';
import { Slots } from './slots.js';
import { parseRetryAfter, retryDelayMs, shouldRetry } from './retry.js';
import type { SenderConfig } from './sender-config.js';
import type { OutgoingRequest, Result, RunStats, Transport, TransportResponse } from './types.js';

/** A SenderConfig with its expressions compiled, and the hooks sender threads use. */
export type SenderOptions = Omit<SenderConfig, 'transform' | 'expect'> & {
  /** Replaces `response` (JMESPath over {status, headers, body}). */
  transform: Expr | null;
  /** Must be truthy for a 2xx answer to count as ok (JMESPath over {status, headers, body}). */
  expect: { source: string; fn: Expr } | null;
  /** Told of each pace signal this sender saw (sender threads pass it to their siblings' `relay`). */
  onSignal?: (pausedUntil: number, reasons: string[]) => void;
  /** An epoch time (ms, fractional) a paced start falls on: sender threads sharing one --rate interleave (see Pacer). */
  paceAt?: number;
};

interface Job {
  id: string;
  request: OutgoingRequest;
  settled: OnSettled;
  key: string | undefined;
  hash: string | undefined;
  opts: SubmitOptions;
  attempts: number;
  startedAt: number;
  /** Set when adaptive pace was holding the run back as the first attempt started. */
  throttled: Result['throttled'];
}

/** Marks an abort the sender asked for, as opposed to a per-attempt timeout. */
const ABORTED = new Error('aborted');

export class Sender implements RequestSink {
  private readonly slots: Slots<Job>;
  private readonly pacer: Pacer | null;
  /** Aborted by a hard stop: every attempt in flight is cancelled through it (the transport checks it). */
  private readonly hard = new AbortController();
  /**
   * Jobs a stop must drop besides those still queued (Slots.clear hands those back): jobs waiting out a retry delay,
   * with their timers, and jobs holding a slot while they wait for the server's pause or the pacer. Tables touched
   * only by retries and waits, never on the plain path: a long-lived table that every request enters and leaves
   * keeps the requests' objects from dying young (see InFlight in transport/undici.ts).
   */
  private readonly delayed = new Map<Job, NodeJS.Timeout>();
  private readonly holding = new Set<Job>();
  private readonly governor: Governor | null;
  /** --serialize-by, and the submitter's wait: it goes on once about `concurrency` requests wait for a slot. */
  private readonly gate: KeyGate<Job>;
  private stopping = false;

  constructor(
    private readonly o: SenderOptions,
    private readonly transport: Transport,
    /** Counters this sender keeps up to date: started, inFlight, retries, throttle. */
    readonly stats: Pick<RunStats, 'started' | 'inFlight' | 'retries' | 'throttle'>,
  ) {
    this.slots = new Slots(o.concurrency, (job) => this.attempt(job));
    this.gate = new KeyGate(() => this.slots.size <= o.concurrency);
    this.pacer =
      o.rate === null
        ? null
        : new Pacer(o.rate, undefined, o.paceAt === undefined ? undefined : o.paceAt - performance.timeOrigin);
    this.governor = o.adaptive
      ? new Governor(
          o.concurrency,
          o.rate,
          o.policy.maxRetryAfterMs,
          (concurrency, rate) => {
            this.slots.concurrency = concurrency;
            if (rate !== null) this.pacer?.setRate(rate);
          },
          Date.now,
          o.onSignal ?? null,
        )
      : null;
    if (this.governor) stats.throttle = this.governor.throttle;
  }

  submit(id: string, request: OutgoingRequest, settled: OnSettled, options: SubmitOptions = {}): void {
    if (this.stopping) return settled(null, id);
    const job: Job = {
      id,
      request,
      settled,
      key: options.key,
      hash: options.hash,
      opts: options,
      attempts: 0,
      startedAt: 0,
      throttled: undefined,
    };
    if (job.key !== undefined && !this.gate.admit(job.key, job)) return; // held until its key's request settles
    this.slots.add(job, options.priority ?? 0);
  }

  /** True while the submitter should wait (see `room`): enough requests wait for a slot or a key. */
  full(highWater: number): boolean {
    return this.gate.full(this.slots.size >= highWater);
  }

  /** Resolves when the backlog has drained to about the concurrency (and half the key backlog). */
  room(): Promise<void> {
    return this.gate.room();
  }

  /** Graceful: start nothing new (retries included); requests in flight finish. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const job of this.slots.clear()) job.settled(null, job.id);
    this.pacer?.cancel(ABORTED);
    this.governor?.close();
    for (const [job, timer] of this.delayed) {
      clearTimeout(timer);
      job.settled(null, job.id);
    }
    this.delayed.clear();
    for (const job of this.holding) job.settled(null, job.id);
    this.holding.clear();
    for (const job of this.gate.clear()) job.settled(null, job.id);
  }

  /** A pace signal another sender of the same run saw (see SenderOptions.onSignal). */
  relay(pausedUntil: number, reasons: string[]): void {
    this.governor?.relay(pausedUntil, reasons);
  }

  /**
   * Called from a request's settled callback (with a Result): its slot stays taken after it settles, until
   * `releaseSlots` (see Slots.hold).
   */
  holdSlot(): void {
    this.slots.hold();
  }

  /** Frees `n` slots kept by `holdSlot`. */
  releaseSlots(n: number): void {
    this.slots.release(n);
  }

  /** Ends adaptive pace's bookkeeping (its throttled time) when the work is done. */
  close(): void {
    this.governor?.close();
  }

  /** Hard: also cancel requests in flight; they settle as null. */
  abort(): void {
    this.stop();
    this.hard.abort(ABORTED);
  }

  /** Waits out `wait` where a stop can find the job; false when a stop dropped it meanwhile. */
  private async hold(job: Job, wait: Promise<unknown>): Promise<boolean> {
    this.holding.add(job);
    await wait;
    return this.holding.delete(job);
  }

  /** Settles a job for good and lets the next request for its key go. */
  private settle(job: Job, result: Result | null, response: TransportResponse | null = null): void {
    if (job.key !== undefined) {
      const next = this.gate.release(job.key);
      if (next !== undefined) this.slots.add(next, next.opts.priority ?? 0);
    }
    job.settled(result, job.id, response);
    this.gate.notify();
  }

  private async attempt(job: Job): Promise<void> {
    this.gate.notify();
    if (job.opts.signal?.aborted) return this.settle(job, null);
    // The server's pause first, then the pacer: held starts leave the pause one interval apart, not in a burst.
    const paused = this.governor?.gate();
    if (paused && !(await this.hold(job, paused))) return; // dropped by a stop while it waited
    const wait = this.pacer?.acquire() ?? null;
    if (
      wait !== null &&
      !(await this.hold(
        job,
        wait.catch(() => {}),
      ))
    )
      return;
    if (job.attempts === 0) {
      job.startedAt = performance.now();
      this.stats.started++;
      const t = this.governor?.throttle;
      if (t?.active) job.throttled = { since: t.since, by: [...t.reasons] };
    }
    job.attempts++;
    this.stats.inFlight++;
    // One signal for all attempts, and the per-attempt timeout left to the transport: no AbortController, timer or
    // listener per attempt (see Transport.send).
    let res: TransportResponse | null = null;
    let err: unknown = null;
    try {
      res = await this.transport.send(job.request, this.hard.signal, this.o.timeoutMs);
    } catch (e) {
      err = e;
    } finally {
      this.stats.inFlight--;
    }
    if (err === ABORTED) return this.settle(job, null);
    if (res !== null) this.governor?.observe(res.status, res.headers);
    const code = res !== null ? (res.status >= 200 && res.status < 300 ? null : httpCode(res.status)) : codeOf(err);
    if (code === null) return this.settle(job, this.success(job, res!), res);
    const policy = job.opts.policy ?? this.o.policy;
    const verdict = shouldRetry(policy, code, job.attempts);
    if (verdict.retry) {
      if (this.stopping) return this.settle(job, null);
      this.stats.retries++;
      const delay = retryDelayMs(policy, job.attempts, res ? parseRetryAfter(res.headers['retry-after']) : null);
      // Retries go ahead of requests not yet started: they are older. Waiting out the delay holds no slot.
      this.delayed.set(
        job,
        setTimeout(() => {
          this.delayed.delete(job);
          this.slots.add(job, 1);
        }, delay),
      );
      return;
    }
    // A failure names its request; a URL's secret query values stay out of results and reports.
    const what = `${job.request.method} ${redactUrls(job.request.url)}`;
    const base =
      res !== null
        ? `${what} answered ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd()
        : `${what}: ${(err as Error).message}`;
    const response = res === null ? null : job.opts.raw ? parseBody(res) : this.failedResponseOf(res);
    const result = this.result(job, false, res, response, {
      code,
      message: verdict.note ? `${base}; ${verdict.note}` : base,
    });
    if (err instanceof TransportError && err.status !== null) result.status = err.status;
    this.settle(job, result, res);
  }

  private success(job: Job, res: TransportResponse): Result {
    const body = parseBody(res);
    if (job.opts.raw) return this.result(job, true, res, body, null);
    if (this.o.expect !== null) {
      let met: unknown;
      try {
        met = this.o.expect.fn({ status: res.status, headers: res.headers, body });
      } catch {
        met = false; // an expression that cannot be evaluated on this answer is not met
      }
      if (!truthy(met)) {
        const error = {
          code: 'EXPECTATION_FAILED',
          message: `${job.request.method} ${redactUrls(job.request.url)} answered ${res.status}, which does not meet --expect ${this.o.expect.source}`,
        };
        return this.result(job, false, res, this.failedResponseOf(res), error);
      }
    }
    try {
      return this.result(job, true, res, this.transformed(res, body), null);
    } catch (err) {
      const error = { code: 'TRANSFORM_ERROR', message: `--transform failed on the answer: ${(err as Error).message}` };
      return this.result(job, false, res, body, error);
    }
  }

  private result(
    job: Job,
    ok: boolean,
    res: TransportResponse | null,
    response: unknown,
    error: Result['error'],
  ): Result {
    const result: Result = {
      id: job.id,
      ok,
      status: res?.status ?? null,
      attempts: job.attempts,
      durationMs: round1(performance.now() - job.startedAt),
      response,
      error,
      startedAt: Math.round(performance.timeOrigin + job.startedAt),
      hash: job.hash,
    };
    if (job.throttled !== undefined) result.throttled = job.throttled;
    const requestId = res?.headers['x-request-id'];
    if (typeof requestId === 'string') result.requestId = requestId;
    if (this.o.includeHeaders && res) result.headers = res.headers;
    return result;
  }

  private transformed(res: TransportResponse, body: unknown): unknown {
    return this.o.transform === null ? body : this.o.transform({ status: res.status, headers: res.headers, body });
  }

  /** A failed answer keeps its body even when --transform cannot handle it: the failure is the news. */
  private failedResponseOf(res: TransportResponse): unknown {
    const body = parseBody(res);
    try {
      return this.transformed(res, body);
    } catch {
      return body;
    }
  }
}

function codeOf(err: unknown): string {
  return err instanceof TransportError ? err.code : 'NETWORK_ERROR';
}

/**
 * Parsed JSON when the server says JSON (text if it does not parse or nests too deep to write back: json-depth.ts),
 * text otherwise, null when empty.
 */
export function parseBody(res: TransportResponse): unknown {
  if (res.body === '') return null;
  const ct = res.headers['content-type'];
  return typeof ct === 'string' && ct.includes('json') ? parseJsonOrText(res.body) : res.body;
}

export const round1 = (ms: number) => Math.round(ms * 10) / 10;
