// `batchpost run`: wires a file or stdin, the undici transport (or sender threads, or a queue), a results sink and a
// progress display to the engine's Run, and turns its summary into stderr text and an exit code. The parts are in
// run/ (input, outputs, senders, progress, messages); everything else lives in the engine.
import { checkExpressions } from '../engine/expressions.js';
import { resolveOptions, type ResolvedOptions } from '../engine/options.js';
import { Run } from '../engine/run.js';
import type { Summary } from '../engine/types.js';
import { tallyResults, type ResultsTally } from '../output/index.js';
import { prepareResponsesDir } from '../output/responses-dir.js';
import { assertTraceWritable, openTrace, type Tracer } from '../output/trace.js';
import { jsonSummaryLine } from '../progress/index.js';
import type { RunReports } from '../report/run-reports.js';
import { startAuth, type CliAuth } from './auth.js';
import { dryRun } from './dry-run.js';
import { describeError } from './errors.js';
import { EXIT, failOnText, runExitCode, type RunOutcome } from './exit.js';
import type { CommandContext } from './io.js';
import { toRunSetup, type RunFlags, type RunSetup } from './run-options.js';
import { failedPayloads, inputName, openRunInput, type FailedPayloads, type RunInput } from './run/input.js';
import { changedText, outputFailedText, stoppedText, summaryText, type RunPlace } from './run/messages.js';
import type { ResultsLock } from '../output/lock.js';
import {
  checkOutputPaths,
  lockOut,
  openReports,
  openResults,
  readRecorded,
  type Recorded,
  type Results,
} from './run/outputs.js';
import { countTotal, createDisplay, stopOnSignals, type Display } from './run/progress.js';
import { chooseSenders, openQueue, type Senders } from './run/senders.js';
import { UnauthorizedStreak, unauthorizedText } from './run/unauthorized.js';
import { INSECURE_WARNING } from '../transport/index.js';

export async function runCommand(input: string, flags: RunFlags, ctx: CommandContext): Promise<number> {
  // `--out -` is stdout, as curl's `-o -`: results where they go without --out.
  if (flags.out === '-') flags = { ...flags, out: undefined };
  const setup = toRunSetup(input, flags);
  const options = resolveOptions(setup.options);
  checkExpressions(options, flags.rerunWhere);
  if (options.insecure && !flags.dryRun) ctx.io.stderr.write(`batchpost: ${INSECURE_WARNING}\n`);
  const read = openRunInput(input, setup, flags.csvTypes ?? false, ctx.io);
  if (flags.dryRun) {
    // The requests shown are for a look (`--dry-run | head`): a reader that left does not stop the check of every
    // payload, whose outcome is the exit code. Left in place: the error may come after the last write.
    ctx.io.stdout.on('error', () => {});
    try {
      return await dryRun(read.records, options, inputName(input), ctx.io);
    } finally {
      read.source.destroy();
    }
  }
  const parts = await openParts(input, flags, setup, options, read, ctx);
  const summary = await sendAll(parts);
  return await endOfRun(parts, summary);
}

/** Everything a run holds from its start to its end. */
interface RunParts {
  setup: RunSetup;
  ctx: CommandContext;
  place: RunPlace;
  read: RunInput;
  failed: FailedPayloads | null;
  reports: RunReports | null;
  recorded: Recorded;
  display: Display;
  results: Results;
  /** --out held for this run alone. */
  lock: ResultsLock | null;
  /** --trace. */
  trace: Tracer | null;
  /** --auth-command; null without it (and with --queue: each worker runs it). */
  auth: CliAuth | null;
  senders: Senders;
  run: Run;
  /** The 401 answers the run ended on, for the hint at its end. */
  unauthorized: UnauthorizedStreak;
}

/** Opens the run's parts in order, each check before the files it guards; on a failure, closes what was opened. */
async function openParts(
  input: string,
  flags: RunFlags,
  setup: RunSetup,
  options: ResolvedOptions,
  read: RunInput,
  ctx: CommandContext,
): Promise<RunParts> {
  const opened: Array<() => unknown> = [() => read.source.destroy()];
  try {
    const out = flags.out ?? null;
    checkOutputPaths(input, out, flags.failed ?? null, setup, flags.overwrite ?? false, flags.trace ?? null);
    if (flags.trace !== undefined) assertTraceWritable(flags.trace);
    const failed = flags.failed === undefined ? null : failedPayloads(flags.failed, read.detected);
    const display = createDisplay(setup, ctx.io);
    // Before any file is written: a command that fails now leaves the results as they were.
    const queued = flags.queue !== undefined || flags.queueName !== undefined;
    const auth = queued ? null : await startAuth(options);
    opened.push(() => auth?.close());
    const lock = lockOut(out);
    opened.push(() => lock?.release());
    const reports = await openReports(input, out, setup, options, ctx.argv);
    opened.push(() => reports?.discard());
    const recorded = await readRecorded(out, setup, flags, ctx.io);
    if (options.saveResponses !== undefined)
      prepareResponsesDir(options.saveResponses, {
        continues: setup.resume !== null,
        overwrite: flags.overwrite ?? false,
      });
    const queue = await openQueue(flags, setup, options, (message) => display.progress.note(message), ctx.io.env);
    opened.push(() => queue?.close());
    const results = await openResults(out, setup, reports, ctx.io);
    opened.push(() => results.writer.close());
    const trace = openTraceFor(flags, setup, ctx);
    opened.push(() => trace?.close());
    const senders = chooseSenders(queue, setup, options, ctx.io.env, {
      onAttempt: trace?.onAttempt,
      auth: auth?.refresher ?? null,
    });
    opened.push(() => senders.close());
    const unauthorized = new UnauthorizedStreak();
    const run = new Run(
      { ...options, ...recorded },
      {
        sink: unauthorized.watch(results.sink),
        onFailed: failed?.write,
        onRecordedFailed: failed?.write,
        ...senders.deps,
      },
    );
    auth?.onFailure(() => run.stop());
    reports?.watch(run.stats);
    const place = { input, out, format: setup.format, argv: ctx.argv };
    const parts = { setup, ctx, place, read, failed, reports, recorded, display, results, lock, trace, auth, senders };
    return { ...parts, run, unauthorized };
  } catch (err) {
    for (const close of opened.reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => {});
    throw err;
  }
}

function openTraceFor(flags: RunFlags, setup: RunSetup, ctx: CommandContext): Tracer | null {
  if (flags.trace === undefined) return null;
  const options = { failedOnly: flags.traceFailed ?? false, append: setup.resume !== null, stderr: ctx.io.stderr };
  return openTrace(flags.trace, options);
}

/** Sends every payload, with the progress shown and the signals heard, and closes what the run held. */
async function sendAll(p: RunParts): Promise<Summary> {
  const { run, display, results } = p;
  const counting = new AbortController();
  let unsubscribe = () => {};
  try {
    await countTotal(p.place.input, p.setup, run, p.recorded.skipIds.size, counting.signal);
    // Results nobody keeps are not worth sending: a write failure stops the run (its error is read at the end).
    results.writer.onError(() => run.abort());
    p.failed?.onError(() => run.abort());
    p.trace?.writer.onError(() => run.abort());
    unsubscribe = stopOnSignals(p.ctx.io, run, display.progress);
    display.progress.start(run.stats);
    return await run.execute(p.read.records);
  } finally {
    counting.abort();
    p.read.source.destroy();
    display.progress.stop();
    await results.sink.close();
    await p.failed?.close();
    await p.senders.close();
    await p.trace?.close();
    p.auth?.close();
    p.lock?.release();
    unsubscribe();
  }
}

/** The end-of-run messages on stderr, the reports, and the exit code; with --progress json, the summary line last. */
async function endOfRun(p: RunParts, summary: Summary): Promise<number> {
  const { code, recorded } = await endOfRunText(p, summary);
  if (p.setup.progress === 'json') p.ctx.io.stderr.write(jsonSummaryLine(summary, code, recorded));
  return code;
}

async function endOfRunText(p: RunParts, summary: Summary): Promise<{ code: number; recorded: ResultsTally | null }> {
  const err = p.ctx.io.stderr;
  const outcome: RunOutcome = {
    summary,
    recorded: null,
    outputError: p.results.writer.error ?? p.failed?.error ?? p.trace?.writer.error ?? null,
    threadFailure: p.senders.threads?.failure ?? null,
    authFailure: p.auth?.failure ?? null,
    queueFailure: p.senders.queueFailure,
    unreachable: p.run.unreachable,
    interrupted: p.run.interrupted,
    reportsWritten: true,
  };
  if (outcome.outputError !== null) {
    // The failed payloads' own message: the results themselves are whole.
    const ownText = p.results.writer.error === null ? describeError(outcome.outputError).text : null;
    err.write(ownText ?? outputFailedText(outcome.outputError));
    return { code: runExitCode(outcome, p.setup.failOn), recorded: null };
  }
  const changed = await changedText(summary, p.place.out);
  if (changed !== '') err.write(changed);
  // After --resume and its kin the run is about the whole file: failures recorded earlier still count.
  const recorded = p.setup.resume !== null && p.place.out !== null ? await tallyResults(p.place.out) : null;
  outcome.recorded = recorded;
  // A program reading --progress json gets the summary as its last line instead of the text for a person.
  if (p.setup.progress !== 'json') err.write(summaryText(summary, p.place, p.display.color, recorded));
  if (p.reports !== null) {
    const finish = { stream: err, stdout: p.ctx.io.stdout, color: p.display.color };
    outcome.reportsWritten = await p.reports.finish(summary, runExitCode(outcome, p.setup.failOn), finish);
  }
  // A refresh that failed has its own message (AUTH_COMMAND_FAILED); the 401s before it are part of that story.
  const authCommand = p.setup.options.authCommand !== undefined;
  if (!outcome.authFailure) err.write(unauthorizedText(summary, p.unauthorized.count, authCommand));
  const stopped = stoppedText(outcome, p.place, p.run.stats.total);
  if (stopped !== '') err.write(stopped);
  const code = runExitCode(outcome, p.setup.failOn);
  if (code === EXIT.FAILED && stopped === '') err.write(failOnText(p.setup.failOn, recorded ?? summary));
  return { code, recorded };
}
