// The command the user typed, re-quoted for pasting, with the flag that continues it: printed after an
// interrupt (--resume) and after failures (--retry-failed).
import { shellQuote } from '../util/shell-quote.js';

const CONTINUATION_FLAGS = new Set(['--resume', '--retry-failed', '--overwrite', '--resend-changed']);
const CONTINUATION_OPTIONS = new Set(['--rerun-where']);

export function commandLine(argv: readonly string[], mode: 'resume' | 'retry-failed'): string {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (CONTINUATION_OPTIONS.has(a)) i++;
    else if (!CONTINUATION_FLAGS.has(a) && ![...CONTINUATION_OPTIONS].some((o) => a.startsWith(`${o}=`))) args.push(a);
  }
  return ['batchpost', ...args, `--${mode}`].map(shellQuote).join(' ');
}
