// Whether to colour, decided once from the stream and the environment, and explicit chalk instances so that
// decision is the only one: chalk's default instance sniffs process.stdout, which is the results, not the terminal.
import { Chalk, type ChalkInstance } from 'chalk';
import type { ProgressStream } from './stream.js';

/**
 * Colour only for a person at a terminal: stream is a TTY, NO_COLOR is unset or empty (https://no-color.org:
 * "when present and not an empty string"), and the terminal is not declared dumb.
 */
export function useColor(
  stream: Pick<ProgressStream, 'isTTY'>,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

// Level 1 (16 colours) is all green/red/yellow/dim need and works on every terminal that has colour at all.
const coloured = new Chalk({ level: 1 });
const plain = new Chalk({ level: 0 });

export function painter(color: boolean): ChalkInstance {
  return color ? coloured : plain;
}
