// `batchpost run`: wires a file or stdin, the undici transport (or sender threads, or a queue), a results sink and a
// progress display to the engine's Run, and turns its summary into stderr text and an exit code. Everything else
// lives in the engine.
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';
import { compileExpr, matcher } from '../expr/index.js';
import { resolveOptions } from '../engine/options.js';
import { Run } from '../engine/run.js';
import type { InputRecord, RunStats, Summary } from '../engine/types.js';
import { countPayloads, readPayloads } from '../input/index.js';
import {
  assertWritableOut,
  createFailedWriter,
  createLineWriter,
  createSink,
  openResume,
  type FailedWriter,
  type LineWriter,
} from '../output/index.js';
import { formatCount } from '../progress/format.js';
import { createProgress, useColor } from '../progress/index.js';
import { formatSummary } from '../progress/summary.js';
import { hasTargets } from '../report/files.js';
import { createTransport, transportConfigOf } from '../transport/index.js';
import { senderConfigOf } from '../engine/sender-config.js';
import { ThreadedSender, threadsFor } from '../threads/index.js';
import { EXIT, failedExitCode } from './exit.js';
import { dryRun } from './dry-run.js';
import { commandLine } from './command-line.js';
import { toRunSetup, type RunFlags } from './run-options.js';

const COUNT_FIRST_BYTES = 16 * 1024 * 1024;

export async function runCommand(input: string, flags: RunFlags, argv: readonly string[]): Promise<number> {
  const setup = toRunSetup(input, flags);
  const options = resolveOptions(setup.options);
  const source = openInput(input);
  const input$ = {
    format: (setup.inputFormat === 'csv' ? 'csv' : 'ndjson') as 'ndjson' | 'json' | 'csv',
    csvHeader: undefined as string | undefined,
  };
  const records = readPayloads(source, {
    format: setup.inputFormat,
    csvTypes: flags.csvTypes ?? false,
    onCsvHeader: (header) => (input$.csvHeader = header),
    onFormat: (format) => (input$.format = format),
  });
  if (flags.dryRun) {
    try {
      return await dryRun(records, options, inputName(input));
    } finally {
      source.destroy();
    }
  }

  const out = flags.out ?? null;
  // The report modules take ~25 ms to load: a run without --report, --junit or --summary does not load them.
  const reports = hasTargets(setup.reports)
    ? (await import('../report/run-reports.js')).RunReports.open({
        targets: setup.reports,
        input,
        out,
        format: setup.format,
        append: setup.resume !== null,
        options,
        argv,
      })
    : null;
  let skipIds: ReadonlySet<string> = new Set();
  let recordedHashes: ReadonlyMap<string, string> = new Map();
  if (out !== null && setup.resume !== null) {
    const where = flags.rerunWhere === undefined ? undefined : matcher(compileExpr(flags.rerunWhere, '--rerun-where'));
    const state = await openResume(out, { mode: setup.resume, where });
    skipIds = state.done;
    recordedHashes = state.hashes;
    if (state.repairedTornLine)
      process.stderr.write(`batchpost: ${out}: removed a torn last line left by an interrupted run\n`);
  } else if (out !== null) {
    assertWritableOut(out, { resume: false, overwrite: flags.overwrite ?? false });
  }
  // Loaded only for --queue: BullMQ takes ~0.4 s to load, which a local run should not pay.
  const queue =
    flags.queue === undefined && flags.queueName === undefined
      ? null
      : await (
          await import('../queue/index.js')
        ).openQueueRun(flags, options, { resume: setup.resume !== null, note: (m) => progress.note(m) });
  const writer: LineWriter = createLineWriter(
    out === null ? { fd: 1, stream: process.stdout } : { path: out, append: setup.resume !== null },
  );
  const results = createSink(setup.format, writer);
  const sink = reports === null ? results : await reports.wrap(results);
  const threadCount = queue === null ? threadsFor(setup.threads, options.concurrency) : 0;
  // Made by the Run (it hands over its live stats); kept here to wait for the threads and read why one died.
  const threads: { sender: ThreadedSender | null } = { sender: null };
  const threaded = (_: unknown, stats: RunStats) =>
    (threads.sender = new ThreadedSender(senderConfigOf(options), transportConfigOf(options), threadCount, stats));
  const sender = queue?.sender ?? (threadCount > 0 ? threaded : undefined);
  // Only a run that sends from this thread needs connections of its own.
  const transport = sender === undefined ? createTransport(transportConfigOf(options)) : null;
  const failed = flags.failed === undefined ? null : failedPayloads(flags.failed, input, input$);
  const deps = { sink, onFailed: failed?.write };
  const run = new Run(
    { ...options, skipIds, recordedHashes },
    transport !== null ? { ...deps, transport } : { ...deps, sender: sender! },
  );
  reports?.watch(run.stats);

  const color = useColor(process.stderr);
  const progress = createProgress(setup.progress, {
    stream: process.stderr,
    color,
    intervalMs: setup.progressIntervalMs,
  });
  // A total makes the bar and ETA honest. Small files are counted before the first request (milliseconds);
  // large ones alongside the run, so a 1 GB input starts sending at once.
  const counting = new AbortController();
  if (input !== '-') {
    const count = countPayloads(input, { format: setup.inputFormat, signal: counting.signal }).then(
      (n: number) => void (run.stats.total = Math.max(0, n - skipIds.size)),
      () => {},
    );
    if (fs.statSync(input).size <= COUNT_FIRST_BYTES) await count;
  }

  let outputError: Error | null = null;
  writer.onError((err) => {
    outputError = err;
    run.abort();
  });
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      const n = run.stats.inFlight;
      progress.note(
        `batchpost: stopping — ${formatCount(n)} request${n === 1 ? '' : 's'} in flight will finish (Ctrl-C again to abort them)`,
      );
      run.stop();
    } else {
      progress.note('batchpost: aborting requests in flight (they are not recorded; --resume sends them again)');
      run.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  progress.start(run.stats);
  let summary: Summary;
  try {
    summary = await run.execute(records);
  } finally {
    counting.abort();
    source.destroy();
    progress.stop();
    await sink.close();
    await failed?.close();
    await transport?.close();
    await threads.sender?.exited();
    await queue?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const err = process.stderr;
  if (outputError !== null) {
    err.write(`batchpost: results could not be written: ${(outputError as Error).message} [OUTPUT_FAILED]\n`);
    return EXIT.FAILED;
  }
  const canResume = out !== null && setup.format === 'ndjson';
  if (summary.changed !== null) {
    const c = summary.changed;
    const which = `${formatCount(c.count)} recorded payload${c.count === 1 ? '' : 's'} changed since ${c.count === 1 ? 'it was' : 'they were'} sent (first: ${c.firstIds.join(', ')})`;
    if (c.resent) {
      // Each re-sent id now has two lines; keep the newer one so the file stays one line per id.
      if (out !== null) await openResume(out, { mode: 'rerun', where: () => false });
      err.write(`batchpost: ${which}; sent again.\n`);
    } else {
      err.write(`batchpost: ${which}; not sent again. Add --resend-changed to send them.\n`);
    }
  }
  const retryFailed = canResume && summary.failed > 0 ? commandLine(argv, 'retry-failed') : null;
  err.write(
    formatSummary(summary, { color, symbols: color, resultsPath: out, retryFailedCommand: retryFailed }) + '\n',
  );
  const threadFailure = threads.sender?.failure ?? null;
  const exitCode = threadFailure
    ? EXIT.FAILED
    : summary.inputError
      ? EXIT.INPUT
      : run.interrupted
        ? EXIT.INTERRUPTED
        : failedExitCode(setup.failOn, summary);
  const reported = reports === null || (await reports.finish(summary, exitCode, { stream: err, color }));

  if (threadFailure) {
    err.write(`batchpost: ${threadFailure.message} [THREAD_FAILED]\n`);
    if (canResume) err.write(`  Continue with:\n  ${commandLine(argv, 'resume')}\n`);
    return EXIT.FAILED;
  }
  if (summary.inputError) {
    const e = summary.inputError;
    const excerpt = e.excerpt ? `: ${e.excerpt}` : '';
    err.write(`batchpost: ${inputName(input)}:${e.line}: ${e.message}${excerpt} [${e.code}]\n`);
    const done = `${formatCount(summary.total)} request${summary.total === 1 ? ' was' : 's were'} sent and recorded before this line.`;
    const fix =
      e.code === 'INPUT_INVALID_JSON'
        ? 'Fix the line'
        : e.code === 'DUPLICATE_ID'
          ? 'Make the ids unique'
          : 'Give every payload an id';
    const next = canResume
      ? `${fix}, then add --resume${e.code === 'INPUT_INVALID_JSON' ? '; or pass --skip-invalid' : ''}.`
      : `${fix} and run again.`;
    err.write(`  ${done} ${next}\n`);
    return EXIT.INPUT;
  }
  if (run.interrupted) {
    const total = run.stats.total === null ? '' : ` of ${formatCount(run.stats.total + summary.skipped)}`;
    err.write(
      `batchpost: ${formatCount(summary.total + summary.skipped)}${total} done (${formatCount(summary.ok)} ok, ${formatCount(summary.failed)} failed).`,
    );
    if (canResume) {
      const stdinNote = input === '-' ? ' (feed the same input on stdin)' : '';
      err.write(` Continue with${stdinNote}:\n  ${commandLine(argv, 'resume')}\n`);
    } else {
      err.write(
        ` Results went to ${out === null ? 'stdout' : `${setup.format} output`}, which cannot be resumed; use --out FILE (ndjson) next time.\n`,
      );
    }
    return EXIT.INTERRUPTED;
  }
  return reported ? failedExitCode(setup.failOn, summary) : EXIT.FAILED;
}

function openInput(input: string): NodeJS.ReadableStream & { destroy(): void } {
  if (input === '-') return process.stdin;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch {
    throw new BatchpostError(
      'INPUT_NOT_FOUND',
      `${input}: no such file`,
      'Give a file of JSON or NDJSON payloads, or - to read stdin.',
    );
  }
  if (stat.isDirectory())
    throw new BatchpostError('INPUT_NOT_FOUND', `${input}: is a directory, not a file of payloads`);
  return fs.createReadStream(input, { highWaterMark: 256 * 1024 });
}

/**
 * --failed: the payloads of failed requests, in the input's own format, so the file can be run as is. Opened at
 * the first failure (the input format is known by then) and otherwise created empty at the end.
 */
function failedPayloads(
  file: string,
  input: string,
  detected: { format: 'ndjson' | 'json' | 'csv'; csvHeader?: string },
) {
  if (input !== '-' && path.resolve(file) === path.resolve(input)) {
    throw new BatchpostError('USAGE', `--failed ${file}: that is the input file; write the failures elsewhere`);
  }
  let writer: FailedWriter | null = null;
  const open = () => (writer ??= createFailedWriter(file, detected.format, { csvHeader: detected.csvHeader ?? '' }));
  return {
    write: (record: InputRecord) => open().write(record),
    close: () => open().close(),
  };
}

function inputName(input: string): string {
  return input === '-' ? 'stdin' : path.normalize(input);
}
