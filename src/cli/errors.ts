// How the CLI says that a command stopped: `batchpost: <message> [CODE]`, then what to do on a line of its own;
// and the exit code of any error a command throws.
import { BatchpostError, hintOf, type ErrorCode } from '../engine/errors.js';
import { redactText } from '../util/redact.js';
import { EXIT } from './exit.js';

/** The error line and, when there is one, the hint line (the table's when none is given). */
export function errorText(code: ErrorCode, message: string, hint: string | undefined = tableHint(code)): string {
  return `batchpost: ${redactText(message)} [${code}]\n${hint ? `  ${hint}\n` : ''}`;
}

/** The table's hints go on in the run's own messages; alone on a line, they end as a sentence. */
function tableHint(code: ErrorCode): string | undefined {
  const hint = hintOf(code);
  return hint === undefined ? undefined : `${hint}.`;
}

/**
 * What a command that threw says on stderr, and its exit code: a BatchpostError its message, code and hint, with
 * its code's exit code; anything else is a bug in batchpost (exit 1), reported with its stack.
 */
export function describeError(err: unknown): { text: string; exitCode: number } {
  if (err instanceof BatchpostError)
    return { text: errorText(err.code, err.message, err.hint), exitCode: err.exitCode };
  const stack = (err as Error | null | undefined)?.stack ?? String(err);
  return { text: `batchpost: internal error: ${stack}\n`, exitCode: EXIT.FAILED };
}
