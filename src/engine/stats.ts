// Live counters and the latency histogram of a run, and the summary made from them at the end.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { InputError, Result, RunStats, Summary } from './types.js';

export function createStats(total: number | null = null): RunStats {
  return {
    total,
    read: 0,
    skipped: 0,
    started: 0,
    done: 0,
    ok: 0,
    failed: 0,
    inFlight: 0,
    retries: 0,
    byStatus: new Map(),
    byError: new Map(),
    startedAt: Date.now(),
    throttle: null,
  };
}

/** Node's built-in HDR histogram: constant memory however many requests, percentiles to ~1%. */
export class Latency {
  private readonly h: RecordableHistogram = createHistogram();

  /** Records a request's total duration (in microseconds inside; 1 µs is the floor). */
  record(ms: number): void {
    this.h.record(Math.max(1, Math.round(ms * 1000)));
  }

  percentiles(): Summary['latencyMs'] {
    if (this.h.count === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
    const ms = (us: number) => Math.round(us / 100) / 10;
    return {
      p50: ms(this.h.percentile(50)),
      p95: ms(this.h.percentile(95)),
      p99: ms(this.h.percentile(99)),
      max: ms(this.h.max),
    };
  }
}

export function countResult(stats: RunStats, r: Result): void {
  stats.done++;
  if (r.ok) stats.ok++;
  else stats.failed++;
  if (r.status !== null) stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
  if (r.error) stats.byError.set(r.error.code, (stats.byError.get(r.error.code) ?? 0) + 1);
}

export function buildSummary(
  stats: RunStats,
  latency: Latency,
  durationMs: number,
  interrupted: boolean,
  inputError: InputError | null,
  changed: Summary['changed'] = null,
): Summary {
  const byCount = <K>(m: Map<K, number>) =>
    Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [String(k), v]));
  return {
    total: stats.done,
    ok: stats.ok,
    failed: stats.failed,
    skipped: stats.skipped,
    retries: stats.retries,
    byStatus: byCount(stats.byStatus),
    byError: byCount(stats.byError),
    latencyMs: latency.percentiles(),
    durationMs: Math.round(durationMs),
    ratePerSec: durationMs > 0 ? Math.round((stats.done / durationMs) * 10_000) / 10 : 0,
    interrupted,
    inputError,
    throttle: throttleSummary(stats),
    changed,
  };
}

function throttleSummary(stats: RunStats): Summary['throttle'] {
  const t = stats.throttle;
  if (t === null || t.reasons.length === 0) return null;
  const ms = t.totalMs + (t.active ? Date.now() - t.since : 0);
  return { ms: Math.round(ms), reasons: [...t.reasons], concurrency: t.concurrency, rate: t.rate };
}
