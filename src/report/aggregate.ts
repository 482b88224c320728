// The report's one pass over the results: `add` takes each Result as it is written (run) or read back (report)
// and folds it into bounded state — counts, an HDR latency histogram, log latency bins, time buckets, throttled
// periods, the slowest requests and a capped sample of failures. Memory stays the same for a thousand requests
// or a million; `snapshot()` turns the state into plain data for the HTML page, the JSON summary and JUnit.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Result, Summary } from '../engine/types.js';
import { FailureSample, type FailureRef } from './failure-sample.js';
import { BIN_COUNT, binLowerMs, binOf, binPercentile, binUpperMs } from './latency-bins.js';
import { Slowest, type RequestRef } from './slowest.js';
import { THROTTLE_STATUSES, ThrottleSpans, type ThrottleSpan } from './throttle-spans.js';
import { TimeBuckets } from './time-buckets.js';

export interface AggregateLimits {
  /** Slowest requests kept (default 20). */
  slowest?: number;
  /** Failures listed (default 500); at most `failuresPerCode` (default: the same) of one error code. */
  failures?: number;
  failuresPerCode?: number;
}

export interface LatencyStats {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** One bucket of the over-time series: its start (epoch ms), request counts, latencies in ms (null: none started). */
export interface TimePoint {
  t: number;
  started: number;
  completed: number;
  failed: number;
  retried: number;
  throttled: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface ThrottleInfo {
  /**
   * Where the periods come from: adaptive pace ('run': watched during the run, or read back from the results'
   * `throttled` fields), else 429/503 answers in the results.
   */
  source: 'results' | 'run';
  /** Time throttled, ms. */
  ms: number;
  /** Requests whose last answer was 429 or 503. */
  requests: number;
  reasons: string[];
  spans: ThrottleSpan[];
}

export interface HistogramBar {
  /** Bin edges in ms (upper: null for the open-ended last bin). */
  lowerMs: number;
  upperMs: number | null;
  count: number;
}

export interface ReportSnapshot {
  total: number;
  ok: number;
  failed: number;
  /** Sum of attempts, and retries (attempts beyond the first). */
  attempts: number;
  retries: number;
  /** Requests that needed more than one attempt. */
  retried: number;
  byStatus: Record<string, number>;
  byError: Record<string, number>;
  /** Attempts per request → how many requests made that many. */
  byAttempts: Record<string, number>;
  /** Results with no HTTP answer (status null). */
  noStatus: number;
  latencyMs: LatencyStats;
  /** First start and last completion seen, epoch ms; null when no result carried a startedAt. */
  firstStartedAt: number | null;
  lastEndedAt: number | null;
  /** Results without startedAt (a results file need not carry it): counted everywhere but in the time charts. */
  untimed: number;
  /**
   * False when results were read from lines that record no timings at all (--format openai: no duration, start or
   * attempts). Latency, duration, throughput and retries are then unknown, and the reports say so; the latency
   * figures here are zeros that must not be shown.
   */
  timings: boolean;
  bucketMs: number;
  series: TimePoint[];
  histogram: HistogramBar[];
  /**
   * Throttled periods read from the results: requests whose last answer was 429/503 (`requests`), the union of
   * their intervals (`ms`, `spans`). A run adds what adaptive pace saw (run-reports.ts).
   */
  throttle: ThrottleInfo;
  slowest: RequestRef[];
  failures: FailureRef[];
  /** Failures counted but not listed. */
  failuresLeftOut: number;
}

const byCount = <K>(m: Map<K, number>): Record<string, number> =>
  Object.fromEntries(
    [...m]
      .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]), 'en', { numeric: true }))
      .map(([k, v]) => [String(k), v]),
  );

const MAX_ATTEMPTS_KEY = 100;

export class ReportAggregator {
  private total = 0;
  private ok = 0;
  private failed = 0;
  private attempts = 0;
  private retried = 0;
  private noStatus = 0;
  private untimed = 0;
  private noTimings = 0;
  private throttledRequests = 0;
  private firstStartedAt = Infinity;
  private lastEndedAt = -Infinity;
  private readonly byStatus = new Map<number, number>();
  private readonly byError = new Map<string, number>();
  private readonly byAttempts = new Map<number, number>();
  private readonly hdr: RecordableHistogram = createHistogram();
  private readonly bins = new Uint32Array(BIN_COUNT);
  private readonly buckets = new TimeBuckets();
  private readonly throttle = new ThrottleSpans();
  /** Adaptive pace's episodes, from the results' `throttled` fields: each from its start to its requests' end. */
  private readonly paced = new ThrottleSpans();
  private readonly slowest: Slowest;
  private readonly failures: FailureSample;

  constructor(limits: AggregateLimits = {}) {
    this.slowest = new Slowest(limits.slowest ?? 20);
    const failures = limits.failures ?? 500;
    this.failures = new FailureSample(failures, Math.min(failures, limits.failuresPerCode ?? failures));
  }

  /**
   * Folds one result in. `line`: its 1-based line in the results file, when there is one. `noTimings`: the result
   * was read from a line that records no timings (see ReportSnapshot.timings); it counts, but has no latency.
   */
  add(r: Result & { noTimings?: true }, line: number | null = null): void {
    this.total++;
    if (r.noTimings) this.noTimings++;
    if (r.ok) this.ok++;
    else this.failed++;
    const attempts = Number.isFinite(r.attempts) ? Math.max(0, r.attempts) : 0;
    this.attempts += attempts;
    const retried = attempts > 1;
    if (retried) this.retried++;
    const ak = Math.min(attempts, MAX_ATTEMPTS_KEY);
    this.byAttempts.set(ak, (this.byAttempts.get(ak) ?? 0) + 1);
    if (r.status === null) this.noStatus++;
    else this.byStatus.set(r.status, (this.byStatus.get(r.status) ?? 0) + 1);
    const code = r.error?.code ?? null;
    if (code !== null) this.byError.set(code, (this.byError.get(code) ?? 0) + 1);

    const ms = Number.isFinite(r.durationMs) && r.durationMs > 0 ? r.durationMs : 0;
    // Requests that were never sent (attempts 0) have no latency to speak of.
    if (attempts > 0 && !r.noTimings) {
      this.hdr.record(Math.max(1, Math.round(ms * 1000)));
      this.bins[binOf(ms)]!++;
    }
    const throttled = r.status !== null && THROTTLE_STATUSES.has(r.status);
    if (throttled) this.throttledRequests++;

    const startedAt = r.startedAt;
    if (typeof startedAt === 'number' && Number.isFinite(startedAt)) {
      if (startedAt < this.firstStartedAt) this.firstStartedAt = startedAt;
      if (startedAt + ms > this.lastEndedAt) this.lastEndedAt = startedAt + ms;
      this.buckets.add(startedAt, ms, !r.ok, retried, throttled);
      if (throttled) this.throttle.add(startedAt, startedAt + ms, [String(r.status)]);
      if (r.throttled !== undefined) this.paced.add(r.throttled.since, startedAt + ms, r.throttled.by);
    } else {
      this.untimed++;
    }

    if (this.slowest.wants(ms) || !r.ok) {
      const ref: RequestRef = {
        id: r.id,
        line,
        status: r.status,
        code,
        attempts,
        durationMs: ms,
        startedAt: startedAt ?? null,
      };
      if (attempts > 0 && !r.noTimings) this.slowest.add(ref);
      if (!r.ok) this.failures.add(ref, r.error?.message ?? '', r.response);
    }
  }

  get count(): number {
    return this.total;
  }

  /** Plain data; the aggregator can go on taking results afterwards. */
  snapshot(): ReportSnapshot {
    const timed = this.firstStartedAt !== Infinity;
    const failures = this.failures.list();
    return {
      total: this.total,
      ok: this.ok,
      failed: this.failed,
      attempts: this.attempts,
      retries: Math.max(0, this.attempts - this.total + this.byAttemptsZero()),
      retried: this.retried,
      byStatus: byCount(this.byStatus),
      byError: byCount(this.byError),
      byAttempts: Object.fromEntries(
        [...this.byAttempts]
          .sort((a, b) => a[0] - b[0])
          .map(([k, v]) => [k === MAX_ATTEMPTS_KEY ? `${k}+` : String(k), v]),
      ),
      noStatus: this.noStatus,
      latencyMs: this.latencyStats(),
      firstStartedAt: timed ? this.firstStartedAt : null,
      lastEndedAt: timed ? Math.round(this.lastEndedAt) : null,
      untimed: this.untimed,
      timings: this.noTimings === 0,
      bucketMs: this.buckets.widthMs,
      series: this.series(),
      histogram: this.histogram(),
      throttle: this.throttleInfo(),
      slowest: this.slowest.list(),
      failures,
      failuresLeftOut: this.failures.total - failures.length,
    };
  }

  /** Adaptive pace's account when the results carry one (see Result.throttled), else the 429/503 answers'. */
  private throttleInfo(): ThrottleInfo {
    const spans = this.paced.size > 0 ? this.paced : this.throttle;
    const list = spans.list();
    const reasons = [...new Set(list.flatMap((s) => s.reasons))];
    return {
      source: spans === this.paced ? 'run' : 'results',
      ms: Math.round(spans.totalMs()),
      requests: this.throttledRequests,
      // Adaptive pace lists its reasons in the order it met them; 429/503 answers sort.
      reasons: spans === this.paced ? reasons : reasons.sort(),
      spans: list,
    };
  }

  /** From the HDR histogram, which holds microseconds: milliseconds to one decimal. */
  private latencyStats(): LatencyStats {
    if (this.hdr.count === 0) return { p50: 0, p90: 0, p95: 0, p99: 0, min: 0, max: 0, mean: 0 };
    const ms = (us: number) => Math.round(us / 100) / 10;
    return {
      p50: ms(this.hdr.percentile(50)),
      p90: ms(this.hdr.percentile(90)),
      p95: ms(this.hdr.percentile(95)),
      p99: ms(this.hdr.percentile(99)),
      min: ms(this.hdr.min),
      max: ms(this.hdr.max),
      mean: ms(this.hdr.mean),
    };
  }

  private series(): TimePoint[] {
    return this.buckets.entries().map(([t, b]) => {
      const pct = (p: number) =>
        b.started === 0 ? null : round1(binPercentile(b.latency, b.started, p, b.latencyMax));
      return {
        t,
        started: b.started,
        completed: b.completed,
        failed: b.failed,
        retried: b.retried,
        throttled: b.throttled,
        p50: pct(50),
        p95: pct(95),
        p99: pct(99),
        max: b.started === 0 ? null : round1(b.latencyMax),
      };
    });
  }

  /** The latency bins from the first to the last that holds a request. */
  private histogram(): HistogramBar[] {
    let lo = 0;
    let hi = BIN_COUNT - 1;
    while (lo < BIN_COUNT && this.bins[lo] === 0) lo++;
    while (hi > lo && this.bins[hi] === 0) hi--;
    const histogram: HistogramBar[] = [];
    for (let i = lo; i <= hi && i < BIN_COUNT; i++) {
      const upper = binUpperMs(i);
      histogram.push({
        lowerMs: round3(binLowerMs(i)),
        upperMs: upper === Infinity ? null : round3(upper),
        count: this.bins[i]!,
      });
    }
    return histogram;
  }

  /** Requests never sent (attempts 0) made no retry, though they count toward total. */
  private byAttemptsZero(): number {
    return this.byAttempts.get(0) ?? 0;
  }
}

/**
 * A run Summary built from a snapshot alone, for a report made after the fact: the wall-clock span of the results
 * stands for the duration, and retries are counted from attempts.
 */
export function summaryFromSnapshot(s: ReportSnapshot): Summary {
  const durationMs =
    s.firstStartedAt !== null && s.lastEndedAt !== null ? Math.max(0, s.lastEndedAt - s.firstStartedAt) : 0;
  return {
    total: s.total,
    ok: s.ok,
    failed: s.failed,
    skipped: 0,
    retries: s.retries,
    byStatus: s.byStatus,
    byError: s.byError,
    latencyMs: { p50: s.latencyMs.p50, p95: s.latencyMs.p95, p99: s.latencyMs.p99, max: s.latencyMs.max },
    durationMs: Math.round(durationMs),
    ratePerSec: durationMs > 0 ? Math.round((s.total / durationMs) * 10_000) / 10 : 0,
    interrupted: false,
    inputError: null,
    // The periods adaptive pace held the run back are in the results (their `throttled` fields); the pace it
    // settled at is not.
    throttle:
      s.throttle.source === 'run' && s.throttle.ms > 0
        ? { ms: s.throttle.ms, reasons: s.throttle.reasons, concurrency: null, rate: null }
        : null,
    changed: null,
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const round3 = (v: number) => Math.round(v * 1000) / 1000;
