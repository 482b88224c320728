// One keep-alive undici Pool per origin, as many connections as requests in flight: shared by run's transport and
// serve's, so both open, time out and close connections the same way.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';
import { TransportError } from '../engine/errors.js';

// undici's index loads all of undici (fetch, WebSocket, EventSource, caches, mocks): ~55 ms of every start-up, of
// a run whose whole life may be 200 ms. The Pool class alone loads in ~20 ms. undici 7 declares no "exports", so
// its modules are public paths; the lockfile pins the version and the transport tests would catch a move.
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
type Pool = UndiciPool;

export interface PoolOptions {
  /** Connections per origin; the engine never has more requests in flight than this. */
  connections: number;
  /** Upper bound for connecting (at most 10 s); the transport enforces the whole per-attempt timeout itself. */
  timeoutMs: number;
}

export class Pools {
  private readonly pools = new Map<string, Pool>();
  private closing: Promise<void> | null = null;

  constructor(private readonly options: PoolOptions) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closing) throw new TransportError('NETWORK_ERROR', 'transport closed');
      const t = this.options.timeoutMs;
      pool = new Pool(origin, {
        connections: this.options.connections,
        connectTimeout: Math.min(t, 10_000),
        // Off: the transport's sweep enforces each attempt's whole --timeout, and undici's own timers, armed and
        // cleared on every request, cost ~4% of a run's CPU against a fast upstream for no extra protection.
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Idempotent; waits for open connections to close. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.pools.values()].map((p) => p.close())).then(() => undefined);
    return this.closing;
  }
}
