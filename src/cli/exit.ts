// Exit codes, the contract with shell scripts and CI (README, "Exit codes"). A command stopped by an error exits
// with its code's exit code in the error table (src/engine/errors.ts); these name the numbers and map how a run
// ended onto one.
import { BatchpostError, exitCodeOf } from '../engine/errors.js';
import type { Unreachable } from '../engine/run.js';
import type { Summary } from '../engine/types.js';
import { formatCount } from '../progress/format.js';
import type { FailOn } from './parse.js';

export const EXIT = { OK: 0, FAILED: 1, INPUT: 2, INTERRUPTED: 130 } as const;

/** What --fail-on judges: this run's requests, or after --resume and its kin every id of the results file. */
export type Tally = Pick<Summary, 'failed' | 'total'>;

export function failedExitCode(failOn: FailOn, tally: Tally): number {
  return failOnPassed(failOn, tally) ? EXIT.FAILED : EXIT.OK;
}

function failOnPassed(failOn: FailOn, t: Tally): boolean {
  if (t.failed === 0 || failOn.kind === 'none') return false;
  if (failOn.kind === 'any') return true;
  if (failOn.kind === 'count') return t.failed > failOn.count;
  return (t.failed / t.total) * 100 > failOn.percent;
}

/** `12 failed > --fail-on 10`, when a threshold of --fail-on was passed; '' otherwise (and for any, the default). */
export function failOnText(failOn: FailOn, t: Tally): string {
  if (!failOnPassed(failOn, t)) return '';
  if (failOn.kind === 'count')
    return `batchpost: exit 1: ${formatCount(t.failed)} failed > --fail-on ${failOn.count}\n`;
  if (failOn.kind !== 'percent') return '';
  const share = Number(((t.failed / t.total) * 100).toFixed(1));
  return `batchpost: exit 1: ${formatCount(t.failed)} failed (${share}%) > --fail-on ${failOn.percent}%\n`;
}

/** How a run ended, as far as its exit code cares. */
export interface RunOutcome {
  summary: Summary;
  /** After --resume and its kin: every id of the results file, its last line each; null otherwise. */
  recorded: Tally | null;
  /** Results could not be written (OUTPUT_FAILED); the run was aborted. */
  outputError: Error | null;
  /** A sender thread died (THREAD_FAILED); the run was stopped. */
  threadFailure: Error | null;
  /** --auth-command failed during the run (AUTH_COMMAND_FAILED); the run was stopped. */
  authFailure?: Error | null;
  /** Redis lost a distributed run's queue (QUEUE_LOST) or stopped answering (QUEUE_UNAVAILABLE); the run stopped. */
  queueFailure?: Error | null;
  /** Stopped early: the first results all failed to connect (UNREACHABLE). */
  unreachable: Unreachable | null;
  /** Stopped by SIGINT or SIGTERM. */
  interrupted: boolean;
  /** False when a report (--report, --junit, --summary) could not be written at the end. */
  reportsWritten: boolean;
}

/** The first reason wins: a failure of batchpost's own, the input, an interrupt, a report, then the requests. */
export function runExitCode(o: RunOutcome, failOn: FailOn): number {
  if (o.outputError !== null) return exitCodeOf('OUTPUT_FAILED');
  if (o.threadFailure !== null) return exitCodeOf('THREAD_FAILED');
  // Mid-run, as any failure while running: exit 1 (at the start, the code's own 2).
  if (o.authFailure) return EXIT.FAILED;
  if (o.queueFailure)
    return o.queueFailure instanceof BatchpostError ? o.queueFailure.exitCode : exitCodeOf('QUEUE_LOST');
  if (o.summary.inputError !== null) return exitCodeOf(o.summary.inputError.code);
  if (o.unreachable !== null) return exitCodeOf('UNREACHABLE');
  if (o.interrupted) return EXIT.INTERRUPTED;
  if (!o.reportsWritten) return EXIT.FAILED;
  return failedExitCode(failOn, o.recorded ?? o.summary);
}
