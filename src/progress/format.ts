// Number and time formatters shared by the progress displays, the summary, the engine's messages and the CLI,
// so every count, duration and rate a user reads looks the same wherever it appears.

// en-US whatever the machine's locale: the output is read in CI logs and pasted into issues, where a stable
// shape matters more than local convention. Grouped by hand rather than with Intl.NumberFormat: creating one loads
// ICU's locale data, memory and start-up time every run would pay for three commas (docs/benchmarks.md).

/** `1234567` → `1,234,567` (rounded to a whole number). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  // `|| 0` turns -0 (from rounding a tiny negative) into 0.
  const digits = String(Math.round(n) || 0);
  return digits.length < 4 ? digits : digits.replace(/\B(?=(\d{3})+$)/g, ',');
}

/** Requests per second: `1,842/s`; below 10/s one decimal (`2.5/s`) so slow runs still show movement. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0/s';
  if (perSecond < 9.95) return `${perSecond.toFixed(1)}/s`;
  return `${formatCount(perSecond)}/s`;
}

/**
 * An elapsed time: `850ms`, `12.3s`, `1m49s`, `1h02m`. Precision shrinks as the value grows: nobody needs the
 * tenths of a second of a two-minute run, and a fixed two-unit shape keeps lines from jittering.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const t = Math.max(0, ms);
  // Each threshold sits where rounding would carry into the next unit (999.6ms is "1.0s", not "1000ms").
  if (t < 999.5) return `${Math.round(t)}ms`;
  if (t < 59_950) return `${(t / 1000).toFixed(1)}s`;
  const seconds = Math.round(t / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad2(seconds % 60)}s`;
  const minutes = Math.round(t / 60_000);
  return `${Math.floor(minutes / 60)}h${pad2(minutes % 60)}m`;
}

/**
 * Time left: whole seconds (`37s`, `1m26s`, `1h02m`). Rounded up, so the last seconds of a run read "1s", never
 * "0s" while work remains; an estimate claiming tenths of a second would be false precision.
 */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad2(seconds % 60)}s`;
  const minutes = Math.ceil(seconds / 60);
  return `${Math.floor(minutes / 60)}h${pad2(minutes % 60)}m`;
}

/** A request latency: `0.8ms`, `41ms`, `388ms`, `1.2s` — two or three significant digits, as a reader compares them. */
export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const t = Math.max(0, ms);
  if (t < 9.95) return `${t.toFixed(1)}ms`;
  if (t < 999.5) return `${Math.round(t)}ms`;
  return formatDuration(t);
}

/** Share done as a whole percent, rounded down so "100%" only ever means finished. */
export function formatPercent(part: number, whole: number): string {
  if (!(whole > 0)) return '100%';
  const percent = Math.floor((part / whole) * 100);
  return `${Math.min(100, Math.max(0, percent))}%`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
