// Adaptive pace: the server's signals (429/503, Retry-After, RateLimit-* and X-RateLimit-* headers) slow the
// whole run, not just the request that got them. New starts pause until the server's reset, the allowed
// concurrency (and rate, when --rate is set) is halved, then grows back additively with each success, never above
// what the user asked for: additive increase, multiplicative decrease, as TCP does.
import { parseRetryAfter } from './retry.js';
import type { Throttle } from './types.js';

/** At most one halving per this long: a burst of 429s from one window is one signal, not twenty. */
const DECREASE_COOLDOWN_MS = 1000;
/** With --rate, the rate recovers by this share of its ceiling per second of successes. */
const RATE_RECOVERY_PER_SEC = 0.05;

export class Governor {
  /** Allowed requests in flight (fractional: additive increase adds 1/limit per success). */
  private limit: number;
  private rate: number | null;
  private pausedUntil = 0;
  private lastDecrease = -Infinity;
  private pauseTimer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  readonly throttle: Throttle;

  constructor(
    private readonly maxConcurrency: number,
    private readonly maxRate: number | null,
    private readonly maxPauseMs: number,
    /** Told whenever the allowed concurrency or rate changes. */
    private readonly onChange: (concurrency: number, rate: number | null) => void,
    private readonly now: () => number = Date.now,
    /** Told of every signal this governor saw itself (sender threads pass it on to the others: see `relay`). */
    private readonly onSignal: ((pausedUntil: number, reasons: string[]) => void) | null = null,
  ) {
    this.limit = maxConcurrency;
    this.rate = maxRate;
    this.throttle = { active: false, reasons: [], since: 0, totalMs: 0, concurrency: maxConcurrency, rate: maxRate };
  }

  /** Null when starts may go ahead; else resolves when the pause the server asked for is over. */
  gate(): Promise<void> | null {
    const left = this.pausedUntil - this.now();
    if (left <= 0) return null;
    // The timer may have fired a hair early by this clock: re-arm it so no start waits for a release that is gone.
    if (this.pauseTimer === null) this.arm(left);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Reads one HTTP answer for pace signals. */
  observe(status: number, headers: Record<string, string | string[]>): void {
    const t = this.now();
    const limited = status === 429 || status === 503;
    const reasons: string[] = limited ? [String(status)] : [];
    let pauseMs = 0;
    if (limited) {
      const ra = parseRetryAfter(headers['retry-after'], t);
      if (ra !== null) {
        pauseMs = ra;
        reasons.push('Retry-After');
      }
    }
    const quota = rateLimitReset(headers, t);
    if (quota !== null) {
      pauseMs = Math.max(pauseMs, quota.resetMs);
      reasons.push(quota.header);
    }
    if (reasons.length === 0) {
      if (status >= 200 && status < 300) this.increase();
      return;
    }
    if (pauseMs > 0) this.pause(Math.min(pauseMs, this.maxPauseMs), t);
    this.decrease(t);
    this.enter(reasons, t);
    this.onSignal?.(this.pausedUntil, reasons);
  }

  /**
   * A signal another governor of the same run saw (another sender thread): pause until the same moment (epoch ms)
   * and slow down as if it had been seen here, so the run as a whole reacts once, as one thread would.
   */
  relay(pausedUntil: number, reasons: string[]): void {
    const t = this.now();
    if (pausedUntil > t) this.pause(Math.min(pausedUntil - t, this.maxPauseMs), t);
    this.decrease(t);
    this.enter(reasons, t);
  }

  /** Releases paused starts and timers (end of run). */
  close(): void {
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.release();
    this.leave(this.now());
  }

  private decrease(t: number): void {
    if (t - this.lastDecrease < DECREASE_COOLDOWN_MS) return;
    this.lastDecrease = t;
    this.limit = Math.max(1, this.limit / 2);
    if (this.rate !== null) this.rate = Math.max(this.maxRate! / 64, this.rate / 2);
    this.changed();
  }

  private pause(ms: number, t: number): void {
    const until = t + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.arm(ms);
  }

  private arm(ms: number): void {
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.release();
    }, ms);
  }

  private release(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private increase(): void {
    if (this.now() < this.pausedUntil) return;
    const before = Math.floor(this.limit);
    const rateBefore = this.rate;
    if (this.limit < this.maxConcurrency) this.limit = Math.min(this.maxConcurrency, this.limit + 1 / this.limit);
    if (this.rate !== null && this.rate < this.maxRate!) {
      // One success per 1/rate seconds, so each adds its share of a second's recovery.
      this.rate = Math.min(this.maxRate!, this.rate + (this.maxRate! * RATE_RECOVERY_PER_SEC) / this.rate);
    }
    if (Math.floor(this.limit) !== before || this.rate !== rateBefore) this.changed();
    if (this.limit >= this.maxConcurrency && (this.rate === null || this.rate >= this.maxRate!)) this.leave(this.now());
  }

  private changed(): void {
    const concurrency = Math.floor(this.limit);
    this.throttle.concurrency = concurrency;
    this.throttle.rate = this.rate === null ? null : Math.round(this.rate * 10) / 10;
    this.onChange(concurrency, this.rate);
  }

  private enter(reasons: string[], t: number): void {
    for (const r of reasons) if (!this.throttle.reasons.includes(r)) this.throttle.reasons.push(r);
    if (this.throttle.active) return;
    this.throttle.active = true;
    this.throttle.since = t;
  }

  private leave(t: number): void {
    if (!this.throttle.active) return;
    this.throttle.active = false;
    this.throttle.totalMs += t - this.throttle.since;
  }
}

/**
 * RateLimit-Remaining: 0 (IETF draft) or X-RateLimit-Remaining: 0 (GitHub, Twitter…) with a reset: how long until
 * the quota returns. Reset is delta-seconds, or, when it is larger than any sane delay, epoch seconds.
 */
function rateLimitReset(
  headers: Record<string, string | string[]>,
  nowMs: number,
): { resetMs: number; header: string } | null {
  for (const [remainingHeader, resetHeader, header] of QUOTA_HEADERS) {
    const remaining = first(headers[remainingHeader]);
    if (remaining === undefined || Number(remaining) > 0) continue;
    const reset = Number(first(headers[resetHeader]));
    if (!Number.isFinite(reset) || reset < 0) continue;
    const resetMs = reset > 1e9 ? reset * 1000 - nowMs : reset * 1000;
    return { resetMs: Math.max(0, resetMs), header };
  }
  return null;
}

// Looked up on every answer: the names are built once.
const QUOTA_HEADERS = [
  ['ratelimit-remaining', 'ratelimit-reset', 'RateLimit'],
  ['x-ratelimit-remaining', 'x-ratelimit-reset', 'X-RateLimit'],
] as const;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
