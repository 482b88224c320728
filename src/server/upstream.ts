// The transport serve sends its items with: undici, one keep-alive Pool per origin, driven through `dispatch`
// with a plain handler instead of `request`. A gateway spends most of its time in the HTTP client, and `request`
// wraps every answer in a stream and several promises; collecting the few chunks of a small answer directly is
// the cheaper path (docs/benchmarks.md, "serve"). Aborts are noticed by a sweep over the requests in flight every
// SWEEP_MS rather than by a listener on each signal: Node's EventTarget add/remove costs more per request than the
// rest of this file, and a timeout or hard stop a few milliseconds late changes nothing. It also keeps the answer's
// bytes, which serve's $batch hands back in base64 when the body is not text. Same contract as UndiciTransport
// (test/serve-upstream.test.ts).
import { Pools } from '../transport/pools.js';
import { Pool, type Dispatcher } from 'undici';
import { TransportError } from '../engine/errors.js';
import type { OutgoingRequest, Transport, TransportResponse } from '../engine/types.js';
import { toTransportError } from '../transport/undici.js';

export interface UpstreamOptions {
  /** Connections per origin; the sender never has more requests in flight than this. */
  connections: number;
  /** Upper bound for undici's own connect/headers/body timers; the sender enforces the real per-attempt timeout. */
  timeoutMs: number;
}

/** How often requests in flight are checked for an aborted signal. */
const SWEEP_MS = 5;

export class UpstreamTransport implements Transport {
  private readonly pools: Pools;
  private readonly inFlight = new Set<Collector>();
  private sweeper: NodeJS.Timeout | null = null;
  private lastUrl = '';
  private lastTarget = { origin: '', path: '' };

  constructor(options: UpstreamOptions) {
    this.pools = new Pools(options);
  }

  send(req: OutgoingRequest, signal: AbortSignal): Promise<TransportResponse> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let pool: Pool;
    let path: string;
    try {
      if (req.url !== this.lastUrl) {
        // Most items of a server go to the same URL: parse it once.
        const u = new URL(req.url);
        this.lastTarget = { origin: u.origin, path: u.pathname + u.search };
        this.lastUrl = req.url;
      }
      pool = this.pools.get(this.lastTarget.origin);
      path = this.lastTarget.path;
    } catch (err) {
      return Promise.reject(err instanceof TransportError ? err : new TransportError('NETWORK_ERROR', `not a valid URL: ${req.url}`));
    }
    return new Promise((resolve, reject) => {
      const handler = new Collector(signal, resolve, reject, this.inFlight);
      this.inFlight.add(handler);
      this.sweeper ??= setInterval(this.sweep, SWEEP_MS).unref();
      try {
        pool.dispatch({ path, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body }, handler);
      } catch (err) {
        handler.onResponseError(null, err as Error);
      }
    });
  }

  private readonly sweep = (): void => {
    for (const c of this.inFlight) c.check();
    if (this.inFlight.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  };

  close(): Promise<void> {
    return this.pools.close();
  }
}

/** Collects one answer: status, headers and body chunks, settling the send's promise exactly once. */
class Collector implements Dispatcher.DispatchHandler {
  private status = 0;
  private statusText = '';
  private headers: Record<string, string | string[]> = {};
  private readonly chunks: Buffer[] = [];
  private controller: Dispatcher.DispatchController | null = null;
  private done = false;

  constructor(
    private readonly signal: AbortSignal,
    private readonly resolve: (res: TransportResponse) => void,
    private readonly reject: (err: unknown) => void,
    private readonly inFlight: Set<Collector>,
  ) {}

  /** Called by the sweep: passes an abort on to undici (or, not dispatched yet, onRequestStart will). */
  check(): void {
    if (this.signal.aborted) this.controller?.abort(this.signal.reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText?: string): void {
    this.status = status;
    this.statusText = statusText ?? '';
    this.headers = headers as Record<string, string | string[]>;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.finish()) return;
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, statusText: this.statusText, headers: this.headers, body: bytes.toString('utf8'), bytes });
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.finish()) return;
    this.reject(this.signal.aborted ? this.signal.reason : toTransportError(err));
  }

  /** True when already settled; otherwise marks it settled and lets go of the signal. */
  private finish(): boolean {
    if (this.done) return true;
    this.done = true;
    this.inFlight.delete(this);
    return false;
  }
}
