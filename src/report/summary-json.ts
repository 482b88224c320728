// `--summary FILE.json`: the end-of-run summary for scripts. The engine's Summary as it is (so fields it gains
// appear here too), plus what a script asks next: exit code, wall-clock times, attempts, throttled time and
// periods, and the slowest requests.
import type { Summary } from '../engine/types.js';
import type { ReportSnapshot } from './aggregate.js';
import type { ReportContext } from './context.js';

const SUMMARY_SCHEMA_VERSION = 1;

function buildSummaryJson(summary: Summary, s: ReportSnapshot, ctx: ReportContext): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    batchpost: ctx.version,
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    source: ctx.source,
    exitCode: ctx.exitCode,
    results: ctx.results?.path ?? null,
    startedAt: iso(ctx.startedAt),
    endedAt: iso(ctx.startedAt === null ? null : ctx.startedAt + ctx.durationMs),
    ...summary,
    latencyMs: { ...s.latencyMs, ...summary.latencyMs },
    attempts: s.attempts,
    byAttempts: s.byAttempts,
    throughput: {
      ratePerSec: summary.ratePerSec,
      /** The most requests completed in one time bucket, per second. */
      peakPerSec: Math.round(((s.series.reduce((m, p) => Math.max(m, p.completed), 0) * 1000) / s.bucketMs) * 10) / 10,
      bucketMs: s.bucketMs,
    },
    throttled: {
      ms: s.throttle.ms,
      source: s.throttle.source,
      reasons: s.throttle.reasons,
      requests: s.throttle.requests,
      periods: s.throttle.spans.map((p) => ({
        start: iso(p.start),
        end: iso(p.end),
        ms: Math.round(p.end - p.start),
        reasons: p.reasons,
      })),
    },
    slowest: s.slowest.slice(0, 10).map((r) => ({
      id: r.id,
      durationMs: r.durationMs,
      status: r.status,
      error: r.code,
      attempts: r.attempts,
      line: r.line,
    })),
  };
}

/**
 * Results that record no timings (--format openai): every figure that would come from them is null rather than a
 * zero that reads as a measurement, and `timings: false` says why.
 */
function withoutTimings(json: Record<string, unknown>): Record<string, unknown> {
  return {
    ...json,
    startedAt: null,
    endedAt: null,
    durationMs: null,
    ratePerSec: null,
    retries: null,
    latencyMs: null,
    attempts: null,
    byAttempts: null,
    throughput: null,
    // 429/503 answers are still counted; when they happened is unknown.
    throttled: { ...(json.throttled as object), ms: null, periods: null },
    slowest: [],
  };
}

export function summaryJsonText(summary: Summary, s: ReportSnapshot, ctx: ReportContext): string {
  const json = { ...buildSummaryJson(summary, s, ctx), timings: s.timings };
  return `${JSON.stringify(s.timings ? json : withoutTimings(json), null, 2)}\n`;
}
