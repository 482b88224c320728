// The rate a display shows is the recent one: after a 429 pause or a slow patch, a lifetime average would keep
// promising a speed the run no longer has, and the ETA built on it would be wrong for minutes.

interface Sample {
  at: number;
  count: number;
}

/** Completions per second over roughly the last `windowMs`, from samples the display takes on its own clock. */
export class RateMeter {
  readonly #windowMs: number;
  readonly #minSpanMs: number;
  #samples: Sample[] = [];

  /** `minSpanMs`: below this much history the rate is noise (a handful of requests), so none is reported. */
  constructor(windowMs = 5000, minSpanMs = 500) {
    this.#windowMs = windowMs;
    this.#minSpanMs = minSpanMs;
  }

  add(at: number, count: number): void {
    this.#samples.push({ at, count });
    // Keep one sample at or before the window's start as the baseline, so the measured span covers the whole
    // window even when samples are sparse (the plain-lines display samples only every few seconds).
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - this.#windowMs) this.#samples.shift();
  }

  /** Per second, or null until there is enough history to mean anything. */
  perSecond(): number | null {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last) return null;
    const span = last.at - first.at;
    if (span < this.#minSpanMs) return null;
    return Math.max(0, ((last.count - first.count) * 1000) / span);
  }
}
