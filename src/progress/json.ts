// --progress json: for wrappers and dashboards, one JSON object per line on stderr at each interval (and a last one
// when the run stops), so a program follows a run without scraping a bar. The shape is docs/progress.schema.json;
// the final {"summary": …} line is written by the command once the run's summary is known (jsonSummaryLine).
import type { Progress, RunStats, Summary } from '../engine/types.js';
import type { ResultsTally } from '../output/index.js';
import { RateMeter } from './rate.js';
import { writeLine, type ProgressStream } from './stream.js';
import { viewOf } from './view.js';

const DEFAULT_JSON_INTERVAL_MS = 5000;

/** One interval's line; every field is always present (null when not known yet). */
export interface ProgressLine {
  done: number;
  total: number | null;
  ok: number;
  failed: number;
  inFlight: number;
  /** Recent completions per second, null while too early to tell. */
  rate: number | null;
  etaMs: number | null;
  /** Adaptive pace holds the run below the asked pace (429/503, Retry-After, rate-limit headers). */
  throttled: boolean;
}

export function progressLineOf(stats: RunStats, ratePerSec: number | null): ProgressLine {
  const view = viewOf(stats, ratePerSec);
  return {
    done: stats.done,
    total: stats.total,
    ok: stats.ok,
    failed: stats.failed,
    inFlight: stats.inFlight,
    rate: view.ratePerSec === null ? null : Math.round(view.ratePerSec * 10) / 10,
    etaMs: view.etaMs === null ? null : Math.round(view.etaMs),
    throttled: stats.throttle?.active === true,
  };
}

/**
 * The last line of a run's progress: the engine's summary as it is (so fields it gains appear here too), the exit
 * code, and after --resume and its kin the tally of every id in the results file (`recorded`; else null).
 */
export function jsonSummaryLine(summary: Summary, exitCode: number, recorded: ResultsTally | null = null): string {
  return `${JSON.stringify({ summary: { ...summary, exitCode, recorded } })}\n`;
}

export class JsonProgress implements Progress {
  readonly #stream: ProgressStream;
  readonly #intervalMs: number;
  readonly #meter = new RateMeter();
  #stats: RunStats | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: { stream: ProgressStream; intervalMs?: number }) {
    const intervalMs = options.intervalMs ?? DEFAULT_JSON_INTERVAL_MS;
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
    // Unref'd: the display must never be the reason the process stays alive.
    this.#timer = setInterval(() => this.#print(stats), this.#intervalMs);
    this.#timer.unref();
  }

  /** Messages for a person stay plain text: a reader tells them apart as the lines that are not JSON objects. */
  note(message: string): void {
    writeLine(this.#stream, message);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    // Always a last line: a reader's final counts are the run's, not those of the last tick.
    if (this.#stats !== null) this.#print(this.#stats);
  }

  #print(stats: RunStats): void {
    this.#meter.add(performance.now(), stats.done);
    writeLine(this.#stream, JSON.stringify(progressLineOf(stats, this.#meter.perSecond())));
  }
}
