// Progress displays behind the engine's one Progress interface, and the choice between them.
import type { Progress } from '../engine/types.js';
import { BarProgress } from './bar.js';
import { JsonProgress } from './json.js';
import { LinesProgress } from './lines.js';
import { NoneProgress } from './none.js';
import type { ProgressStream } from './stream.js';

export type ProgressMode = 'bar' | 'lines' | 'none' | 'auto' | 'json';
export const PROGRESS_MODES: readonly ProgressMode[] = ['bar', 'lines', 'none', 'auto', 'json'];

export interface ProgressOptions {
  /** Where the display writes: stderr, so stdout stays results only. */
  stream: ProgressStream;
  /** Colour the bar (see useColor); the plain lines never colour. */
  color: boolean;
  /**
   * The bar's symbols and block characters (✓ ✗ ⏸ █); false: plain ASCII, for NO_COLOR and TERM=dumb, which the
   * CLI passes as it passes colour (the summary's own `symbols` likewise). Default true. Plain lines use words.
   */
  symbols?: boolean;
  /** Plain and JSON lines: time between lines (default 5000). */
  intervalMs?: number;
}

/**
 * `auto` is the bar on a TTY and plain lines elsewhere. So is `bar`: drawn into a file or a CI log, a redrawn line
 * is either nothing (cli-progress skips non-TTY streams) or a pile of cursor codes, so someone forcing the bar
 * through a pipe still gets readable progress.
 */
export function createProgress(mode: ProgressMode, options: ProgressOptions): Progress {
  switch (mode) {
    case 'none':
      return new NoneProgress(options);
    case 'lines':
      return new LinesProgress(options);
    case 'json':
      return new JsonProgress(options);
    case 'bar':
    case 'auto':
      return options.stream.isTTY === true ? new BarProgress(options) : new LinesProgress(options);
    default:
      throw new TypeError(
        `unknown progress mode "${String(mode satisfies never)}": expected ${PROGRESS_MODES.join(', ')}`,
      );
  }
}

export { BarProgress, formatBarLine } from './bar.js';
export { JsonProgress, jsonSummaryLine, progressLineOf, type ProgressLine } from './json.js';
export { LinesProgress } from './lines.js';
export { NoneProgress } from './none.js';
export { useColor } from './color.js';
export { formatSummary, type SummaryOptions } from './summary.js';
export { formatCount, formatDuration, formatEta, formatLatency, formatPercent, formatRate } from './format.js';
export { RateMeter } from './rate.js';
export type { ProgressStream } from './stream.js';
export type { ProgressView } from './view.js';
