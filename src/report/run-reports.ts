// The reports of a `run`: the results sink is wrapped so every result also reaches the aggregator (and, with
// --junit, a temporary file of test cases) as it is written; adaptive pace's throttle state is watched while the
// run goes; and when the summary is known the requested files are written.
import path from 'node:path';
import type { ResolvedOptions } from '../engine/options.js';
import type { RunStats, Sink, Summary, Throttle } from '../engine/types.js';
import { formatDuration } from '../progress/format.js';
import { painter } from '../progress/color.js';
import { ReportAggregator, type ReportSnapshot } from './aggregate.js';
import { batchpostVersion, type ReportContext } from './context.js';
import {
  checkTargets,
  countLines,
  junitClassname,
  relativeHref,
  writeFileAtomic,
  writeToStream,
  type ReportTargets,
} from './files.js';
import { renderReportHtml } from './html-page.js';
import { JunitCases, type JunitSuite } from './junit.js';
import { redactArgv, redactHeaders, redactUrls } from '../util/redact.js';
import { summaryJsonText } from './summary-json.js';
import { teeSink, type TeeSink } from './tee-sink.js';
import { ThrottleSpans } from './throttle-spans.js';
import { shellQuote } from '../util/shell-quote.js';

export interface RunReportsSetup {
  targets: ReportTargets;
  /** The input as given (`-` for stdin). */
  input: string;
  /** --out, or null for stdout. */
  out: string | null;
  format: 'ndjson' | 'json' | 'csv' | 'openai';
  /** Whether results are appended to an existing --out (--resume and friends). */
  append: boolean;
  options: ResolvedOptions;
  /** The command line after "batchpost". */
  argv: readonly string[];
}

export interface FinishOptions {
  stream: NodeJS.WritableStream;
  /** Where `--summary -` goes. */
  stdout: NodeJS.WritableStream;
  color: boolean;
}

const WATCH_MS = 100;

export class RunReports {
  private readonly aggregator = new ReportAggregator();
  private readonly junit: JunitCases | null;
  private readonly watched = new ThrottleSpans();
  private tee: TeeSink | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stats: RunStats | null = null;
  private seq = 0;
  private episode: { since: number; totalBefore: number; reasons: string[] } | null = null;
  private totalSeen = 0;

  /** Line of the results file before the first result of this run (null: no file lines to link). */
  private lineOffset: number | null = null;

  private constructor(private readonly setup: RunReportsSetup) {
    this.junit = setup.targets.junit === null ? null : new JunitCases(setup.targets.junit, junitClassname(setup.input));
  }

  /**
   * Checks the report paths (before anything is sent or any file touched: a long run must not end in "cannot
   * write") and opens the JUnit test-case file. Only for a run that asks for a report: one that does not never
   * loads this module (cli/run.ts).
   */
  static open(setup: RunReportsSetup): RunReports {
    checkTargets(setup.targets, { html: '--report', junit: '--junit', summary: '--summary' }, [
      ['the input', setup.input],
      ['--out', setup.out],
    ]);
    return new RunReports(setup);
  }

  /**
   * The sink the run writes to. Call it once --out is ready to be written (after --resume has repaired or rewritten
   * it): an appended file's lines are counted here, so that report links point at the right lines.
   */
  async wrap(sink: Sink): Promise<Sink> {
    const { out, format } = this.setup;
    if (out !== null && (format === 'ndjson' || format === 'openai'))
      this.lineOffset = this.setup.append ? await countLines(out) : 0;
    else if (out !== null && format === 'json') this.lineOffset = 1; // the opening brace has a line of its own
    this.tee = teeSink(sink, (r) => {
      this.seq++;
      this.aggregator.add(r, this.lineOffset === null ? null : this.lineOffset + this.seq);
      this.junit?.add(r);
    });
    return this.tee;
  }

  /** Follows adaptive pace while the run goes, to mark when it held the run back. */
  watch(stats: RunStats): void {
    this.stats = stats;
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), WATCH_MS);
    this.timer.unref();
  }

  /**
   * Writes the requested files once the run is over and names them on `stream`, under the summary. False when
   * one could not be written (said on `stream`); the run's exit code is the caller's.
   */
  async finish(summary: Summary, exitCode: number, o: FinishOptions): Promise<boolean> {
    this.stopWatching();
    const { append, out, format } = this.setup;
    if (append && out !== null && (format === 'ndjson' || format === 'openai'))
      return this.finishWholeFile(out, summary, exitCode, o);
    const t = this.setup.targets;
    const snapshot = this.snapshot(summary);
    const ctx = this.context(summary, exitCode, snapshot.firstStartedAt);
    const incomplete = this.tee?.observerError ?? null;
    if (incomplete !== null) o.stream.write(`batchpost: reports are incomplete: ${incomplete.message}\n`);
    const resultsHref = (file: string) =>
      ctx.linkLines && this.setup.out !== null ? relativeHref(file, this.setup.out) : null;
    const written = [
      await writeReport(o, 'report', t.html, (file) =>
        writeFileAtomic(file, renderReportHtml(snapshot, ctx, { resultsHref: resultsHref(file) })),
      ),
      await writeReport(o, 'junit', t.junit, (file) => this.junit!.finish(file, this.suite(summary, snapshot, ctx))),
      await writeReport(o, 'summary', t.summary, (file) => {
        const text = summaryJsonText(summary, snapshot, ctx);
        return file === '-' ? writeToStream(o.stdout, text) : writeFileAtomic(file, text);
      }),
    ];
    return incomplete === null && written.every(Boolean);
  }

  /**
   * A run that continued a results file (--resume and its kin) reports on every id in it, as its summary and exit
   * code do: the reports are made from the whole file, as `batchpost report` makes them, with this run's context.
   */
  private async finishWholeFile(out: string, summary: Summary, exitCode: number, o: FinishOptions): Promise<boolean> {
    const t = this.setup.targets;
    await this.junit?.discard();
    const { aggregateFile, writeHtmlReport, writeJunitReport, writeSummaryReport } = await import('./file-reports.js');
    const file = await aggregateFile(out);
    const run = this.context(summary, exitCode, file.snapshot.firstStartedAt);
    file.context = {
      ...run,
      results: file.context.results,
      linkLines: true,
      startedAt: file.context.startedAt,
      durationMs: file.context.durationMs,
      ratePerSec: file.context.ratePerSec,
      parameters: [...run.parameters, ['reported', 'every id in --out, this run and the runs it continued']],
    };
    file.summary = { ...file.summary, interrupted: summary.interrupted, inputError: summary.inputError };
    const written = [
      await writeReport(o, 'report', t.html, (f) => writeHtmlReport(f, file)),
      await writeReport(o, 'junit', t.junit, (f) => writeJunitReport(f, file)),
      await writeReport(o, 'summary', t.summary, (f) => writeSummaryReport(f, file, o.stdout)),
    ];
    return written.every(Boolean);
  }

  private suite(summary: Summary, snapshot: ReportSnapshot, ctx: ReportContext): JunitSuite {
    return {
      name: `batchpost run ${this.setup.input === '-' ? 'stdin' : path.basename(this.setup.input)}`,
      classname: junitClassname(this.setup.input),
      tests: snapshot.total,
      failures: snapshot.failed,
      timeSec: summary.durationMs / 1000,
      timestamp: ctx.startedAt,
      properties: ctx.parameters,
    };
  }

  /** For a run that ends before finish (its setup failed): stops watching and removes the temporary JUnit file. */
  async discard(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.junit?.discard();
  }

  /** Takes a last look at adaptive pace and closes an episode still open. */
  private stopWatching(): void {
    this.tick();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.episode !== null) {
      this.watched.add(this.episode.since, Date.now(), this.episode.reasons);
      this.episode = null;
    }
  }

  private snapshot(summary: Summary): ReportSnapshot {
    const snapshot = this.aggregator.snapshot();
    if (summary.throttle !== null) {
      // Adaptive pace's own account is the authority on when the run was held back.
      snapshot.throttle = {
        source: 'run',
        ms: summary.throttle.ms,
        requests: snapshot.throttle.requests,
        reasons: [...summary.throttle.reasons],
        spans: this.watched.list(),
      };
    }
    return snapshot;
  }

  /**
   * One look at adaptive pace. An episode seen active is recorded from its start to its end (its start plus the
   * time it added to the total); an episode that began and ended between two looks is placed just before now.
   */
  private tick(): void {
    const t: Throttle | null | undefined = this.stats?.throttle;
    if (!t) return;
    const now = Date.now();
    if (this.episode !== null && (!t.active || t.since !== this.episode.since)) {
      const length = Math.max(0, t.totalMs - this.episode.totalBefore);
      this.watched.add(this.episode.since, this.episode.since + length, this.episode.reasons);
      this.totalSeen = t.totalMs;
      this.episode = null;
    }
    if (t.totalMs > this.totalSeen) {
      this.watched.add(now - (t.totalMs - this.totalSeen), now, t.reasons);
      this.totalSeen = t.totalMs;
    }
    if (t.active && this.episode === null)
      this.episode = { since: t.since, totalBefore: t.totalMs, reasons: [...t.reasons] };
    else if (t.active && this.episode !== null) this.episode.reasons = [...t.reasons];
  }

  private context(summary: Summary, exitCode: number, firstStartedAt: number | null): ReportContext {
    const { out, format, options: o, argv } = this.setup;
    return {
      source: 'run',
      version: batchpostVersion(),
      generatedAt: Date.now(),
      results: out === null ? null : { path: out, format },
      linkLines: this.lineOffset !== null,
      startedAt: this.stats?.startedAt ?? firstStartedAt,
      durationMs: summary.durationMs,
      ratePerSec: summary.ratePerSec,
      exitCode,
      interrupted: summary.interrupted,
      target: `${o.method} ${redactUrls(o.url)}`,
      command: ['batchpost', ...redactArgv(argv)].map(shellQuote).join(' '),
      parameters: runParameters(this.setup),
      skipped: summary.skipped,
      stopped: stoppedReason(summary),
    };
  }
}

/** The parameters section: the run's options as label → value rows, secrets redacted. */
function runParameters({ input, out, format, options: o }: RunReportsSetup): Array<[string, string]> {
  const extra = o as unknown as Record<string, unknown>;
  const params: Array<[string, string]> = [
    ['input', input === '-' ? 'stdin' : input],
    ['results', out === null ? `stdout (${format})` : `${out} (${format})`],
    ['method', o.method],
    ['url', redactUrls(o.url)],
  ];
  for (const [name, value] of Object.entries(redactHeaders(o.headers)))
    for (const one of [value].flat()) params.push(['header', `${name}: ${one}`]);
  params.push(
    ['concurrency', String(o.concurrency)],
    ['rate', o.rate === null ? 'unpaced' : `${Math.round(o.rate * 1000) / 1000}/s`],
    ['timeout', formatDuration(o.timeoutMs)],
    ['retries', String(o.retries)],
    ['max Retry-After', formatDuration(o.maxRetryAfterMs)],
    ['retry unsafe', o.retryUnsafe ? 'yes' : 'no'],
    ['idempotency key', o.idempotencyKey ? 'yes' : 'no'],
  );
  if (typeof extra.adaptive === 'boolean') params.push(['adaptive pace', extra.adaptive ? 'on' : 'off']);
  for (const [label, key] of EXPRESSIONS) if (typeof extra[key] === 'string') params.push([label, extra[key]]);
  return params;
}

const EXPRESSIONS: ReadonlyArray<[string, string]> = [
  ['body', 'body'],
  ['id field', 'idField'],
  ['transform', 'transform'],
  ['expect', 'expect'],
  ['serialize by', 'serializeBy'],
];

function stoppedReason(summary: Summary): string | null {
  if (summary.inputError !== null)
    return `an input error at line ${summary.inputError.line} (${summary.inputError.code})`;
  if (summary.interrupted) return 'interrupted (SIGINT or SIGTERM); --resume continues the run';
  return null;
}

/** Writes one requested report and names it under the summary; false (said on the stream) when it failed. */
async function writeReport(
  o: FinishOptions,
  flag: string,
  file: string | null,
  write: (file: string) => Promise<void>,
): Promise<boolean> {
  if (file === null) return true;
  try {
    await write(file);
    const c = painter(o.color);
    o.stream.write(`  ${c.dim(flag)}${' '.repeat(Math.max(1, 9 - flag.length))}${file === '-' ? 'stdout' : file}\n`);
    return true;
  } catch (err) {
    o.stream.write(`batchpost: --${flag} ${file} could not be written: ${(err as Error).message} [OUTPUT_FAILED]\n`);
    return false;
  }
}
