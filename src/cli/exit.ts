// Exit codes, the contract with shell scripts and CI (README, "Exit codes").
import type { Summary } from '../engine/types.js';
import type { FailOn } from './parse.js';

export const EXIT = { OK: 0, FAILED: 1, INPUT: 2, INTERRUPTED: 130 } as const;

export function failedExitCode(failOn: FailOn, summary: Summary): number {
  if (summary.failed === 0 || failOn.kind === 'none') return EXIT.OK;
  if (failOn.kind === 'any') return EXIT.FAILED;
  return (summary.failed / summary.total) * 100 > failOn.percent ? EXIT.FAILED : EXIT.OK;
}
