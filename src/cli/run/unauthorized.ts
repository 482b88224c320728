// What a run says at its end when many answers were 401: most often a token that expired during a long run (every
// answer from then on is 401) or a wrong one. Without --auth-command it points there; with it, every 401 recorded
// came after the command had run again, so the server refuses what the command prints. Counts only: no header
// value ever appears here.
import type { Result, Sink, Summary } from '../../engine/types.js';
import { formatCount } from '../../progress/format.js';

/** Fewer 401s than this are a request's own business (a resource another user owns), not a token's. */
export const MIN_UNAUTHORIZED = 5;
/** The share of answers (in %) that makes the 401s the run's story rather than a few requests'. */
export const MIN_PERCENT = 10;

/**
 * The 401 answers at the end of the run, in a row: a token that expired late in a long run leaves a share too
 * small to notice, but every answer after it is 401. Answers are counted in the order they are recorded.
 */
export class UnauthorizedStreak {
  count = 0;

  /** `sink` with this streak kept from what goes through it. */
  watch(sink: Sink): Sink {
    return {
      write: (result: Result) => {
        // A transport error is no answer: it neither breaks nor extends the streak.
        if (result.status === 401) this.count++;
        else if (result.status !== null) this.count = 0;
        sink.write(result);
      },
      ready: () => sink.ready?.() ?? null,
      close: () => sink.close(),
    };
  }
}

/**
 * The hint, or '' when the 401s do not call for one: at least MIN_UNAUTHORIZED of them, and at least MIN_PERCENT % of the
 * answers or the last MIN_UNAUTHORIZED answers. `authCommand`: --auth-command was in use.
 */
export function unauthorizedText(summary: Summary, streak: number, authCommand: boolean): string {
  const n = summary.byStatus['401'] ?? 0;
  const answers = Object.values(summary.byStatus).reduce((a, b) => a + b, 0);
  if (n < MIN_UNAUTHORIZED || (n * 100 < answers * MIN_PERCENT && streak < MIN_UNAUTHORIZED)) return '';
  const tail = streak >= MIN_UNAUTHORIZED && n < answers ? `, the last ${formatCount(streak)} in a row` : '';
  const what =
    n === answers
      ? `all ${formatCount(n)} answers were 401 Unauthorized`
      : `${formatCount(n)} of ${formatCount(answers)} answers were 401 Unauthorized${tail}`;
  if (authCommand) {
    return (
      `batchpost: ${what}, each after --auth-command had run again: the server refuses the headers it prints.\n` +
      `  Check the token the command gets (its account, scope or audience) and the header names it prints.\n`
    );
  }
  return (
    `batchpost: ${what}: a token that expired during the run, or a wrong one?\n` +
    `  --auth-command CMD gets a token from CMD, first and again on a 401; --auth-refresh DURATION also on a timer ` +
    `(README: "Tokens that expire").\n`
  );
}
