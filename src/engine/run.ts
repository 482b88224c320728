// The run loop: reads payloads as fast as the sender's queue drains (backpressure), turns each into a request and
// hands it to the Sender, and gives every outcome to the sink exactly once. A graceful stop lets requests in
// flight finish; an abort cancels them. Requests that never completed are not recorded, so --resume sends them
// again.
import { compileExpr, TemplateError, type Expr } from '../expr/index.js';
import { valueText } from '../util/exact-json.js';
import type { AuthSource } from './auth.js';
import { IdAssigner } from './ids.js';
import type { ResolvedOptions } from './options.js';
import { BodyFormatError } from './body-format.js';
import { requestHash } from './request.js';
import { InvalidRequestError, requestBuilderFor, type Builder } from './request-line.js';
import type { RetryPolicy } from './retry.js';
import { retryPolicyOf } from './sender-config.js';
import type { RequestSink } from './request-sink.js';
import { Sender, type SenderOptions } from './sender.js';
import { senderOptionsOf } from './sender-config.js';
import { unsentResult } from './unsent.js';
import { tryUrl } from '../util/url.js';
import { buildSummary, countResult, createStats, Latency } from './stats.js';
import { hasHeader } from './headers.js';
import type { InputError, InputRecord, OutgoingRequest, Result, RunStats, Sink, Summary, Transport } from './types.js';

/**
 * What a run is given: where results go, and either a transport for a local Sender or `sender`, which replaces the
 * local Sender (distributed mode, sender threads) and sends by its own means.
 */
export type RunDeps = {
  sink: Sink;
  /** Known total for progress displays (a counted file); null when streaming from a pipe. */
  total?: number | null;
  /** Told of every failed result with the payload it came from (--failed writes the payload back). */
  onFailed?: (record: InputRecord, result: Result) => void;
  /** Told of each payload skipped because its recorded result failed (--resume): --failed lists those too. */
  onRecordedFailed?: (record: InputRecord) => void;
  /** --auth-command's headers for a local Sender (a `sender` factory is handed them by whoever makes it). */
  auth?: AuthSource | null;
} & ({ transport: Transport; sender?: undefined } | { transport?: undefined; sender: SenderFactory });

/**
 * Makes the RequestSink a run hands its requests to: given the sender options, the run's live stats, and the run's
 * options as written (expression sources, to hand to workers or threads).
 */
export type SenderFactory = (options: SenderOptions, stats: RunStats, run: ResolvedOptions) => RequestSink;

const STOPPED: unique symbol = Symbol('stopped');

/** Failures that mean the request never reached a server: a run whose first results are all these cannot reach it. */
const CONNECT_FAILURES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'CONNECT_TIMEOUT',
  'TLS_CERT_UNTRUSTED',
  'TLS_CERT_EXPIRED',
  'TLS_HOSTNAME_MISMATCH',
  'TLS_HANDSHAKE_FAILED',
  'PROXY_AUTH_REQUIRED',
  'PROXY_FAILED',
]);

/** Why a run stopped early on its own: where it could not connect, and the failure code. */
export interface Unreachable {
  /** host:port, from the first request's URL. */
  target: string;
  code: string;
  /** Results that failed to connect before it stopped. */
  after: number;
  /** The last of those failures' message (it names the reason, such as an untrusted certificate). */
  message: string;
}

export class Run {
  readonly stats: RunStats;
  private readonly sender: RequestSink;
  private readonly builder: Builder;
  /** Request lines: the retry policy of each method (and Idempotency-Key or not) met, as `run` with -X would have it. */
  private readonly policies: Map<string, RetryPolicy> | null;
  private readonly ids: IdAssigner;
  private readonly latency = new Latency();
  private outstanding = 0;
  private readingDone = false;
  private settle: (() => void) | null = null;
  private stopping = false;
  /** Wakes the reader's one pending wait when the run stops (see `untilStopped`). */
  private wakeReader: (() => void) | null = null;
  private inputError: InputError | null = null;
  private readonly keyOf: Expr | null;
  private readonly changed = { count: 0, firstIds: [] as string[] };
  /** Connect failures still to see before the run stops; 0 once anything got through (or with the check off). */
  private unreachableLeft: number;
  private firstUrl: string | null = null;
  private unreachableStop: Unreachable | null = null;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly deps: RunDeps,
  ) {
    this.stats = createStats(deps.total ?? null);
    this.builder = requestBuilderFor(o);
    this.policies = o.inputKind === 'requests' ? new Map() : null;
    this.ids = new IdAssigner(o.idField, o.skipInvalid, o.inputKind);
    const senderOptions = senderOptionsOf(o);
    this.sender = deps.sender
      ? deps.sender(senderOptions, this.stats, o)
      : new Sender({ ...senderOptions, auth: deps.auth ?? null }, deps.transport, this.stats);
    this.keyOf = o.serializeBy === undefined ? null : compileExpr(o.serializeBy, '--serialize-by');
    this.unreachableLeft = o.unreachableAfter;
  }

  /** Graceful: start nothing new, let requests in flight finish. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeReader?.();
    this.sender.stop();
  }

  /** Hard: also cancel requests in flight; they are not recorded. */
  abort(): void {
    this.stop();
    this.sender.abort();
  }

  get interrupted(): boolean {
    return this.stopping && this.inputError === null && this.unreachableStop === null;
  }

  /** Set when the run stopped because its first results all failed to connect (see unreachableAfter). */
  get unreachable(): Unreachable | null {
    return this.unreachableStop;
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
    this.sender.close();
    this.o.signal?.removeEventListener('abort', onAbort);
    if (readError !== null) throw readError as Error;
    const changed = this.changed.count > 0 ? { ...this.changed, resent: this.o.resendChanged } : null;
    return buildSummary(this.stats, this.latency, performance.now() - t0, this.interrupted, this.inputError, changed);
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
        if (this.o.skipIds.has(id) && !this.changedSince(id, record)) {
          this.stats.skipped++;
          if (this.o.recordedFailed.has(id)) this.deps.onRecordedFailed?.(record);
          continue;
        }
        if (record.error !== undefined) {
          // Only a JSON line can be skipped: a broken CSV row or JSON array is fatal (IdAssigner stops on it).
          this.record(unsentResult(id, 'INVALID_JSON', `line ${record.line}: ${record.error}`), record);
          continue;
        }
        let request;
        try {
          request = this.builder.build(record, id, this.o.method);
        } catch (err) {
          const code = unsentCode(err);
          if (code === 'INVALID_REQUEST' && !this.o.skipInvalid) {
            this.fail('INPUT_INVALID_REQUEST', (err as Error).message, record);
            break;
          }
          this.record(unsentResult(id, code, `line ${record.line}: ${(err as Error).message}`), record);
          continue;
        }
        this.firstUrl ??= request.url;
        this.outstanding++;
        // With onFailed the payload rides along in a closure rather than an id → record Map: a table every request
        // enters and leaves keeps garbage alive through young-generation collections (see transport/undici.ts).
        const settled = this.deps.onFailed ? (result: Result | null) => this.finish(result, record) : this.settled;
        const hash = requestHash(request);
        const policy = this.policies === null ? undefined : this.policyFor(request);
        this.sender.submit(id, request, settled, { key: this.keyFor(record), hash, policy });
        if (this.sender.full(highWater)) await this.untilStopped(this.sender.room());
        const sinkReady = this.deps.sink.ready?.();
        if (sinkReady) await this.untilStopped(sinkReady);
      }
    } finally {
      // Not awaited: a generator blocked on a silent pipe would never return; the CLI closes the stream.
      void it.return?.()?.catch(() => {});
    }
  }

  /** A request line's retry policy: by its own method and Idempotency-Key, as -X and -H would give it. */
  private policyFor(request: OutgoingRequest): RetryPolicy {
    const hasKey = hasHeader(request.headers, 'idempotency-key');
    const key = `${request.method} ${hasKey}`;
    let policy = this.policies!.get(key);
    if (policy === undefined) {
      const headers: Record<string, string> = hasKey ? { 'idempotency-key': '' } : {};
      policy = retryPolicyOf({ ...this.o, method: request.method, headers });
      this.policies!.set(key, policy);
    }
    return policy;
  }

  /** The --serialize-by key; a payload without one is serialised with nothing. */
  private keyFor(record: InputRecord): string | undefined {
    if (this.keyOf === null) return undefined;
    try {
      const v = this.keyOf(record.value);
      return v === null || v === undefined ? undefined : valueText(v);
    } catch {
      return undefined; // a value nested too deeply to write as a key
    }
  }

  /**
   * For an id recorded earlier: does the payload now build a different request than the one recorded? Counted
   * and reported either way; true (send it again) only with resendChanged.
   */
  private changedSince(id: string, record: InputRecord): boolean {
    const recorded = this.o.recordedHashes.get(id);
    if (recorded === undefined || record.error !== undefined) return false;
    let hash: string;
    try {
      hash = requestHash(this.builder.build(record, id, this.o.method));
    } catch {
      return false;
    }
    if (hash === recorded) return false;
    this.changed.count++;
    if (this.changed.firstIds.length < 5) this.changed.firstIds.push(id);
    return this.o.resendChanged;
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
    this.inputError = {
      code,
      message,
      line: record.line,
      excerpt: (record.raw ?? record.source)?.slice(0, 80) ?? null,
    };
    this.stop();
  }

  private record(result: Result, record: InputRecord | undefined): void {
    countResult(this.stats, result);
    this.deps.sink.write(result);
    if (!result.ok && record !== undefined) this.deps.onFailed?.(record, result);
    if (this.unreachableLeft > 0 && result.attempts > 0) this.watchReach(result);
  }

  /**
   * Until something gets through: a target that refuses every connection would otherwise take every payload
   * through every retry. Stops hard (abort), so what was not recorded stays unrecorded and is sent by --resume.
   */
  private watchReach(result: Result): void {
    const code = result.error?.code;
    if (result.status !== null || code === undefined || !CONNECT_FAILURES.has(code)) {
      this.unreachableLeft = 0;
      return;
    }
    if (--this.unreachableLeft > 0) return;
    this.unreachableStop = {
      target: targetOf(this.firstUrl),
      code,
      after: this.o.unreachableAfter,
      message: result.error?.message ?? '',
    };
    this.abort();
  }

  private readonly settled = (result: Result | null): void => this.finish(result, undefined);

  private finish(result: Result | null, record: InputRecord | undefined): void {
    if (result !== null) {
      this.latency.record(result.durationMs);
      this.record(result, record);
    }
    this.outstanding--;
    this.recount();
  }

  private recount(): void {
    if (this.readingDone && this.outstanding === 0) this.settle?.();
  }
}

/** The result code of a payload that could not become a request; anything else is a bug and is thrown on. */
function unsentCode(err: unknown): 'TEMPLATE_ERROR' | 'INVALID_BODY' | 'INVALID_REQUEST' {
  if (err instanceof TemplateError) return 'TEMPLATE_ERROR';
  if (err instanceof BodyFormatError) return 'INVALID_BODY';
  if (err instanceof InvalidRequestError) return 'INVALID_REQUEST';
  throw err;
}

/** host:port of a URL, the port filled in from the scheme. */
function targetOf(url: string | null): string {
  const u = url === null ? null : tryUrl(url);
  if (u === null) return url ?? 'the target';
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}
