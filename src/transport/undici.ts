// The HTTP transport of run, serve, sender threads and workers (made by createTransport in index.ts): undici, one
// keep-alive Pool per origin with as many connections as requests in flight, driven through `dispatch` with a plain
// handler instead of `request`. undici rather than a higher-level client such as got: it does far less work per
// request, and a run against a fast upstream is bound by that work (docs/benchmarks.md, cli-compare). `dispatch`
// rather than `request`: `request` wraps every answer in a stream and several promises; collecting the few chunks
// of a small answer directly is the cheaper path (docs/benchmarks.md, step 1).
//
// Timeouts and aborts are noticed by one sweep over the requests in flight every SWEEP_MS, not by a timer and a
// signal listener per attempt: creating an AbortController, arming a timer and adding and removing an EventTarget
// listener cost more per request than the rest of this file, and an attempt cancelled a few milliseconds late
// changes nothing. The answer's bytes are kept too: serve's $batch hands non-text bodies back in base64.
import fs from 'node:fs';
import path from 'node:path';
import type { Dispatcher } from 'undici';
import { TransportError } from '../engine/errors.js';
import type { OutgoingRequest, SaveBody, Transport, TransportResponse } from '../engine/types.js';
import { responseFileName } from '../util/file-names.js';
import type { TransportConfig } from './config.js';
import { Pools, type Route } from './pools.js';
import { tlsFailure } from './tls.js';
import { isFollowed, redirectedRequest } from './redirect.js';

/** How often requests in flight are checked for an aborted signal or a passed deadline. */
const SWEEP_MS = 5;

export class UndiciTransport implements Transport {
  private readonly pools: Pools;
  readonly inFlight = new InFlight<Collector>();
  private sweeper: NodeJS.Timeout | null = null;
  private lastUrl = '';
  private lastTarget = { origin: '', path: '' };
  /** Set once: what every Collector reads. */
  readonly maxBytes: number;
  readonly maxRedirects: number;
  private readonly redirectOrigin: string | undefined;

  constructor(config: TransportConfig) {
    this.pools = new Pools(config);
    this.maxBytes = config.maxResponseBytes ?? Infinity;
    this.maxRedirects = config.maxRedirects ?? 0;
    this.redirectOrigin = config.redirectOrigin;
  }

  send(req: OutgoingRequest, signal: AbortSignal, timeoutMs = Infinity, save?: SaveBody): Promise<TransportResponse> {
    // The Transport contract: a hard stop rejects with the signal's own reason, whatever the caller aborted with.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (signal.aborted) return Promise.reject(signal.reason);
    let pool: Route;
    let path: string;
    try {
      if (req.url !== this.lastUrl) {
        // The URL is the same for every request of most runs: parse it once.
        const u = new URL(req.url);
        this.lastTarget = { origin: u.origin, path: u.pathname + u.search };
        this.lastUrl = req.url;
      }
      pool = this.pools.get(this.lastTarget.origin);
      path = this.lastTarget.path;
    } catch (err) {
      return Promise.reject(
        err instanceof TransportError ? err : new TransportError('NETWORK_ERROR', `not a valid URL: ${req.url}`),
      );
    }
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      const handler = new Collector(req, signal, deadline, timeoutMs, this, resolve, reject, save);
      this.inFlight.add(handler);
      this.sweeper ??= setInterval(this.sweep, SWEEP_MS).unref();
      try {
        pool.dispatch({ path, method: req.method, headers: req.headers, body: req.body }, handler);
      } catch (err) {
        handler.onResponseError(null, err as Error);
      }
    });
  }

  /**
   * Sends `c`'s request again where a redirect points (-L), on the same deadline: false when it is not one to
   * follow, and the 3xx is then the answer.
   */
  redirect(c: Collector, location: string): boolean {
    let to: URL;
    let next: OutgoingRequest | null;
    let pool: Route;
    try {
      to = new URL(location, c.request.url);
      if (this.redirectOrigin !== undefined && to.origin !== this.redirectOrigin) return false;
      next = redirectedRequest(c.request, c.status, to);
      if (next === null) return false;
      pool = this.pools.get(to.origin);
    } catch {
      return false;
    }
    c.restart(next);
    pool.dispatch({ path: to.pathname + to.search, method: next.method, headers: next.headers, body: next.body }, c);
    return true;
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    this.inFlight.check(now);
    if (this.inFlight.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  };

  close(): Promise<void> {
    return this.pools.close();
  }

  /** What undici's `err` means, told with what the connections saw (a TLS alert before a close). */
  errorOf(err: Error): TransportError {
    const alert =
      (err as { code?: string }).code === 'UND_ERR_SOCKET'
        ? this.pools.alerts.of(err as { socket?: { localPort?: number } })
        : undefined;
    return toTransportError(alert ?? err);
  }
}

/**
 * The attempts in flight, for the sweep: an array with swap-removal instead of a Set. A Set that every request
 * enters and leaves rehashes into a new table every few dozen requests, and V8 keeps each replaced table linked to
 * its successor with its entries in place; once one of them has been promoted to the old generation, the chain keeps
 * every later answer's objects alive through young-generation collections, so they are promoted in turn and only
 * full collections free them, a large share of a run's CPU against a fast upstream (docs/benchmarks.md, step 9).
 */
export class InFlight<T extends { slot: number; check(now: number): void }> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(c: T): void {
    c.slot = this.items.length;
    this.items.push(c);
  }

  delete(c: T): void {
    const last = this.items.pop()!;
    if (last !== c) {
      this.items[c.slot] = last;
      last.slot = c.slot;
    }
    c.slot = -1;
  }

  /** Backwards: a check that settles its attempt swaps the last one, already checked, into its place. */
  check(now: number): void {
    for (let i = this.items.length - 1; i >= 0; i--) this.items[i]?.check(now);
  }
}

/** Collects one answer: status, headers and body chunks, settling the send's promise exactly once. */
class Collector implements Dispatcher.DispatchHandler {
  /** Index in InFlight while in flight. */
  slot = -1;
  status = 0;
  private statusText = '';
  private headers: Record<string, string | string[]> = {};
  private readonly chunks: Buffer[] = [];
  /** Body bytes so far: an answer past maxBytes is cut off as it arrives, so no server can fill the memory. */
  private received = 0;
  private controller: Dispatcher.DispatchController | null = null;
  /** Why this attempt was cancelled (the signal's reason, or a timeout): what the send rejects with. */
  private cancelled: unknown = undefined;
  private done = false;
  /** Redirects still to follow (-L): none unless the transport follows them. */
  private redirectsLeft: number;
  private readonly maxBytes: number;
  private readonly inFlight: InFlight<Collector>;
  private readonly file: BodyFile | null = null;

  constructor(
    /** The request being sent: the one asked for, or where a followed redirect led. */
    public request: OutgoingRequest,
    private readonly signal: AbortSignal,
    private readonly deadline: number,
    private readonly timeoutMs: number,
    private readonly transport: UndiciTransport,
    private readonly resolve: (res: TransportResponse) => void,
    private readonly reject: (err: unknown) => void,
    /** --save-responses: the body goes to a file (see BodyFile), not to memory. */
    save?: SaveBody,
  ) {
    if (save !== undefined) this.file = new BodyFile(save);
    this.redirectsLeft = transport.maxRedirects;
    this.maxBytes = transport.maxBytes;
    this.inFlight = transport.inFlight;
  }

  /** Starts over for `next`, a followed redirect, within the same attempt. */
  restart(next: OutgoingRequest): void {
    this.request = next;
    this.redirectsLeft--;
    this.status = 0;
    this.chunks.length = 0;
    this.received = 0;
    this.controller = null;
    this.file?.close();
  }

  /** Called by the sweep: cancels the attempt when its signal aborted or its time is up. */
  check(now: number): void {
    if (this.signal.aborted) this.cancel(this.signal.reason);
    else if (now >= this.deadline)
      this.cancel(new TransportError('TIMEOUT', `no answer within ${formatMs(this.timeoutMs)}`));
  }

  private cancel(reason: unknown): void {
    if (this.cancelled !== undefined) return;
    this.cancelled = reason;
    if (this.controller !== null) {
      this.controller.abort(reason instanceof Error ? reason : new Error('aborted')); // undici then calls onResponseError
    } else if (!this.finish()) {
      this.reject(reason); // still waiting for a connection: settle now; onRequestStart aborts it if it ever starts
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) this.cancelled ??= this.signal.reason;
    if (this.cancelled !== undefined)
      controller.abort(this.cancelled instanceof Error ? this.cancelled : new Error('aborted'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusText?: string,
  ): void {
    this.status = status;
    this.statusText = statusText ?? '';
    this.headers = headers as Record<string, string | string[]>;
    const declared = headers['content-length'];
    if (typeof declared === 'string' && Number(declared) > this.maxBytes) this.tooLarge();
    else if (this.file !== null) this.saveFailed(this.file.open(this.headers['content-type']));
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.maxBytes) this.tooLarge();
    else if (this.file !== null) this.saveFailed(this.file.write(chunk));
    else this.chunks.push(chunk);
  }

  /** Cancels the attempt when the body could not be saved (`err` null: it could). */
  private saveFailed(err: Error | null): void {
    if (err === null || this.cancelled !== undefined) return;
    const message = `answered ${this.status} but its body could not be saved to ${this.file!.path}: ${err.message}`;
    this.cancel(new TransportError('RESPONSE_NOT_SAVED', message, this.status));
  }

  private tooLarge(): void {
    this.chunks.length = 0;
    const message = `answered ${this.status} with a body over the ${this.maxBytes} bytes kept (--max-response-size)`;
    this.cancel(new TransportError('RESPONSE_TOO_LARGE', message, this.status));
  }

  onResponseEnd(): void {
    if (this.redirectsLeft > 0 && isFollowed(this.status) && this.cancelled === undefined && !this.done) {
      const location = this.headers.location;
      if (typeof location === 'string' && this.transport.redirect(this, location)) return;
    }
    if (this.finish()) return;
    if (this.file !== null) {
      const err = this.file.close();
      if (err !== null) return this.rejectUnsaved(err);
      const res = { status: this.status, statusText: this.statusText, headers: this.headers, body: '' };
      return this.resolve({ ...res, file: this.file.path ?? undefined });
    }
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.resolve({
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
      body: bytes.toString('utf8'),
      bytes,
    });
  }

  private rejectUnsaved(err: Error): void {
    this.file!.discard();
    const message = `answered ${this.status} but its body could not be saved: ${err.message}`;
    this.reject(new TransportError('RESPONSE_NOT_SAVED', message, this.status));
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    this.file?.discard(); // a body cut short is not left behind as if it were the answer
    if (this.finish()) return;
    if (this.cancelled === undefined && this.signal.aborted) this.cancelled = this.signal.reason;
    this.reject(this.cancelled !== undefined ? this.cancelled : this.transport.errorOf(err));
  }

  /** True when already settled; otherwise marks it settled and leaves the sweep. */
  private finish(): boolean {
    if (this.done) return true;
    this.done = true;
    this.inFlight.delete(this);
    return false;
  }
}

/**
 * One attempt's body file (--save-responses): opened when the answer's headers arrive (its name needs the
 * Content-Type), written chunk by chunk as they arrive, synchronously (the page cache takes it; no chunk waits in
 * memory), closed at the end. An attempt that fails removes it; a later attempt replaces it.
 */
class BodyFile {
  private fd = -1;
  path: string | null = null;

  constructor(private readonly save: SaveBody) {}

  /** Creates (or truncates) the file for this answer; the error, or null. */
  open(contentType: string | string[] | undefined): Error | null {
    this.close();
    const file = path.join(this.save.dir, responseFileName(this.save.id, contentType));
    if (this.save.path !== null && this.save.path !== file) removeFile(this.save.path);
    this.path = this.save.path = file;
    try {
      this.fd = openNoFollow(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err as Error;
      try {
        // A worker (--queue) on another machine, or a folder removed meanwhile: made as the run makes it.
        fs.mkdirSync(this.save.dir, { recursive: true });
        this.fd = openNoFollow(file);
      } catch (again) {
        return again as Error;
      }
    }
    return null;
  }

  write(chunk: Buffer): Error | null {
    if (this.fd === -1) return null;
    try {
      for (let at = 0; at < chunk.length;) at += fs.writeSync(this.fd, chunk, at, chunk.length - at);
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  /** Idempotent; the error of closing (a delayed write failure), or null. */
  close(): Error | null {
    if (this.fd === -1) return null;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  /** Closes and removes the file of an attempt that did not end in a whole answer. */
  discard(): void {
    this.close();
    if (this.path === null) return;
    removeFile(this.path);
    if (this.save.path === this.path) this.save.path = null;
    this.path = null;
  }
}

/** Opens `file` for writing, truncated; never through a symlink planted where the file goes. */
const openNoFollow = (file: string): number =>
  fs.openSync(
    file,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
    0o666,
  );

function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

const MESSAGES: Record<string, [code: ConstructorParameters<typeof TransportError>[0], message: string]> = {
  ECONNREFUSED: ['ECONNREFUSED', 'connection refused (nothing was sent)'],
  ENOTFOUND: ['ENOTFOUND', 'host name not found (nothing was sent)'],
  EAI_AGAIN: ['ENOTFOUND', 'host name lookup failed for now (DNS did not answer; nothing was sent)'],
  UND_ERR_CONNECT_TIMEOUT: ['CONNECT_TIMEOUT', 'could not connect in time (nothing was sent)'],
  EMFILE: ['EMFILE', 'too many open files, no connection could be opened (nothing was sent)'],
  ENFILE: ['EMFILE', 'too many open files on this machine, no connection could be opened (nothing was sent)'],
  ECONNRESET: ['ECONNRESET', 'connection reset before a full answer'],
  EPIPE: ['ECONNRESET', 'connection closed while sending'],
  UND_ERR_SOCKET: ['ECONNRESET', 'connection closed before a full answer'],
  UND_ERR_HEADERS_TIMEOUT: ['TIMEOUT', 'no answer headers in time'],
  UND_ERR_BODY_TIMEOUT: ['TIMEOUT', 'answer body stalled'],
};

/**
 * undici's words for an answer it will not read: a 100 Continue that was not asked for (batchpost never sends
 * `Expect`), a 1xx/101 switching protocols unasked. The request reached the server, which may have handled it, so
 * these are not a reset to retry.
 */
const BAD_RESPONSES: ReadonlySet<string> = new Set(['bad response', 'bad upgrade']);

type NodeError = { code?: string; message?: string; hostname?: string; address?: string; port?: number };

/** Maps what undici throws to a TransportError with one of the stable codes. */
export function toTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as NodeError & { cause?: NodeError };
  if (e.code === 'UND_ERR_SOCKET' && BAD_RESPONSES.has(e.message ?? ''))
    return new TransportError(
      'BAD_RESPONSE',
      'the server answered with an interim or upgrade response nobody asked for (such as 100 Continue); it may have handled the request',
    );
  const tls = tlsFailure(e);
  if (tls) return tls;
  const proxy = proxyFailure(e);
  if (proxy) return proxy;
  const which = MESSAGES[e.code ?? ''] ? e : MESSAGES[e.cause?.code ?? ''] ? e.cause! : null;
  if (which !== null) {
    const [code, message] = MESSAGES[which.code!]!;
    return new TransportError(code, withPeer(message, which));
  }
  return new TransportError('NETWORK_ERROR', e.cause?.message ?? e.message ?? String(err));
}

/**
 * Names the host a lookup failed for, or the address that refused: behind a proxy that is the proxy, not the
 * URL's host.
 */
function withPeer(message: string, e: NodeError): string {
  if ((e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') && e.hostname) return `${e.hostname}: ${message}`;
  if (e.code === 'ECONNREFUSED' && e.address) return `${message.replace(' (', ` by ${e.address}:${e.port ?? ''} (`)}`;
  return message;
}

/** A proxy that would not carry the request: it asked for credentials, or refused the CONNECT tunnel. */
function proxyFailure(e: NodeError): TransportError | null {
  const m = /Proxy response \((\d+)\) !== 200|Proxy Authentication Required \((407)\)/.exec(e.message ?? '');
  if (m === null) return null;
  const status = m[1] ?? m[2];
  return status === '407'
    ? new TransportError(
        'PROXY_AUTH_REQUIRED',
        'the proxy asked for credentials (407; nothing was sent): put them in the proxy URL, http://user:password@host:port',
      )
    : new TransportError(
        'PROXY_FAILED',
        `the proxy refused to open a tunnel to the server (${status}; nothing was sent)`,
      );
}
