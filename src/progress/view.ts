// What a progress display shows at one instant, derived from the live RunStats in one place so the bar and the
// plain lines can never disagree about position, percent or ETA.
import { formatDuration, formatRate } from './format.js';
import type { RunStats } from '../engine/types.js';

export interface ProgressView {
  /**
   * What this run will send when known in advance. With --resume the CLI counts the input and subtracts the ids
   * already recorded (src/cli/run.ts), so total, position, rate and ETA all describe this run's work; the skipped
   * ids are reported by the summary instead.
   */
  total: number | null;
  /** Requests this run has finished (RunStats.done; skipped ids are not in it). */
  position: number;
  ok: number;
  failed: number;
  /** Recent completions per second, or null while too early to tell. */
  ratePerSec: number | null;
  /** Null when it cannot be estimated: no total, no rate yet, or nothing left. */
  etaMs: number | null;
  /** Why the run is holding back, e.g. "throttled 4s (429)"; see readHold. */
  hold: string | null;
}

export function viewOf(stats: RunStats, ratePerSec: number | null): ProgressView {
  const position = stats.done;
  const remaining = stats.total === null ? 0 : Math.max(0, stats.total - position);
  const etaMs = remaining > 0 && ratePerSec !== null && ratePerSec > 0 ? (remaining / ratePerSec) * 1000 : null;
  return {
    total: stats.total,
    position,
    ok: stats.ok,
    failed: stats.failed,
    ratePerSec,
    etaMs,
    hold: readHold(stats),
  };
}

/**
 * Why the run is slower than asked (adaptive pace), rendered by the bar as `⏸ throttled 4s (429)` and by the plain
 * lines as `throttled 4s (429)`; or why it waits (RunStats.hold, e.g. no worker yet); null while at full pace.
 */
export function readHold(stats: RunStats, now = Date.now()): string | null {
  if (stats.hold) return stats.hold;
  const t = stats.throttle;
  if (t === null || !t.active) return null;
  const pace = t.rate !== null ? `${formatRate(t.rate)}` : `${t.concurrency} in flight`;
  return `throttled ${formatDuration(now - t.since)} (${t.reasons.join(', ')}) at ${pace}`;
}
