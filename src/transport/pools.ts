// One keep-alive undici Pool per origin, as many connections as requests in flight: every transport createTransport
// makes (run, serve, sender threads, workers) opens, times out and closes connections this one way.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';
import { TransportError } from '../engine/errors.js';
import type { TransportConfig } from './config.js';

// undici's index loads all of undici (fetch, WebSocket, EventSource, caches, mocks), a large part of the start-up
// of a short run; the Pool class alone loads in a fraction of that time (docs/benchmarks.md, step 8). undici 7
// declares no "exports", so its modules are public paths; the lockfile pins the version and the transport tests
// would catch a move.
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
type Pool = UndiciPool;

export class Pools {
  private readonly pools = new Map<string, Pool>();
  private closing: Promise<void> | null = null;

  constructor(private readonly options: TransportConfig) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closing) throw new TransportError('NETWORK_ERROR', 'transport closed');
      pool = new Pool(origin, {
        connections: Math.min(this.options.connections, connectionBudget()),
        // Connecting gets at most the attempt's timeout; the transport's sweep enforces the whole attempt.
        connectTimeout: Math.min(this.options.timeoutMs, 10_000),
        // Off: the transport's sweep enforces each attempt's whole --timeout, and undici's own timers, armed and
        // cleared on every request, cost CPU on every request for no extra protection (docs/benchmarks.md, step 5).
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
