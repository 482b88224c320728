// The command the user typed, re-quoted for pasting, with the flag that continues it: printed after an
// interrupt (--resume) and after failures (--retry-failed).
import { shellQuote } from './parse.js';

const CONTINUATION_FLAGS = new Set(['--resume', '--retry-failed', '--overwrite']);

export function commandLine(argv: readonly string[], mode: 'resume' | 'retry-failed'): string {
  const args = argv.filter((a) => !CONTINUATION_FLAGS.has(a));
  return ['batchpost', ...args, `--${mode}`].map(shellQuote).join(' ');
}
