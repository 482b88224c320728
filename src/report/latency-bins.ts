// Log-spaced latency bins: constant memory whatever the number of requests, ±4.5% resolution (8 bins per
// doubling). One array of counts per time bucket gives p50/p95/p99 over time; one for the whole run draws the
// histogram. Overall percentiles come from an HDR histogram instead (aggregate.ts), which is finer.

const BINS_PER_OCTAVE = 8;
/** Everything at or below this lands in bin 0. */
const MIN_MS = 0.1;
/** 0.1 ms × 2^24 ≈ 28 minutes; the last bin is open-ended. */
const OCTAVES = 24;
export const BIN_COUNT = 1 + BINS_PER_OCTAVE * OCTAVES;

export function binOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const i = Math.floor(Math.log2(ms / MIN_MS) * BINS_PER_OCTAVE) + 1;
  return i >= BIN_COUNT ? BIN_COUNT - 1 : i;
}

/** Lower edge of bin i in ms (bin 0 starts at 0). */
export function binLowerMs(i: number): number {
  return i <= 0 ? 0 : MIN_MS * 2 ** ((i - 1) / BINS_PER_OCTAVE);
}

/** Upper edge of bin i in ms (the last bin's is Infinity). */
export function binUpperMs(i: number): number {
  return i >= BIN_COUNT - 1 ? Infinity : MIN_MS * 2 ** (i / BINS_PER_OCTAVE);
}

/** A representative value of bin i: its geometric middle (bin 0: MIN_MS; the last bin: its lower edge). */
function binMidMs(i: number): number {
  if (i <= 0) return MIN_MS;
  if (i >= BIN_COUNT - 1) return binLowerMs(i);
  return MIN_MS * 2 ** ((i - 0.5) / BINS_PER_OCTAVE);
}

/**
 * The p-th percentile (0-100) of the values counted in `bins` (total `count`), as a bin's middle, clamped to
 * `max` (the largest value seen) so a bucket's p99 never exceeds its true maximum. NaN when empty.
 */
export function binPercentile(bins: ArrayLike<number>, count: number, p: number, max = Infinity): number {
  if (count <= 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * count));
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i]!;
    if (seen >= rank) return Math.min(binMidMs(i), max);
  }
  return max;
}
