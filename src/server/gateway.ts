// What every batch of a server shares: one Sender (so --concurrency and --rate hold for the whole server, not per
// batch), its transport, the retry policies, the metrics, and the batches in progress (what a graceful shutdown
// waits for). Batches are served in the order each would finish if it ran alone (its arrival plus its items times
// the recent time per item, shared by the concurrency): batches of a size go first come, first served, so each
// is answered as early as it can be; a small batch slips ahead of a large one that would finish later anyway;
// and since arrival counts, nothing waits forever. Retries still go first, as in run.
import type { AuthSource } from '../engine/auth.js';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { BatchpostError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/options.js';
import { RequestBuilder } from '../engine/request.js';
import { hasHeader } from '../engine/headers.js';
import { IDEMPOTENT_METHODS, type RetryPolicy } from '../engine/retry.js';
import { retryPolicyOf, senderOptionsOf } from '../engine/sender-config.js';
import { Sender } from '../engine/sender.js';
import { createStats } from '../engine/stats.js';
import type { OutgoingRequest, Result, RunStats, Transport, TransportResponse } from '../engine/types.js';
import { ServerMetrics, type Endpoint } from './metrics.js';

export interface GatewayOptions {
  /** The run options items are sent with (method, headers, body, templates, retries, pace, timeouts). */
  run: ResolvedOptions;
  /** Batches larger than these are refused (413). */
  maxItems: number;
  maxBytes: number;
  /** Lower-case names of the caller's headers that items inherit. */
  inherit: ReadonlySet<string>;
  /** A caller's headers, then its batch body, must each arrive within this long (ms); default 30 s. */
  requestTimeoutMs?: number;
  /** --auth-command's headers, added to every upstream call (over the item's and the caller's). */
  auth?: AuthSource | null;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export type ItemDone = (result: Result | null, response: TransportResponse | null) => void;

/**
 * One batch in progress: its place in the queue, idempotency key root, the signal that drops its unstarted items,
 * and the count of its items as they settle (both endpoints answer from it).
 */
export class BatchScope {
  readonly controller = new AbortController();
  /** Root of the per-item Idempotency-Keys (--idempotency-key): the caller's own key for the batch, else random. */
  readonly key: string;
  ok = 0;
  failed = 0;
  /** Items that settled unanswered: not started when the client left, or cut by a hard stop. */
  dropped = 0;
  private pending: number;
  private finish: () => void = () => {};
  /** Resolves once every item has settled. */
  readonly settled: Promise<void>;

  private fault: (err: unknown) => void = () => {};
  /** Set once the batch failed (fail()): its answer is a 500, and items settling later change nothing. */
  private failure: unknown = null;

  constructor(
    callerKey: string | undefined,
    /** Queue priority of all its items (higher first): minus its estimated finish time (Gateway.scope). */
    readonly priority: number,
    items: number,
    /** Told how many of its items settled (or were given up on), for the gauges. */
    private readonly onSettled: (n: number) => void = () => {},
  ) {
    this.key = callerKey !== undefined && callerKey !== '' ? callerKey : randomUUID();
    this.pending = items;
    this.settled = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fault = reject;
    });
    this.settled.catch(() => {}); // awaited by the handler; a batch failing before that is no unhandled rejection
    if (items === 0) this.finish();
  }

  /**
   * The batch cannot be answered (a bug while handling it): its items not started are dropped, the items it
   * still counted as open are released from the gauges, and `settled` rejects, so the caller gets a 500.
   */
  fail(err: unknown): void {
    if (this.failure !== null || this.pending === 0) return;
    this.failure = err ?? new Error('unknown failure');
    this.controller.abort();
    this.onSettled(this.pending);
    this.pending = 0;
    this.fault(this.failure);
  }

  /** Runs `fn` (a callback of this batch's), turning a throw into fail(): one batch's bug is that batch's 500. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Drops the items not started yet when the client goes away before its answer is complete. */
  watch(res: ServerResponse): void {
    res.on('close', () => {
      if (!res.writableFinished) this.controller.abort();
    });
  }

  /** One item settled: ok, failed, or null when it was dropped unanswered. */
  count(ok: boolean | null): void {
    if (this.failure !== null) return;
    if (ok === null) this.dropped++;
    else if (ok) this.ok++;
    else this.failed++;
    this.onSettled(1);
    if (--this.pending === 0) this.finish();
  }

  /** Why the answer is not whole, or null when every item was answered. */
  cut(): string | null {
    const d = this.dropped;
    if (this.controller.signal.aborted) return `the client left; ${d} item${d === 1 ? '' : 's'} not sent`;
    if (d > 0) return `stopped; ${d} item${d === 1 ? '' : 's'} unanswered`;
    return null;
  }
}

export class Gateway {
  readonly stats: RunStats = createStats();
  readonly sender: Sender;
  readonly metrics: ServerMetrics;
  /** Builds /batch requests; idempotency keys are added per batch (see BatchScope.key), not per server. */
  readonly builder: RequestBuilder;
  /**
   * The only origin items may reach: --url's, which templates cannot change (see fixedOrigin; the values they put
   * in the path or query are percent-encoded), so /batch items need no check of their own.
   */
  readonly origin: string;
  /** See GatewayOptions.requestTimeoutMs. */
  readonly requestTimeoutMs: number;
  private readonly policies = new Map<string, RetryPolicy>();
  /** Recent time per item, ms (an exponential moving average of item durations). */
  private itemMs = 10;
  private readonly active = new Set<Promise<unknown>>();

  readonly transport: Transport;

  /** `transport`, or how to make one for the only origin items may reach (it then follows redirects there only). */
  constructor(
    readonly o: GatewayOptions,
    transport: Transport | ((origin: string) => Transport),
  ) {
    const run = o.run;
    this.builder = new RequestBuilder({ ...run, idempotencyKey: false }); // checks --url first: its message is the plainest
    this.origin = fixedOrigin(run.url);
    this.transport = typeof transport === 'function' ? transport(this.origin) : transport;
    this.requestTimeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.sender = new Sender({ ...senderOptionsOf(run), auth: o.auth ?? null }, this.transport, this.stats);
    this.metrics = new ServerMetrics(this.stats);
  }

  /** The retry policy for an item with its own method and headers ($batch), as `run` would apply it. */
  policyFor(method: string, headers: Record<string, string | string[]>): RetryPolicy {
    const hasKey = this.o.run.idempotencyKey || hasHeader(headers, 'idempotency-key');
    const cacheKey = `${method} ${hasKey || IDEMPOTENT_METHODS.has(method)}`;
    let policy = this.policies.get(cacheKey);
    if (policy === undefined) {
      policy = retryPolicyOf({ ...this.o.run, method, headers: hasKey ? { 'idempotency-key': '' } : {} });
      this.policies.set(cacheKey, policy);
    }
    return policy;
  }

  /**
   * The scope of a batch of `items` arriving now: served by its estimated finish time if it ran alone. Its items
   * count as open (the gauges) from now until each settles or the batch fails.
   */
  scope(items: number, callerKey: string | undefined): BatchScope {
    const finish = performance.now() + (items * this.itemMs) / this.o.run.concurrency;
    this.metrics.itemsTaken(items);
    return new BatchScope(callerKey, -finish, items, (n) => this.metrics.itemsSettled(n));
  }

  /** Sends one item; `done` gets its result (null when dropped because its batch's client went away). */
  send(
    endpoint: Endpoint,
    scope: BatchScope,
    id: string,
    request: OutgoingRequest,
    done: ItemDone,
    extra: { policy?: RetryPolicy; raw?: boolean } = {},
  ): void {
    this.sender.submit(
      id,
      request,
      (result, _id, response) => {
        this.metrics.item(endpoint, result?.status ?? null, result === null ? null : result.durationMs);
        if (result !== null) this.itemMs += 0.05 * (result.durationMs - this.itemMs);
        scope.guard(() => done(result, response ?? null));
      },
      { priority: scope.priority, signal: scope.controller.signal, policy: extra.policy, raw: extra.raw },
    );
  }

  /** Counts items answered without being sent (refused, failed dependency, template error). */
  unsent(endpoint: Endpoint): void {
    this.metrics.item(endpoint, null, null);
  }

  /** Keeps track of a batch until it is answered: what drain() waits for. */
  track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work);
    const forget = () => void this.active.delete(work);
    work.then(forget, forget);
    return work;
  }

  get batchesInProgress(): number {
    return this.active.size;
  }

  /** Resolves once every batch taken so far has been answered (or given up on). */
  async drain(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** Hard stop: cancels requests in flight; their batches are answered with what completed. */
  abort(): void {
    this.sender.abort();
  }

  async close(): Promise<void> {
    this.sender.close();
    await this.transport.close();
  }
}

/**
 * The origin of --url, which must not depend on the payload: a template may fill the path or the query, never
 * the scheme, host or port, so no item can be steered to another server.
 */
function fixedOrigin(url: string): string {
  const originWith = (fill: string): string | null => {
    try {
      return new URL(url.replace(/\{\{.*?\}\}/g, fill)).origin;
    } catch {
      return null;
    }
  };
  const a = originWith('a');
  if (a === null || a === 'null' || a !== originWith('b')) {
    throw new BatchpostError(
      'USAGE',
      `--url "${url}": serve needs a fixed origin (scheme://host:port); templates may fill only the path and query`,
    );
  }
  return a;
}
