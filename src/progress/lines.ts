// The display for logs (CI, a redirected stderr): whole plain lines at a slow pace, because a log keeps every
// line it is given and cursor tricks or colour codes turn into noise there.
import type { Progress, RunStats } from '../engine/types.js';
import { formatCount, formatEta, formatPercent, formatRate } from './format.js';
import { RateMeter } from './rate.js';
import { writeLine, type ProgressStream } from './stream.js';
import { viewOf, type ProgressView } from './view.js';

const DEFAULT_LINES_INTERVAL_MS = 5000;

/**
 * `batchpost: 40,000/200,000 (20%) 1,851/s ok 39,990 failed 10 eta 1m26s`, or without a known total
 * `batchpost: 40,000 done 1,851/s ok 39,990 failed 10`. Words, not symbols: logs are grepped.
 */
function formatPlainLine(view: ProgressView): string {
  const parts = ['batchpost:'];
  if (view.total !== null) {
    parts.push(
      `${formatCount(view.position)}/${formatCount(view.total)}`,
      `(${formatPercent(view.position, view.total)})`,
    );
  } else {
    parts.push(`${formatCount(view.position)} done`);
  }
  if (view.ratePerSec !== null) parts.push(formatRate(view.ratePerSec));
  parts.push(`ok ${formatCount(view.ok)}`, `failed ${formatCount(view.failed)}`);
  if (view.etaMs !== null) parts.push(`eta ${formatEta(view.etaMs)}`);
  if (view.hold !== null) parts.push(view.hold);
  return parts.join(' ');
}

export class LinesProgress implements Progress {
  readonly #stream: ProgressStream;
  readonly #intervalMs: number;
  readonly #meter = new RateMeter();
  #stats: RunStats | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** What the last line said, so stop() adds a final line only when it would tell something new. */
  #lastShown = '';
  #stopped = false;

  constructor(options: { stream: ProgressStream; intervalMs?: number }) {
    const intervalMs = options.intervalMs ?? DEFAULT_LINES_INTERVAL_MS;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new RangeError(`progress interval must be a positive number of milliseconds, got ${intervalMs}`);
    }
    this.#stream = options.stream;
    this.#intervalMs = intervalMs;
  }

  start(stats: RunStats): void {
    if (this.#stats !== null || this.#stopped) return;
    this.#stats = stats;
    this.#meter.add(performance.now(), stats.done);
    this.#lastShown = stateOf(stats);
    // Unref'd: the display must never be the reason the process stays alive.
    this.#timer = setInterval(() => this.#print(stats), this.#intervalMs);
    this.#timer.unref();
  }

  note(message: string): void {
    writeLine(this.#stream, message);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    // The last periodic line may be seconds old; a log that ends mid-run reads as a crash.
    if (this.#stats !== null && stateOf(this.#stats) !== this.#lastShown) this.#print(this.#stats);
  }

  #print(stats: RunStats): void {
    this.#meter.add(performance.now(), stats.done);
    // Printed even when nothing moved: in a CI log a steady line is how a stalled run differs from a hung job.
    writeLine(this.#stream, formatPlainLine(viewOf(stats, this.#meter.perSecond())));
    this.#lastShown = stateOf(stats);
  }
}

function stateOf(stats: RunStats): string {
  return `${stats.total}|${stats.done}|${stats.ok}|${stats.failed}`;
}
