// Spaces request starts evenly: one every 1/rate seconds, never a burst (a server-side limiter counting per
// window must see a steady trickle). A start is allowed when its slot is due, give or take the timer's
// 1 ms granularity; above ~1,000/s that granularity lets the few starts that fall due within the same
// millisecond go together, which is the closest a timer-driven loop can get.

const GRANULARITY_MS = 1;

export class Pacer {
  private intervalMs: number;
  /** When the next slot is due; NaN until the first start, whose moment begins the grid (without a phase). */
  private next = Number.NaN;
  private readonly waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    ratePerSec: number,
    private readonly now: () => number = () => performance.now(),
    /**
     * A moment (on `now`'s clock) a slot falls on: slots keep to that grid. Sender threads sharing one rate are
     * given grids offset by one interval of the whole rate, so their starts interleave instead of pairing up.
     */
    phaseMs?: number,
  ) {
    this.intervalMs = 1000 / ratePerSec;
    if (phaseMs !== undefined) {
      const t = now();
      this.next = t + ((((phaseMs - t) % this.intervalMs) + this.intervalMs) % this.intervalMs);
    }
  }

  /** Adaptive pace slows or restores the rate; the next start keeps its slot. */
  setRate(ratePerSec: number): void {
    this.intervalMs = 1000 / ratePerSec;
  }

  /** Resolves when this start is due; returns null when it is due already (no promise on the fast path). */
  acquire(): Promise<void> | null {
    if (this.waiters.length === 0 && this.take()) return null;
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.arm();
    });
  }

  /** Rejects every waiter (a hard stop); later acquires still work. */
  cancel(reason: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }

  private take(): boolean {
    const now = this.now();
    if (Number.isNaN(this.next)) this.next = now;
    // Late timers are caught up by at most one interval, so the average rate holds without a burst after a stall;
    // whole intervals are skipped, so the slots stay on their grid.
    if (this.next < now - this.intervalMs)
      this.next += Math.floor((now - this.next) / this.intervalMs) * this.intervalMs;
    if (this.next > now + GRANULARITY_MS) return false;
    this.next += this.intervalMs;
    return true;
  }

  private arm(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.next - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      while (this.waiters.length > 0 && this.take()) this.waiters.shift()!.resolve();
      if (this.waiters.length > 0) this.arm();
    }, wait);
  }
}
