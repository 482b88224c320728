// The terminal display: one bar line redrawn in place about ten times a second, human notes printed above it.
import cliProgress from 'cli-progress';
import type { Progress, RunStats } from '../engine/types.js';
import { painter } from './color.js';
import { formatCount, formatEta, formatPercent, formatRate } from './format.js';
import { RateMeter } from './rate.js';
import { writeLine, type ProgressStream } from './stream.js';
import { viewOf, type ProgressView } from './view.js';

const BAR_CELLS = 28;
// A bar narrower than this says less than the percent next to it; give its room to the numbers instead.
const MIN_BAR_CELLS = 8;
const GAP = '  ';

/** What the bar line is drawn with: block characters and symbols, or plain ASCII (NO_COLOR, TERM=dumb). */
interface Glyphs {
  ok: string;
  failed: string;
  hold: string;
  frame: [string, string];
  full: string;
  /** Partial cells by fill, from empty: eighths with block characters, none in ASCII. */
  partial: readonly string[];
  empty: string;
}

const SYMBOLS: Glyphs = {
  ok: '✓ ',
  failed: '✗ ',
  hold: '⏸ ',
  frame: ['▕', '▏'],
  full: '█',
  partial: ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'],
  empty: ' ',
};
const ASCII: Glyphs = {
  ok: 'ok ',
  failed: 'failed ',
  hold: '',
  frame: ['[', ']'],
  full: '#',
  partial: [''],
  empty: '.',
};
// cli-progress turns the terminal's auto-wrap off while the bar is up (so a line that turns out too wide is clipped,
// not wrapped into a trail of copies). Notes must wrap, or a long resume command would be cut off at the edge.
const WRAP_ON = '\x1b[?7h';
const WRAP_OFF = '\x1b[?7l';

interface Segment {
  plain: string;
  styled: string;
  /** Which segments give way first on a narrow terminal (highest first); null: never dropped. */
  dropRank: number | null;
}

/**
 * One bar line: `▕████▌   ▏ 131,072/200,000  65%  1,842/s  ETA 37s  ✓ 130,904  ✗ 168`, or without a known total
 * `131,072 done  1,842/s  ✓ 130,904  ✗ 168`; with `symbols: false`, plain ASCII:
 * `[####......] 131,072/200,000  65%  1,842/s  ETA 37s  ok 130,904  failed 168`. Fitted to `width` columns: a line
 * that wraps can no longer be redrawn in place and leaves a trail of copies, so the bar shrinks, then the least
 * useful segments go.
 */
export function formatBarLine(
  view: ProgressView,
  options: { color: boolean; width: number; symbols?: boolean },
): string {
  const c = painter(options.color);
  const g = options.symbols === false ? ASCII : SYMBOLS;
  const segment = (plain: string, styled: string, dropRank: number | null): Segment => ({ plain, styled, dropRank });
  const segments: Segment[] = [];
  const known = view.total !== null;

  const count = known
    ? `${formatCount(view.position)}/${formatCount(view.total!)}`
    : `${formatCount(view.position)} done`;
  segments.push(segment(count, count, null));
  if (known) {
    const percent = formatPercent(view.position, view.total!);
    segments.push(segment(percent, percent, 4));
  }
  if (view.ratePerSec !== null) {
    const rate = formatRate(view.ratePerSec);
    segments.push(segment(rate, rate, 2));
  }
  if (view.etaMs !== null) {
    const eta = `ETA ${formatEta(view.etaMs)}`;
    segments.push(segment(eta, eta, 3));
  }
  const ok = `${g.ok}${formatCount(view.ok)}`;
  segments.push(segment(ok, c.green(ok), 5));
  const failed = `${g.failed}${formatCount(view.failed)}`;
  segments.push(segment(failed, view.failed > 0 ? c.red(failed) : failed, 0));
  if (view.hold !== null) {
    const hold = `${g.hold}${view.hold}`;
    segments.push(segment(hold, c.yellow(hold), 1));
  }

  // One column spare: writing into the last column makes some terminals wrap early.
  const room = Math.max(20, options.width - 1);
  // The bar goes first when space is short (the count and percent say the same), and never comes back into room
  // freed by dropping numbers: a line that traded numbers for a picture would say less.
  const cells = known ? Math.min(BAR_CELLS, room - lineWidth(segments) - 3) : 0; // frame 2 + a space
  while (lineWidth(segments) > room) {
    const victim = segments.reduce<Segment | null>(
      (worst, s) => (s.dropRank !== null && (worst === null || s.dropRank > worst.dropRank!) ? s : worst),
      null,
    );
    if (victim === null) break;
    segments.splice(segments.indexOf(victim), 1);
  }

  const line = segments.map((s) => s.styled).join(GAP);
  if (cells < MIN_BAR_CELLS) return line;
  const fraction = view.total! > 0 ? view.position / view.total! : 1;
  return `${g.frame[0]}${drawCells(fraction, cells, g)}${g.frame[1]} ${line}`;
}

function lineWidth(segments: Segment[]): number {
  // Code points, not UTF-16 units: every symbol used here is one column wide.
  return segments.reduce((sum, s) => sum + [...s.plain].length, 0) + GAP.length * Math.max(0, segments.length - 1);
}

function drawCells(fraction: number, cells: number, g: Glyphs): string {
  const steps = g.partial.length;
  const filled = Math.floor(Math.min(1, Math.max(0, fraction)) * cells * steps);
  const full = Math.floor(filled / steps);
  const partial = g.partial[filled % steps]!;
  return g.full.repeat(full) + partial + g.empty.repeat(cells - full - (partial ? 1 : 0));
}

/**
 * cli-progress's MultiBar draws the line and prints notes above it (`log`). It re-arms a plain setTimeout after
 * every redraw and offers no way to unref it, so a run that forgot stop() would hang the process; each re-armed
 * timer is unref'd here. `timer` is internal to cli-progress 3 (pinned major), hence the narrow cast.
 */
function unrefTimer(multibar: cliProgress.MultiBar): void {
  (multibar as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref?.();
}

export class BarProgress implements Progress {
  readonly #stream: ProgressStream;
  readonly #color: boolean;
  readonly #symbols: boolean;
  readonly #meter = new RateMeter();
  #stats: RunStats | null = null;
  #multibar: cliProgress.MultiBar | null = null;
  #stopped = false;
  // If the process exits without stop() (an uncaught error), leave the user's terminal wrapping lines again.
  readonly #restoreWrap = (): void => {
    this.#stream.write(WRAP_ON);
  };

  /** Expects a TTY stream: cli-progress draws nothing elsewhere (createProgress picks plain lines there). */
  constructor(options: { stream: ProgressStream; color: boolean; symbols?: boolean }) {
    this.#stream = options.stream;
    this.#color = options.color;
    this.#symbols = options.symbols ?? true;
  }

  start(stats: RunStats): void {
    if (this.#stats !== null || this.#stopped) return;
    this.#stats = stats;
    this.#meter.add(performance.now(), stats.done);
    const multibar = new cliProgress.MultiBar({
      stream: this.#stream,
      fps: 10,
      format: (_options, params) =>
        formatBarLine(viewOf(stats, this.#meter.perSecond()), {
          color: this.#color,
          width: params.maxWidth,
          symbols: this.#symbols,
        }),
      // The summary replaces the bar, so stop() erases it rather than leaving a final copy above the summary.
      clearOnComplete: true,
      // Without this an unchanged line is not redrawn after a note has cleared it, and a stalled run loses its bar.
      forceRedraw: true,
      // The CLI owns SIGINT: the first Ctrl-C drains in-flight requests while the bar keeps counting them.
      gracefulExit: false,
      // A hidden cursor is not restored if the process dies abruptly; a visible one at the line's end is harmless.
      hideCursor: false,
    });
    // Sampling happens on the display's clock, never per request: the engine only bumps counters.
    multibar.on('update-pre', () => this.#meter.add(performance.now(), stats.done));
    multibar.on('update-post', () => unrefTimer(multibar));
    multibar.create(stats.total ?? 0, 0);
    unrefTimer(multibar);
    this.#multibar = multibar;
    process.once('exit', this.#restoreWrap);
    multibar.update(); // draw now rather than a frame later
  }

  note(message: string): void {
    if (this.#multibar === null) {
      writeLine(this.#stream, message);
      return;
    }
    // Logged lines are flushed above the bar on the next redraw; redraw now so the note is not lost to a stop()
    // that follows straight after (MultiBar.stop does not flush its log buffer).
    const text = message.endsWith('\n') ? message : `${message}\n`;
    this.#multibar.log(`${WRAP_ON}${text}${WRAP_OFF}`);
    this.#multibar.update();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const multibar = this.#multibar;
    this.#multibar = null;
    if (multibar === null) return;
    process.removeListener('exit', this.#restoreWrap);
    multibar.removeAllListeners();
    multibar.stop(); // clears its timer, erases the bar line, turns auto-wrap back on
  }
}
