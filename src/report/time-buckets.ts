// Per-interval counters for the over-time charts. The bucket width grows as the covered time span does, so a run
// of three seconds gets 100 ms buckets and a run of a day 5-minute ones, and there are never more than
// MAX_BUCKETS of them. Widths step through a ladder where each divides the next and all are aligned to the epoch,
// so coarsening merges whole buckets exactly: no count is ever split or estimated.
import { BIN_COUNT, binOf } from './latency-bins.js';

export const MAX_BUCKETS = 500;
const WIDTHS_MS = [
  100, 200, 1_000, 2_000, 10_000, 20_000, 60_000, 120_000, 600_000, 1_200_000, 3_600_000, 7_200_000, 21_600_000,
  86_400_000,
];

export interface Bucket {
  /** Requests whose first attempt started in this bucket. */
  started: number;
  /** Requests that completed (startedAt + durationMs) in this bucket. */
  completed: number;
  /** Of those started here: failed, retried (attempts > 1), ended throttled (429/503). */
  failed: number;
  retried: number;
  throttled: number;
  /** Latency of the requests started here: log bins (latency-bins.ts) and the largest value. */
  latency: Uint32Array;
  latencyMax: number;
}

function emptyBucket(): Bucket {
  return {
    started: 0,
    completed: 0,
    failed: 0,
    retried: 0,
    throttled: 0,
    latency: new Uint32Array(BIN_COUNT),
    latencyMax: 0,
  };
}

function mergeInto(into: Bucket, from: Bucket): void {
  into.started += from.started;
  into.completed += from.completed;
  into.failed += from.failed;
  into.retried += from.retried;
  into.throttled += from.throttled;
  for (let i = 0; i < BIN_COUNT; i++) into.latency[i]! += from.latency[i]!;
  if (from.latencyMax > into.latencyMax) into.latencyMax = from.latencyMax;
}

export class TimeBuckets {
  private widthIndex = 0;
  private readonly buckets = new Map<number, Bucket>();
  private minKey = Infinity;
  private maxKey = -Infinity;

  get widthMs(): number {
    return widthAt(this.widthIndex);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** One request: started at `startedAt` (epoch ms), took `durationMs`. */
  add(startedAt: number, durationMs: number, failed: boolean, retried: boolean, throttled: boolean): void {
    const start = this.bucketAt(startedAt);
    start.started++;
    if (failed) start.failed++;
    if (retried) start.retried++;
    if (throttled) start.throttled++;
    start.latency[binOf(durationMs)]!++;
    if (durationMs > start.latencyMax) start.latencyMax = durationMs;
    this.bucketAt(startedAt + Math.max(0, durationMs)).completed++;
  }

  /** Buckets in time order, each with its start (epoch ms); empty buckets between are left out. */
  entries(): Array<[startMs: number, bucket: Bucket]> {
    const w = this.widthMs;
    return [...this.buckets].sort((a, b) => a[0] - b[0]).map(([k, b]) => [k * w, b]);
  }

  private bucketAt(t: number): Bucket {
    let key = Math.floor(t / this.widthMs);
    let b = this.buckets.get(key);
    if (b !== undefined) return b;
    const lo = Math.min(this.minKey, key);
    const hi = Math.max(this.maxKey, key);
    if (hi - lo + 1 > MAX_BUCKETS) {
      this.coarsen(lo, hi);
      key = Math.floor(t / this.widthMs);
      b = this.buckets.get(key);
      if (b !== undefined) return b;
    }
    b = emptyBucket();
    this.buckets.set(key, b);
    if (key < this.minKey) this.minKey = key;
    if (key > this.maxKey) this.maxKey = key;
    return b;
  }

  /** Widens the buckets until keys lo..hi (at the current width) fit in MAX_BUCKETS, merging exactly. */
  private coarsen(lo: number, hi: number): void {
    const oldWidth = this.widthMs;
    let i = this.widthIndex;
    while (Math.floor((hi * oldWidth) / widthAt(i)) - Math.floor((lo * oldWidth) / widthAt(i)) + 1 > MAX_BUCKETS) i++;
    this.widthIndex = i;
    const ratio = widthAt(i) / oldWidth;
    const old = [...this.buckets];
    this.buckets.clear();
    this.minKey = Infinity;
    this.maxKey = -Infinity;
    for (const [k, bucket] of old) {
      const key = Math.floor(k / ratio);
      const into = this.buckets.get(key);
      if (into === undefined) this.buckets.set(key, bucket);
      else mergeInto(into, bucket);
      if (key < this.minKey) this.minKey = key;
      if (key > this.maxKey) this.maxKey = key;
    }
  }
}

/** The ladder, then doubling days: every width divides the next. */
function widthAt(i: number): number {
  const last = WIDTHS_MS.length - 1;
  return i <= last ? WIDTHS_MS[i]! : WIDTHS_MS[last]! * 2 ** (i - last);
}
