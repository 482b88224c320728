// The HTML report: one self-contained page (styles, uPlot, data and script inline; a Content-Security-Policy that
// forbids any fetch), so it opens offline, from a CI artifact or an e-mail attachment alike. Numbers and tables
// are rendered here; the page's script only draws the charts and filters the failures.
import { formatCount, formatDuration, formatLatency, formatRate } from '../progress/format.js';
import type { ReportSnapshot } from './aggregate.js';
import { chartLibrary } from './chart-library.js';
import type { ReportContext } from './context.js';
import { REPORT_SCRIPT } from './html-script.js';
import { REPORT_CSS } from './html-style.js';
import { redactUrls } from '../util/redact.js';
import type { RequestRef } from './slowest.js';
import { shellQuote } from '../util/shell-quote.js';

export interface HtmlOptions {
  /** The results file relative to the report's folder, as a URL path, for links to lines; null: no links. */
  resultsHref: string | null;
}

const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

export function renderReportHtml(s: ReportSnapshot, ctx: ReportContext, options: HtmlOptions): string {
  const lib = chartLibrary();
  const title = ctx.source === 'run' ? 'batchpost run report' : 'batchpost results report';
  const data = {
    bucketMs: s.bucketMs,
    series: s.series,
    histogram: s.histogram,
    throttle: { spans: s.throttle.spans.map((t) => ({ start: t.start, end: t.end })) },
    percentiles: { p50: s.latencyMs.p50, p95: s.latencyMs.p95, p99: s.latencyMs.p99 },
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="generator" content="batchpost ${esc(ctx.version)}">
<title>${esc(title)}${ctx.results ? ` · ${esc(baseName(ctx.results.path))}` : ''}</title>
<style>${lib.css}</style>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${header(s, ctx, title)}
${kpis(s, ctx)}
${throughputSection(s, ctx)}
${latencySection(s)}
${outcomesSection(s)}
${slowestSection(s)}
${failuresSection(s, ctx, options)}
${parametersSection(s, ctx)}
<footer>Made by batchpost ${esc(ctx.version)} on ${esc(utc(ctx.generatedAt))}${ctx.results ? ` from <code>${esc(ctx.results.path)}</code>` : ''}.
Charts drawn with ${esc(lib.name)} ${esc(lib.version)} (MIT), included in this file: the page loads nothing from the network.</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${lib.js}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}

function header(s: ReportSnapshot, ctx: ReportContext, title: string): string {
  const bits: string[] = [];
  if (ctx.target) bits.push(`<span class="mono">${esc(ctx.target)}</span>`);
  if (ctx.results) bits.push(`results <span class="mono">${esc(ctx.results.path)}</span>`);
  if (ctx.startedAt !== null) bits.push(`started ${esc(utc(ctx.startedAt))}`);
  const sent = s.total;
  let verdict: string;
  let kind: 'ok' | 'fail' | 'warn';
  if (ctx.stopped !== null) {
    kind = 'warn';
    verdict = `Stopped early: ${esc(ctx.stopped)}`;
  } else if (s.failed > 0) {
    kind = 'fail';
    verdict = `✗ ${formatCount(s.failed)} of ${formatCount(sent)} requests failed (${percent(s.failed, sent)})`;
  } else if (sent === 0) {
    kind = 'warn';
    verdict = 'No requests were recorded';
  } else {
    kind = 'ok';
    verdict = `✓ All ${formatCount(sent)} requests succeeded`;
  }
  return `<header>
<h1>${esc(title)}</h1>
<p class="sub">${bits.join(' · ')}</p>
<div class="verdict ${kind}" id="verdict">${verdict}</div>
</header>`;
}

function kpi(key: string, label: string, value: string, raw: number | string, detail = '', cls = ''): string {
  return `<div class="kpi${cls ? ` ${cls}` : ''}" data-kpi="${key}" data-value="${esc(String(raw))}"><div class="label">${esc(label)}</div><div class="value">${value}</div>${detail ? `<div class="detail">${detail}</div>` : ''}</div>`;
}

function kpis(s: ReportSnapshot, ctx: ReportContext): string {
  const timed = s.timings ? [...timeCards(s, ctx), ...latencyCards(s), ...retryCards(s)] : untimedCards(s);
  const cards = [...countCards(s, ctx), ...timed];
  return `<section class="kpis" id="kpis" style="margin-top:0">${cards.join('\n')}</section>`;
}

function countCards(s: ReportSnapshot, ctx: ReportContext): string[] {
  return [
    kpi(
      'total',
      'Requests',
      formatCount(s.total),
      s.total,
      ctx.skipped > 0 ? `${formatCount(ctx.skipped)} skipped (already recorded)` : '',
    ),
    kpi('ok', 'Succeeded', formatCount(s.ok), s.ok, percent(s.ok, s.total), s.ok > 0 ? 'ok' : ''),
    kpi('failed', 'Failed', formatCount(s.failed), s.failed, percent(s.failed, s.total), s.failed > 0 ? 'fail' : ''),
  ];
}

function timeCards(s: ReportSnapshot, ctx: ReportContext): string[] {
  // After the fact, the duration is the results' time span: unknown when they carry no startedAt.
  if (ctx.source === 'report' && s.firstStartedAt === null && s.total > 0)
    return [kpi('duration', 'Duration', '–', '', 'unknown: no startedAt'), kpi('rate', 'Throughput', '–', '')];
  const peak = (s.series.reduce((m, p) => Math.max(m, p.completed), 0) * 1000) / s.bucketMs;
  return [
    kpi(
      'duration',
      'Duration',
      esc(formatDuration(ctx.durationMs)),
      ctx.durationMs,
      ctx.source === 'report' ? 'first start to last answer' : '',
    ),
    kpi(
      'rate',
      'Throughput',
      esc(formatRate(ctx.ratePerSec)),
      ctx.ratePerSec,
      peak > 0 ? `peak ${esc(formatRate(peak))}` : '',
    ),
  ];
}

function latencyCards(s: ReportSnapshot): string[] {
  const l = s.latencyMs;
  return [
    kpi('p50', 'Latency p50', esc(formatLatency(l.p50)), l.p50, `mean ${esc(formatLatency(l.mean))}`),
    kpi('p95', 'Latency p95', esc(formatLatency(l.p95)), l.p95, `p90 ${esc(formatLatency(l.p90))}`),
    kpi('p99', 'Latency p99', esc(formatLatency(l.p99)), l.p99, `max ${esc(formatLatency(l.max))}`),
  ];
}

/** Results that record no timings (--format openai): the cards say so rather than show zeros. */
function untimedCards(s: ReportSnapshot): string[] {
  const none = 'not in --format openai results';
  const throttled = s.throttle.requests > 0 ? `${formatCount(s.throttle.requests)} ended 429/503` : '';
  return [
    kpi('duration', 'Duration', '–', '', 'not recorded'),
    kpi('rate', 'Throughput', '–', ''),
    kpi('latency', 'Latency', 'not recorded', '', none),
    kpi('retries', 'Retries', '–', '', 'not recorded'),
    kpi('throttled', 'Throttled', '–', '', throttled),
  ];
}

function retryCards(s: ReportSnapshot): string[] {
  const t = s.throttle;
  const throttleDetail =
    t.reasons.length > 0 ? esc(t.reasons.join(', ')) : t.requests > 0 ? `${formatCount(t.requests)} ended 429/503` : '';
  return [
    kpi(
      'retries',
      'Retries',
      formatCount(s.retries),
      s.retries,
      `${formatCount(s.retried)} request${s.retried === 1 ? '' : 's'} retried`,
    ),
    kpi('throttled', 'Throttled', t.ms > 0 ? esc(formatDuration(t.ms)) : 'none', t.ms, throttleDetail),
  ];
}

const NO_TIMINGS =
  '<p class="note empty" id="no-timings">These results are in the <code>--format openai</code> shape, which records no timings (no start, duration or attempts): latency, duration, throughput and retries are not recorded.</p>';

function timeNote(s: ReportSnapshot): string {
  if (!s.timings) return NO_TIMINGS;
  if (s.series.length === 0) {
    return s.total === 0
      ? '<p class="note empty">No results to chart.</p>'
      : '<p class="note empty">These results carry no <code>startedAt</code> (written by a batchpost older than reports), so there is no time axis.</p>';
  }
  return s.untimed > 0
    ? `<p class="note">${formatCount(s.untimed)} results without <code>startedAt</code> are counted but not charted.</p>`
    : '';
}

function throughputSection(s: ReportSnapshot, ctx: ReportContext): string {
  const t = s.throttle;
  let throttleNote: string;
  if (t.spans.length === 0) {
    throttleNote =
      t.source === 'run' || ctx.source === 'run'
        ? 'Not throttled: no request ended with 429 or 503 and adaptive pace never held the run back.'
        : 'Not throttled: no request ended with 429 or 503.';
  } else {
    const why =
      t.source === 'run'
        ? `adaptive pace held the run back (${esc(t.reasons.join(', '))})`
        : `requests were answered ${esc(t.reasons.join(' or '))} until they gave up`;
    throttleNote = `<span class="throttle-key"></span>Throttled, ${esc(formatDuration(t.ms))} in ${formatCount(t.spans.length)} period${t.spans.length === 1 ? '' : 's'}: ${why}.`;
  }
  return `<section id="throughput">
<h2>Throughput</h2>
<p class="note">Requests started and completed per second (${esc(bucketLabel(s.bucketMs))} buckets, UTC); retried: requests that needed more than one attempt, by start. ${throttleNote}</p>
${timeNote(s)}${s.series.length > 0 ? '<div class="chart" id="chart-throughput"></div>' : ''}
</section>`;
}

function latencySection(s: ReportSnapshot): string {
  if (!s.timings)
    return `<section id="latency">
<h2>Latency</h2>
<p class="note empty">Not recorded: <code>--format openai</code> results carry no durations.</p>
</section>`;
  return `<section id="latency">
<h2>Latency over time</h2>
<p class="note">p50, p95 and p99 of the requests started in each ${esc(bucketLabel(s.bucketMs))} bucket, from first attempt to last answer (retry waits included); ±5%.</p>
${timeNote(s)}${s.series.length > 0 ? '<div class="chart" id="chart-latency"></div>' : ''}
</section>
<section id="histogram">
<h2>Latency distribution</h2>
<p class="note">Requests by duration, on a log scale (8 bins per doubling). Overall p50 ${esc(formatLatency(s.latencyMs.p50))}, p95 ${esc(formatLatency(s.latencyMs.p95))}, p99 ${esc(formatLatency(s.latencyMs.p99))}, max ${esc(formatLatency(s.latencyMs.max))}.</p>
${s.histogram.length === 0 ? '<p class="note empty">No request was sent.</p>' : '<div class="chart" id="chart-histogram"></div>'}
</section>`;
}

function countTable(
  id: string,
  head: string,
  rows: Array<[string, number, boolean]>,
  total: number,
  empty: string,
): string {
  if (rows.length === 0)
    return `<table class="data" id="${id}"><thead><tr><th>${esc(head)}</th><th class="num">requests</th><th>share</th></tr></thead><tbody><tr><td colspan="3" class="empty">${esc(empty)}</td></tr></tbody></table>`;
  const max = Math.max(...rows.map((r) => r[1]));
  const body = rows
    .map(([key, n, bad]) => {
      const w = max > 0 ? Math.max(1, Math.round((n / max) * 80)) : 0;
      return `<tr data-key="${esc(key)}" data-count="${n}"><td${bad ? ' class="status-fail"' : ''}>${esc(key)}</td><td class="num">${formatCount(n)}</td><td class="share"><span class="bar${bad ? ' fail' : ''}" style="width:${w}px"></span>${percent(n, total)}</td></tr>`;
    })
    .join('\n');
  return `<table class="data" id="${id}"><thead><tr><th>${esc(head)}</th><th class="num">requests</th><th>share</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function outcomesSection(s: ReportSnapshot): string {
  const statusRows: Array<[string, number, boolean]> = Object.entries(s.byStatus).map(([k, n]) => [
    k,
    n,
    !(Number(k) >= 200 && Number(k) < 300),
  ]);
  if (s.noStatus > 0) statusRows.push(['no answer', s.noStatus, true]);
  const errorRows: Array<[string, number, boolean]> = Object.entries(s.byError).map(([k, n]) => [k, n, true]);
  const attemptRows: Array<[string, number, boolean]> = Object.entries(s.byAttempts).map(([k, n]) => [k, n, false]);
  const attempts = s.timings
    ? `${formatCount(s.attempts)} attempts for ${formatCount(s.total)} requests: ${formatCount(s.retries)} retries, ${formatCount(s.retried)} requests retried.`
    : `${formatCount(s.total)} requests; attempts are not recorded in <code>--format openai</code> results. A non-2xx answer counts as HTTP_&lt;status&gt;.`;
  const byAttempts = s.timings
    ? `<div><h3 class="note">By attempts</h3>${countTable('by-attempts', 'attempts', attemptRows, s.total, 'No requests')}</div>`
    : '';
  return `<section id="outcomes">
<h2>Outcomes</h2>
<p class="note">${attempts} Error codes are listed in docs/errors.md.</p>
<div class="grid3">
<div><h3 class="note">By HTTP status</h3>${countTable('by-status', 'status', statusRows, s.total, 'No answers')}</div>
<div><h3 class="note">By error code</h3>${countTable('by-error', 'error', errorRows, s.total, 'No errors')}</div>
${byAttempts}
</div>
</section>`;
}

/** A listed request's anchor in the page: its results line when known (unique even where an id repeats). */
function anchorOf(r: RequestRef): string {
  return r.line !== null ? `line-${r.line}` : `id-${encodeURIComponent(r.id)}`;
}

/** The id, linking to `anchor` in this page (so a copy of the report anywhere keeps working), and its results line. */
function idCell(r: RequestRef, anchor: string): string {
  const link = `<a href="#${esc(anchor)}">${esc(r.id)}</a>`;
  if (r.line === null) return `<td class="mono">${link}</td>`;
  return `<td class="mono">${link} <span class="line" title="line ${r.line} of the results file">line ${formatCount(r.line)}</span></td>`;
}

function statusCell(status: number | null): string {
  if (status === null) return '<td class="num status-fail">–</td>';
  return `<td class="num${status >= 200 && status < 300 ? '' : ' status-fail'}">${status}</td>`;
}

function slowestSection(s: ReportSnapshot): string {
  if (s.slowest.length === 0) return '';
  // A slow request that failed links to its row among the failures, where its answer is; others to their own row.
  const failures = new Set(s.failures.map(anchorOf));
  const rows = s.slowest
    .map((r, i) => {
      const anchor = anchorOf(r);
      const own = failures.has(anchor) ? '' : ` id="${esc(anchor)}"`;
      return `<tr${own} data-id="${esc(r.id)}" data-duration="${r.durationMs}"><td class="num">${i + 1}</td>${idCell(r, anchor)}${statusCell(r.status)}<td>${esc(r.code ?? '')}</td><td class="num">${r.attempts}</td><td class="num">${esc(formatLatency(r.durationMs))}</td><td class="mono">${r.startedAt === null ? '' : esc(new Date(r.startedAt).toISOString().slice(11, 23))}</td></tr>`;
    })
    .join('\n');
  return `<section id="slowest">
<h2>Slowest requests</h2>
<p class="note">The ${formatCount(s.slowest.length)} slowest of ${formatCount(s.total)}, from first attempt to last answer.</p>
<table class="data" id="slowest-table"><thead><tr><th class="num">#</th><th>id</th><th class="num">status</th><th>error</th><th class="num">attempts</th><th class="num">duration</th><th>started (UTC)</th></tr></thead><tbody>
${rows}
</tbody></table>
</section>`;
}

function failuresSection(s: ReportSnapshot, ctx: ReportContext, options: HtmlOptions): string {
  if (s.failed === 0) return `<section id="failures"><h2>Failures</h2><p class="note empty">No failures.</p></section>`;
  const rows = s.failures
    .map((f) => {
      const anchor = anchorOf(f);
      return `<tr id="${esc(anchor)}" data-id="${esc(f.id)}">${idCell(f, anchor)}${statusCell(f.status)}<td>${esc(f.code ?? '')}</td>${s.timings ? `<td class="num">${f.attempts}</td><td class="num">${esc(formatLatency(f.durationMs))}</td>` : '<td class="num">–</td><td class="num">–</td>'}<td class="msg">${esc(redactUrls(f.message))}</td><td class="msg mono response">${esc(f.response)}</td></tr>`;
    })
    .join('\n');
  const leftOut =
    s.failuresLeftOut > 0
      ? `<p class="note" id="failures-left-out" data-left-out="${s.failuresLeftOut}">${formatCount(s.failuresLeftOut)} more failure${s.failuresLeftOut === 1 ? ' is' : 's are'} not listed (a report lists at most ${formatCount(s.failures.length)}, taking turns between error codes). All of them: <code>${esc(allFailuresCommand(ctx))}</code></p>`
      : '';
  const lines = options.resultsHref !== null ? '; "line N" is its line in the results file' : '';
  return `<section id="failures">
<h2>Failures</h2>
<p class="note">${formatCount(s.failed)} failed request${s.failed === 1 ? '' : 's'}, with the start of each answer (secrets redacted). Each id links to its row here${lines}.</p>
${leftOut}
<div class="search"><input type="search" id="failure-search" placeholder="Filter by id, status, error code, message or response" aria-label="Filter failures"><span class="note" id="failure-count"></span></div>
<table class="data" id="failure-table"><thead><tr><th>id</th><th class="num">status</th><th>error</th><th class="num">attempts</th><th class="num">duration</th><th>message</th><th>response</th></tr></thead><tbody>
${rows}
</tbody></table>
</section>`;
}

/** The jq command that lists every failure of the results file (its format's verdict; zcat first for a .gz). */
function allFailuresCommand(ctx: ReportContext): string {
  const results = ctx.results;
  const listed = results && (results.format === 'ndjson' || results.format === 'openai');
  const file = listed ? results.path : 'results.ndjson';
  const filter =
    results?.format === 'openai'
      ? "jq -c 'select(.error != null or .response == null or .response.status_code < 200 or .response.status_code >= 300)'"
      : "jq -c 'select(.ok == false)'";
  return /\.gz$/i.test(file) ? `zcat ${shellQuote(file)} | ${filter}` : `${filter} ${shellQuote(file)}`;
}

function parametersSection(s: ReportSnapshot, ctx: ReportContext): string {
  const rows: Array<[string, string]> = [...ctx.parameters];
  if (ctx.startedAt !== null) rows.push(['started', utc(ctx.startedAt)]);
  rows.push(['duration', s.timings ? formatDuration(ctx.durationMs) : 'not recorded (--format openai results)']);
  if (ctx.exitCode !== null) rows.push(['exit code', String(ctx.exitCode)]);
  if (s.firstStartedAt !== null && s.lastEndedAt !== null)
    rows.push(['results span', `${utc(s.firstStartedAt)} to ${utc(s.lastEndedAt)}`]);
  const list = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd class="mono">${esc(v)}</dd>`).join('\n');
  const note =
    ctx.source === 'report'
      ? '<p class="note">Made from the results file after the fact: the run\'s options (URL, concurrency, rate) are recorded only in a report made by <code>batchpost run --report</code>.</p>'
      : '<p class="note">Secrets are redacted: header values whose name says authorization, cookie, token, secret, key or password, URL passwords and such query parameters.</p>';
  return `<section id="parameters">
<h2>Run parameters</h2>
${note}
${ctx.command ? `<p><code id="command">${esc(ctx.command)}</code></p>` : ''}
<dl class="params">
${list}
</dl>
</section>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside <script>: nothing in it may close the element or open a comment. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A share as HTML text (it may hold &lt;). */
function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '–';
  const p = (part / whole) * 100;
  if (p === 0 || p === 100) return `${p}%`;
  // Never round a failure share to 0% or 100%: 1 in 1,000,000 must still show.
  if (p < 0.01) return '&lt;0.01%';
  if (p > 99.99) return '&gt;99.99%';
  return `${p < 10 ? p.toFixed(2) : p.toFixed(1)}%`;
}

function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

function bucketLabel(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}
