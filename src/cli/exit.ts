// Exit codes, the contract with shell scripts and CI (README, "Exit codes"). A command stopped by an error exits
// with its code's exit code in the error table (src/engine/errors.ts); these name the numbers and map how a run
// ended onto one.
import { exitCodeOf } from '../engine/errors.js';
import type { Summary } from '../engine/types.js';
import type { FailOn } from './parse.js';

export const EXIT = { OK: 0, FAILED: 1, INPUT: 2, INTERRUPTED: 130 } as const;

export function failedExitCode(failOn: FailOn, summary: Summary): number {
  if (summary.failed === 0 || failOn.kind === 'none') return EXIT.OK;
  if (failOn.kind === 'any') return EXIT.FAILED;
  return (summary.failed / summary.total) * 100 > failOn.percent ? EXIT.FAILED : EXIT.OK;
}

/** How a run ended, as far as its exit code cares. */
export interface RunOutcome {
  summary: Summary;
  /** Results could not be written (OUTPUT_FAILED); the run was aborted. */
  outputError: Error | null;
  /** A sender thread died (THREAD_FAILED); the run was stopped. */
  threadFailure: Error | null;
  /** Stopped by SIGINT or SIGTERM. */
  interrupted: boolean;
  /** False when a report (--report, --junit, --summary) could not be written at the end. */
  reportsWritten: boolean;
}

/** The first reason wins: a failure of batchpost's own, the input, an interrupt, a report, then the requests. */
export function runExitCode(o: RunOutcome, failOn: FailOn): number {
  if (o.outputError !== null) return exitCodeOf('OUTPUT_FAILED');
  if (o.threadFailure !== null) return exitCodeOf('THREAD_FAILED');
  if (o.summary.inputError !== null) return exitCodeOf(o.summary.inputError.code);
  if (o.interrupted) return EXIT.INTERRUPTED;
  if (!o.reportsWritten) return EXIT.FAILED;
  return failedExitCode(failOn, o.summary);
}
