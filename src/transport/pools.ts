// One keep-alive undici Pool per origin, as many connections as requests in flight: every transport createTransport
// makes (run, serve, sender threads, workers) opens, times out and closes connections this one way. An origin
// behind a proxy goes through a ProxyAgent (one per proxy URL), which keeps such a pool per origin itself.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TLSSocket } from 'node:tls';
import type { Client as UndiciClient, Dispatcher, Pool as UndiciPool, ProxyAgent as UndiciProxyAgent } from 'undici';
import { TransportError } from '../engine/errors.js';
import type { TransportConfig } from './config.js';
import { proxyFor } from './proxy.js';
import { TlsAlerts, tlsOptionsOf } from './tls.js';

// undici's index loads all of undici (fetch, WebSocket, EventSource, caches, mocks), a large part of the start-up
// of a short run; the Pool class alone loads in a fraction of that time (docs/benchmarks.md, step 8). undici 7
// declares no "exports", so its modules are public paths; the lockfile pins the version and the transport tests
// would catch a move.
const load = createRequire(import.meta.url);
const Pool = load('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const Client = load('undici/lib/dispatcher/client.js') as typeof UndiciClient;
type Pool = UndiciPool;

/**
 * A connection that takes requests as HTTP/2 streams. undici counts a client busy while any request waits for its
 * connection to open, so a pool would open one connection per request of a run's first burst, each then carrying
 * one stream; this client is busy only once it holds as many requests as it takes at once (its `pipelining`).
 */
class StreamClient extends Client {}
const { kBusy, kSize } = load('undici/lib/core/symbols.js') as { kBusy: symbol; kSize: symbol };
Object.defineProperty(StreamClient.prototype, kBusy, {
  get(this: { pipelining: number } & Record<symbol, number>) {
    return this[kSize]! >= this.pipelining;
  },
});

/** Where one origin's requests are dispatched: its Pool, or its way through a proxy. */
export interface Route {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
}

/**
 * HTTP/2 streams per connection: the limit many servers announce (nginx 128, h2o and Envoy 100). More requests in
 * flight open more connections.
 */
const STREAMS_PER_CONNECTION = 100;

type Connector = (options: object, callback: (err: Error | null, socket: unknown) => void) => void;

export class Pools {
  private readonly routes = new Map<string, Route>();
  private readonly owned: Array<{ close(): Promise<void> }> = [];
  private readonly proxies = new Map<string, UndiciProxyAgent>();
  private closing: Promise<void> | null = null;
  private readonly tls: ReturnType<typeof tlsOptionsOf>;
  /** TLS alerts by connection, so a refused client certificate is told apart from a reset (see TlsAlerts). */
  readonly alerts = new TlsAlerts();

  constructor(private readonly options: TransportConfig) {
    this.tls = tlsOptionsOf(options.tls);
  }

  get(origin: string): Route {
    let route = this.routes.get(origin);
    if (route === undefined) {
      if (this.closing) throw new TransportError('NETWORK_ERROR', 'transport closed');
      route = this.open(origin);
      this.routes.set(origin, route);
    }
    return route;
  }

  private open(origin: string): Route {
    const url = new URL(origin);
    const proxy = proxyFor(url, this.options.proxy);
    if (proxy !== null) return this.viaProxy(proxy, origin);
    const https = url.protocol === 'https:';
    const pool: Pool = new Pool(origin, {
      ...this.poolOptions(),
      ...(https ? { connect: this.tls, allowH2: this.options.http2 === true, factory: this.clientFactory } : {}),
    });
    this.owned.push(pool);
    // HTTP/2: undici keeps a request it thinks unsafe to repeat (POST) off a connection busy with others; the
    // engine decides about repeats itself, so every request may share the connection as a stream.
    if (!(https && this.options.http2)) return pool;
    return { dispatch: (o, handler) => pool.dispatch(Object.assign(o, { idempotent: true }), handler) };
  }

  private poolOptions() {
    return {
      connections: Math.min(this.options.connections, connectionBudget()),
      // Connecting gets at most the attempt's timeout; the transport's sweep enforces the whole attempt.
      connectTimeout: Math.min(this.options.timeoutMs, 10_000),
      // Off: the transport's sweep enforces each attempt's whole --timeout, and undici's own timers, armed and
      // cleared on every request, cost CPU on every request for no extra protection (docs/benchmarks.md, step 5).
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    };
  }

  /**
   * Through `proxy`: https origins in a CONNECT tunnel, plain http ones as absolute-form requests to the proxy
   * (proxyTunnel: false), as curl does: many proxies allow CONNECT only to port 443.
   */
  private viaProxy(proxy: string, origin: string): Route {
    let agent = this.proxies.get(proxy);
    if (agent === undefined) {
      // undici's index, only when a proxy is used: the tunnel needs the `connect` API it adds to every dispatcher.
      const { ProxyAgent } = load('undici') as { ProxyAgent: typeof UndiciProxyAgent };
      const http2 = this.options.http2 === true;
      agent = new ProxyAgent({
        uri: proxy,
        proxyTunnel: false,
        // The TLS inside the tunnel is the target's: ALPN offers h2 there, and the proxy only relays the bytes.
        requestTls: { ...this.tls, allowH2: http2 } as never,
        proxyTls: this.tls as never,
        ...this.poolOptions(),
        allowH2: http2,
        factory: (o: string | URL, opts: object) => new Pool(o, { ...opts, factory: this.clientFactory }),
      });
      this.proxies.set(proxy, agent);
      this.owned.push(agent);
    }
    const to = agent;
    const idempotent = this.options.http2 === true ? { idempotent: true } : {};
    return { dispatch: (o, handler) => to.dispatch(Object.assign(o, { origin }, idempotent), handler) };
  }

  /**
   * Each connection: its TLS alerts watched, and with --http2 as many streams as a connection takes once the server
   * chose h2 by ALPN, one request at a time when it chose HTTP/1.1. Before it is known a connection takes the streams,
   * so a run's first requests do not each open a connection of their own.
   */
  private readonly clientFactory = (origin: string | URL, opts: object): Dispatcher => {
    const streams = Math.min(this.options.connections, STREAMS_PER_CONNECTION);
    const h2 = this.options.http2 === true;
    const connect = (opts as { connect: Connector }).connect;
    let alpn: string | false | null = null;
    const client = new (h2 ? StreamClient : Client)(origin, {
      ...opts,
      pipelining: h2 ? streams : 1,
      connect: (o: object, callback: (err: Error | null, socket: unknown) => void) =>
        connect(o, (err, socket) => {
          if (socket instanceof TLSSocket) {
            alpn = socket.alpnProtocol;
            this.alerts.watch(socket);
          }
          callback(err, socket);
        }),
    } as UndiciClient.Options);
    if (h2) client.on('connect', () => (client.pipelining = alpn === 'h2' ? streams : 1));
    return client;
  };

  /** Idempotent; waits for open connections to close. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.owned.map((p) => p.close())).then(() => undefined);
    return this.closing;
  }
}

/** File descriptors kept free for what is not a connection: input, outputs, stdio, Node's own. */
const FD_RESERVE = 48;
let budget: number | undefined;

/**
 * How many connections this process can open: its open-files limit (`ulimit -n`, read from /proc on Linux; Node
 * has no API for it) less a reserve. A pool never opens more: requests beyond it wait in the pool for a connection
 * instead of failing with EMFILE. Unknown elsewhere: no cap.
 */
export function connectionBudget(): number {
  if (budget === undefined) {
    const m = /^Max open files\s+(\d+)/m.exec(readLimits());
    budget = m ? Math.max(1, Number(m[1]) - FD_RESERVE) : Infinity;
  }
  return budget;
}

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}
