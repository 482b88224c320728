// The command the user typed, re-quoted for pasting, with the flag that continues it: printed after an
// interrupt (--resume) and after failures (--retry-failed). Secrets in it (header values, URL passwords and
// tokens) are printed as <hidden>, with a line saying so; headers given as -H @FILE are repeated as they are.
import { redactArgv } from '../util/redact.js';
import { shellQuote } from '../util/shell-quote.js';

const CONTINUATION_FLAGS = new Set(['--resume', '--retry-failed', '--overwrite', '--resend-changed']);
const CONTINUATION_OPTIONS = new Set(['--rerun-where']);
const HIDDEN = '<hidden>';

export function commandLine(argv: readonly string[], mode: 'resume' | 'retry-failed'): string {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (CONTINUATION_OPTIONS.has(a)) i++;
    else if (!CONTINUATION_FLAGS.has(a) && ![...CONTINUATION_OPTIONS].some((o) => a.startsWith(`${o}=`))) args.push(a);
  }
  return ['batchpost', ...redactArgv(args, HIDDEN), `--${mode}`].map(shellQuote).join(' ');
}

/** The line that goes under a printed command whose secrets were hidden; '' when none were. */
export function hiddenNote(command: string): string {
  if (!command.includes(HIDDEN)) return '';
  const queue = /--queue[= ]'?[^\s']*<hidden>/.test(command)
    ? ' A Redis password can go in BATCHPOST_QUEUE instead of --queue.'
    : '';
  return `  Secrets are shown as ${HIDDEN}: put them back before running it, or keep such headers in a file and pass -H @FILE.${queue}\n`;
}
