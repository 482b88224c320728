// Throttled periods. Read from the results themselves (a request whose last answer was 429 or 503 was held back by
// the server for as long as it ran), or watched live from adaptive pace during a run (run-reports.ts). Intervals
// that overlap or touch are merged into periods, and the list is capped by merging the two closest periods, so
// memory stays bounded; the gaps such merges bridge are not counted as throttled time.

export const THROTTLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);
export const MAX_SPANS = 200;

export interface ThrottleSpan {
  /** Epoch ms. */
  start: number;
  end: number;
  /** Intervals merged into the span (requests that ended throttled, or episodes of adaptive pace). */
  count: number;
  /** Why: "429", "503", "Retry-After", "RateLimit", … */
  reasons: string[];
}

export class ThrottleSpans {
  /** Disjoint, sorted by start. */
  private readonly spans: ThrottleSpan[] = [];
  /** Time inside the spans that no interval covered: gaps bridged to keep the list short. */
  private bridgedMs = 0;

  add(start: number, end: number, reasons: readonly string[]): void {
    if (!Number.isFinite(start)) return;
    if (!(end >= start)) end = start;
    // Results arrive roughly in completion order: search back from the end for the first span that may touch.
    let i = this.spans.length;
    while (i > 0 && this.spans[i - 1]!.start > end) i--;
    // spans[0..i) start at or before `end`; merge every one of them that reaches `start`.
    let j = i;
    while (j > 0 && this.spans[j - 1]!.end >= start) j--;
    const merged: ThrottleSpan = { start, end, count: 1, reasons: [...reasons] };
    for (let k = j; k < i; k++) absorb(merged, this.spans[k]!);
    this.spans.splice(j, i - j, merged);
    if (this.spans.length > MAX_SPANS) this.mergeClosest();
  }

  get size(): number {
    return this.spans.length;
  }

  /** The periods, oldest first (copies). */
  list(): ThrottleSpan[] {
    return this.spans.map((s) => ({ ...s, reasons: [...s.reasons] }));
  }

  /** Total throttled time in ms: the length of the union of the intervals (less any bridged gap). */
  totalMs(): number {
    let total = 0;
    for (const s of this.spans) total += s.end - s.start;
    return Math.max(0, total - this.bridgedMs);
  }

  private mergeClosest(): void {
    let best = 1;
    let bestGap = Infinity;
    for (let k = 1; k < this.spans.length; k++) {
      const gap = this.spans[k]!.start - this.spans[k - 1]!.end;
      if (gap < bestGap) {
        bestGap = gap;
        best = k;
      }
    }
    const into = this.spans[best - 1]!;
    this.bridgedMs += Math.max(0, bestGap);
    absorb(into, this.spans[best]!);
    this.spans.splice(best, 1);
  }
}

function absorb(into: ThrottleSpan, from: ThrottleSpan): void {
  into.start = Math.min(into.start, from.start);
  into.end = Math.max(into.end, from.end);
  into.count += from.count;
  for (const r of from.reasons) if (!into.reasons.includes(r)) into.reasons.push(r);
}
