// How a run's connections are made, as plain data (structured-clone and JSON safe): sender threads receive it in
// their setup and distributed workers in the run's config in Redis, so every process that sends builds its
// transport (createTransport) from the same choices as a local run.
import type { ResolvedOptions } from '../engine/options.js';

export interface TransportConfig {
  /** Connections per origin: as many as requests in flight, since the engine never has more. */
  connections: number;
  /** The run's per-attempt timeout (ms): connecting takes no longer (and at most 10 s); each send bounds the rest. */
  timeoutMs: number;
  /**
   * The largest answer body kept (bytes): a larger one is cut off while it arrives (RESPONSE_TOO_LARGE). Every
   * command sets it from --max-response-size (transportConfigOf); absent, nothing is cut off.
   */
  maxResponseBytes?: number;
  /** Redirects followed per attempt (-L, --max-redirs); 0 or absent: none, the 3xx is the answer. */
  maxRedirects?: number;
  /** Set: redirects are followed to this origin only (serve's --url's); one elsewhere is the answer. */
  redirectOrigin?: string;
}

export function transportConfigOf(o: ResolvedOptions): TransportConfig {
  return {
    connections: o.concurrency,
    timeoutMs: o.timeoutMs,
    maxResponseBytes: o.maxResponseBytes,
    maxRedirects: o.followRedirects ? o.maxRedirects : 0,
  };
}
