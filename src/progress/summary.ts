// The end-of-run text on stderr: the first line answers "did it work", the indented lines below answer "how"
// and "what now", and lines with nothing to say are left out so a clean run stays short.
import type { Summary } from '../engine/types.js';
import { painter } from './color.js';
import { formatCount, formatDuration, formatLatency, formatRate } from './format.js';

export interface SummaryOptions {
  color: boolean;
  /** ✓ and ✗; off wherever colour is off (NO_COLOR, not a TTY) so logs read as plain words. */
  symbols: boolean;
  /** Where the results went, shown so the user knows what to open next; omitted for stdout. */
  resultsPath?: string | null;
  /** The command that re-sends only the failures, shown when something failed. */
  retryFailedCommand?: string | null;
  /**
   * After --resume and its kin: every id of the results file by its last line. The first line then counts these
   * (a resumed run that sent nothing still fails for failures recorded earlier), and a line says what was sent now.
   */
  recorded?: RecordedCounts | null;
  /**
   * False for results that record no timings (`batchpost report` on --format openai results): the duration, rate
   * and latency are unknown, and a line says so instead of showing zeros.
   */
  timings?: boolean;
}

export interface RecordedCounts {
  ok: number;
  failed: number;
  byError: Record<string, number>;
}

// Past a handful, more error codes stop being a summary; the results file and --report hold the rest.
const MAX_ERROR_CODES = 5;
const SECTION_GAP = '   ';

/** Several lines, no trailing newline. */
export function formatSummary(summary: Summary, options: SummaryOptions): string {
  const c = painter(options.color);
  const mark = (symbol: string, text: string): string => (options.symbols ? `${symbol} ${text}` : text);
  const label = (name: string): string => `  ${c.dim(name)}${' '.repeat(Math.max(1, 9 - name.length))}`;
  const sent = summary.ok + summary.failed;
  const lines: string[] = [];

  const head: string[] = [];
  const counts = options.recorded ?? summary;
  const ok = mark('✓', `${formatCount(counts.ok)} ok`);
  head.push(counts.ok > 0 ? c.green(ok) : ok);
  if (counts.failed > 0) {
    const failed = c.red(mark('✗', `${formatCount(counts.failed)} failed`));
    const codes = formatCounts(counts.byError, MAX_ERROR_CODES);
    head.push(codes === '' ? failed : `${failed} (${codes})`);
  }
  const timed = options.timings !== false;
  const rate = sent > 0 && summary.ratePerSec > 0 ? `, ${formatRate(summary.ratePerSec)}` : '';
  if (timed) head.push(`in ${formatDuration(summary.durationMs)}${rate}`);
  lines.push(head.join(SECTION_GAP));

  if (!timed) lines.push(`  ${c.dim('timings')} not recorded (--format openai results carry no durations)`);
  else if (sent > 0) {
    const { p50, p95, p99 } = summary.latencyMs;
    let line = `  ${c.dim('latency')} p50 ${formatLatency(p50)}  p95 ${formatLatency(p95)}  p99 ${formatLatency(p99)}`;
    if (summary.retries > 0) line += `${SECTION_GAP}retries ${formatCount(summary.retries)}`;
    if (summary.throttle !== null) {
      const t = summary.throttle;
      const pace = t.rate !== null ? formatRate(t.rate) : t.concurrency !== null ? `${t.concurrency} in flight` : null;
      line += `${SECTION_GAP}throttled ${formatDuration(t.ms)} (${t.reasons.join(', ')})`;
      if (pace !== null) line += `, settled at ${pace}`;
    }
    lines.push(line);
  }

  const statuses = sortedCounts(summary.byStatus);
  if (statuses.length > 0) {
    const shown = statuses.map(([status, n]) => {
      const text = `${status} ${formatCount(n)}`;
      return isFailureStatus(status) ? c.red(text) : text;
    });
    lines.push(`${label('status')}${shown.join('  ')}`);
  }

  if (options.recorded) lines.push(`${label('sent now')}${sentNow(summary)}`);
  if (summary.skipped > 0) lines.push(`${label('skipped')}${formatCount(summary.skipped)} already recorded`);

  const stopped = stoppedReason(summary);
  if (stopped !== null) lines.push(`${label('stopped')}${c.yellow(stopped)}`);

  if (options.resultsPath) lines.push(`${label('results')}${options.resultsPath}`);
  if (counts.failed > 0 && options.retryFailedCommand) {
    lines.push(`${label('failed')}run again only the failures: ${options.retryFailedCommand}`);
  }
  return lines.join('\n');
}

/** `35 (33 ok, 2 failed)`, `0`. */
function sentNow(summary: Summary): string {
  const sent = summary.ok + summary.failed;
  if (sent === 0) return '0';
  const parts = [`${formatCount(summary.ok)} ok`];
  if (summary.failed > 0) parts.push(`${formatCount(summary.failed)} failed`);
  return `${formatCount(sent)} (${parts.join(', ')})`;
}

/** Why the run ended early, or null when it ran to the end of its input. */
function stoppedReason(summary: Summary): string | null {
  const recorded = summary.ok + summary.failed + summary.skipped;
  // "of N" only when N says more than the recorded count: when the input was not counted ahead (stdin), the
  // total is what had been read, which is not the size of the input.
  const rest =
    summary.total > recorded
      ? `${formatCount(recorded)} of ${formatCount(summary.total)} recorded`
      : `${formatCount(recorded)} recorded`;
  // The input error's own message is the CLI's to print (with the line number and what to do); here, only that
  // the run stopped because of it.
  if (summary.inputError !== null) return `by an input error (${summary.inputError.code}): ${rest}`;
  if (summary.interrupted) return `interrupted: ${rest}`;
  return null;
}

/** `HTTP_500 241, TIMEOUT 39, +2 more`: most frequent first, so the cause worth fixing leads. */
function formatCounts(counts: Record<string, number>, max: number): string {
  const sorted = sortedCounts(counts);
  const shown = sorted.slice(0, max).map(([key, n]) => `${key} ${formatCount(n)}`);
  if (sorted.length > max) shown.push(`+${sorted.length - max} more`);
  return shown.join(', ');
}

function sortedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b, 'en', { numeric: true }));
}

function isFailureStatus(status: string): boolean {
  const code = Number(status);
  return !Number.isInteger(code) || code >= 400;
}
