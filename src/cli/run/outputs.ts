// Where a run's results go: what --resume finds already recorded in --out, the results file (or stdout) and its
// sink, and the reports (--report, --junit, --summary) that see every result on its way there.
import type { ResolvedOptions } from '../../engine/options.js';
import type { Sink } from '../../engine/types.js';
import { compileExpr, matcher } from '../../expr/index.js';
import { BatchpostError } from '../../engine/errors.js';
import { assertWritableOut, createLineWriter, createSink, openResume, type LineWriter } from '../../output/index.js';
import { isGzipPath } from '../../output/gzip-file.js';
import { lockResults, type ResultsLock } from '../../output/lock.js';
import { assertDistinctPaths, assertWritablePath, isSpecialFile } from '../../output/paths.js';
import { hasTargets } from '../../report/files.js';
import type { RunReports } from '../../report/run-reports.js';
import type { CliIO } from '../io.js';
import type { RunFlags, RunSetup } from '../run-options.js';

/** The ids an earlier run recorded in --out, and the hashes of their requests (--resume reports changed ones). */
export interface Recorded {
  skipIds: ReadonlySet<string>;
  recordedHashes: ReadonlyMap<string, string>;
}

/**
 * Before any file is touched: --out, --failed and the reports are neither the input nor each other (by the file
 * they name, so a symlink or hard link is caught), --failed can be written, and `--summary -` does not share
 * stdout with the results.
 */
export function checkOutputPaths(input: string, out: string | null, failed: string | null, setup: RunSetup): void {
  const { html, junit, summary } = setup.reports;
  if (summary === '-' && out === null) {
    throw new BatchpostError(
      'USAGE',
      '--summary -: the results already go to stdout',
      'Give --out a file for the results, or --summary a file.',
    );
  }
  assertDistinctPaths([
    ['the input', input],
    ['--out', out],
    ['--failed', failed],
    ['--report', html],
    ['--junit', junit],
    ['--summary', summary],
  ]);
  if (failed !== null) assertWritablePath('--failed', failed);
}

/** Takes --out for this run alone (OUTPUT_LOCKED when another run has it); none for stdout, a FIFO or a device. */
export function lockOut(out: string | null): ResultsLock | null {
  return out === null || isSpecialFile(out) ? null : lockResults(out);
}

/**
 * Reads (and repairs) --out for --resume and its kin, or makes sure a fresh run does not write over results.
 * Nothing recorded without --out or a resume mode.
 */
export async function readRecorded(out: string | null, setup: RunSetup, flags: RunFlags, io: CliIO): Promise<Recorded> {
  if (out !== null && setup.resume !== null) {
    const where = flags.rerunWhere === undefined ? undefined : matcher(compileExpr(flags.rerunWhere, '--rerun-where'));
    const state = await openResume(out, { mode: setup.resume, where });
    if (state.repairedTornLine)
      io.stderr.write(
        `batchpost: ${out}: removed a torn last ${isGzipPath(out) ? 'gzip member' : 'line'} left by an interrupted run\n`,
      );
    return { skipIds: state.done, recordedHashes: state.hashes };
  }
  if (out !== null) assertWritableOut(out, { resume: false, overwrite: flags.overwrite ?? false });
  return { skipIds: new Set(), recordedHashes: new Map() };
}

/** Null without --report, --junit or --summary; their paths are checked here, before any file is touched. */
export async function openReports(
  input: string,
  out: string | null,
  setup: RunSetup,
  options: ResolvedOptions,
  argv: readonly string[],
): Promise<RunReports | null> {
  if (!hasTargets(setup.reports)) return null;
  // The report modules add to start-up: a run without --report, --junit or --summary does not load them.
  const { RunReports } = await import('../../report/run-reports.js');
  return RunReports.open({
    targets: setup.reports,
    input,
    out,
    format: setup.format,
    append: setup.resume !== null,
    options,
    argv,
  });
}

export interface Results {
  writer: LineWriter;
  /** What the run writes to: the results in --format, through the reports when there are any. */
  sink: Sink;
}

/** Opens --out (appending for --resume and its kin) or takes stdout. Call after readRecorded has repaired --out. */
export async function openResults(
  out: string | null,
  setup: RunSetup,
  reports: RunReports | null,
  io: CliIO,
): Promise<Results> {
  const writer = createLineWriter(
    out === null ? { fd: 1, stream: io.stdout } : { path: out, append: setup.resume !== null, gzip: isGzipPath(out) },
  );
  const results = createSink(setup.format, writer);
  if (reports === null) return { writer, sink: results };
  try {
    return { writer, sink: await reports.wrap(results) };
  } catch (err) {
    await writer.close();
    throw err;
  }
}
