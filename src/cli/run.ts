// `batchpost run`: wires a file or stdin, the undici transport, a results sink and a progress display to the
// engine's Run, and turns its summary into stderr text and an exit code. Everything else lives in the engine.
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';
import { resolveOptions } from '../engine/options.js';
import { Run } from '../engine/run.js';
import type { Summary } from '../engine/types.js';
import { countPayloads, readPayloads } from '../input/index.js';
import { assertWritableOut, createLineWriter, createSink, openResume, type LineWriter } from '../output/index.js';
import { formatCount } from '../progress/format.js';
import { createProgress, useColor } from '../progress/index.js';
import { formatSummary } from '../progress/summary.js';
import { UndiciTransport } from '../transport/undici.js';
import { EXIT, failedExitCode } from './exit.js';
import { dryRun } from './dry-run.js';
import { commandLine } from './command-line.js';
import { toRunSetup, type RunFlags } from './run-options.js';

const COUNT_FIRST_BYTES = 16 * 1024 * 1024;

export async function runCommand(input: string, flags: RunFlags, argv: readonly string[]): Promise<number> {
  const setup = toRunSetup(input, flags);
  const options = resolveOptions(setup.options);
  const source = openInput(input);
  const records = readPayloads(source, { format: setup.inputFormat });
  if (flags.dryRun) {
    try {
      return await dryRun(records, options, inputName(input));
    } finally {
      source.destroy();
    }
  }

  const out = flags.out ?? null;
  let skipIds: ReadonlySet<string> = new Set();
  if (out !== null) {
    const mode = flags.retryFailed ? 'retry-failed' : flags.resume ? 'resume' : null;
    if (mode) {
      const state = await openResume(out, { mode });
      skipIds = state.done;
      if (state.repairedTornLine) process.stderr.write(`batchpost: ${out}: removed a torn last line left by an interrupted run\n`);
    } else {
      assertWritableOut(out, { resume: false, overwrite: flags.overwrite ?? false });
    }
  }
  const writer: LineWriter = createLineWriter(out === null ? { fd: 1, stream: process.stdout } : { path: out, append: skipIds.size > 0 || !!flags.resume || !!flags.retryFailed });
  const sink = createSink(setup.format, writer);
  const transport = new UndiciTransport({ connections: options.concurrency, timeoutMs: options.timeoutMs });
  const run = new Run({ ...options, skipIds }, { transport, sink });

  const color = useColor(process.stderr);
  const progress = createProgress(setup.progress, { stream: process.stderr, color });
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
      progress.note(`batchpost: stopping — ${formatCount(n)} request${n === 1 ? '' : 's'} in flight will finish (Ctrl-C again to abort them)`);
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
    await transport.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const err = process.stderr;
  if (outputError !== null) {
    err.write(`batchpost: results could not be written: ${(outputError as Error).message} [OUTPUT_FAILED]\n`);
    return EXIT.FAILED;
  }
  const canResume = out !== null && setup.format === 'ndjson';
  const retryFailed = canResume && summary.failed > 0 ? commandLine(argv, 'retry-failed') : null;
  err.write(formatSummary(summary, { color, symbols: color, resultsPath: out, retryFailedCommand: retryFailed }) + '\n');

  if (summary.inputError) {
    const e = summary.inputError;
    const excerpt = e.excerpt ? `: ${e.excerpt}` : '';
    err.write(`batchpost: ${inputName(input)}:${e.line}: ${e.message}${excerpt} [${e.code}]\n`);
    const done = `${formatCount(summary.total)} request${summary.total === 1 ? ' was' : 's were'} sent and recorded before this line.`;
    const fix = e.code === 'INPUT_INVALID_JSON' ? 'Fix the line' : e.code === 'DUPLICATE_ID' ? 'Make the ids unique' : 'Give every payload an id';
    const next = canResume ? `${fix}, then add --resume${e.code === 'INPUT_INVALID_JSON' ? '; or pass --skip-invalid' : ''}.` : `${fix} and run again.`;
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
      err.write(` Results went to ${out === null ? 'stdout' : `${setup.format} output`}, which cannot be resumed; use --out FILE (ndjson) next time.\n`);
    }
    return EXIT.INTERRUPTED;
  }
  return failedExitCode(setup.failOn, summary);
}

function openInput(input: string): NodeJS.ReadableStream & { destroy(): void } {
  if (input === '-') return process.stdin;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch {
    throw new BatchpostError('INPUT_NOT_FOUND', `${input}: no such file`, 'Give a file of JSON or NDJSON payloads, or - to read stdin.');
  }
  if (stat.isDirectory()) throw new BatchpostError('INPUT_NOT_FOUND', `${input}: is a directory, not a file of payloads`);
  return fs.createReadStream(input, { highWaterMark: 256 * 1024 });
}

function inputName(input: string): string {
  return input === '-' ? 'stdin' : path.normalize(input);
}
