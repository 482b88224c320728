// What a run says on stderr once it is over: recorded payloads that changed, the summary, and why it stopped early
// with the command that continues it.
import { BatchpostError, hintOf } from '../../engine/errors.js';
import type { Unreachable } from '../../engine/run.js';
import type { InputError, Summary } from '../../engine/types.js';
import { openResume, type OutputFormat, type ResultsTally } from '../../output/index.js';
import { formatCount } from '../../progress/format.js';
import { formatSummary } from '../../progress/summary.js';
import { escapeControls } from '../../util/terminal-text.js';
import { commandLine, hiddenNote } from '../command-line.js';
import { errorText } from '../errors.js';
import type { RunOutcome } from '../exit.js';
import { inputName } from './input.js';

/** Where the run's results went, and how it was started: what the messages point at. */
export interface RunPlace {
  input: string;
  out: string | null;
  format: OutputFormat;
  argv: readonly string[];
}

/** Only an NDJSON results file can be continued (--resume, --retry-failed): it is appended line by line. */
const canResume = (p: RunPlace): boolean => p.out !== null && p.format === 'ndjson';

export function outputFailedText(error: Error): string {
  return errorText('OUTPUT_FAILED', `results could not be written: ${error.message}`);
}

/** --resume: recorded payloads that now build another request; re-sent ones keep only their newer line. */
export async function changedText(summary: Summary, out: string | null): Promise<string> {
  const c = summary.changed;
  if (c === null) return '';
  const which = `${formatCount(c.count)} recorded payload${c.count === 1 ? '' : 's'} changed since ${c.count === 1 ? 'it was' : 'they were'} sent (first: ${escapeControls(c.firstIds.join(', '))})`;
  if (!c.resent) return `batchpost: ${which}; not sent again. Add --resend-changed to send them.\n`;
  // Each re-sent id now has two lines; keep the newer one so the file stays one line per id.
  if (out !== null) await openResume(out, { mode: 'rerun', where: () => false });
  return `batchpost: ${which}; sent again.\n`;
}

/** `recorded`: after --resume and its kin, every id of the results file (the summary then counts those). */
export function summaryText(
  summary: Summary,
  place: RunPlace,
  color: boolean,
  recorded: ResultsTally | null = null,
): string {
  const failed = (recorded ?? summary).failed;
  const retryFailed = canResume(place) && failed > 0 ? commandLine(place.argv, 'retry-failed') : null;
  const options = { color, symbols: color, resultsPath: place.out, retryFailedCommand: retryFailed, recorded };
  return formatSummary(summary, options) + '\n' + hiddenNote(retryFailed ?? '');
}

/** Why the run stopped before the end, and how to go on; '' for a run that went through. */
export function stoppedText(o: RunOutcome, place: RunPlace, counted: number | null): string {
  if (o.threadFailure !== null) {
    const resume = canResume(place) ? `  Continue with:\n${continueCommand(place)}` : '';
    return errorText('THREAD_FAILED', o.threadFailure.message) + resume;
  }
  if (o.authFailure) {
    const done = `batchpost: ${formatCount(o.summary.total)} request${o.summary.total === 1 ? ' was' : 's were'} recorded before it failed.`;
    const resume = canResume(place) ? ` Fix the command, then continue with:\n${continueCommand(place)}` : '\n';
    return errorText('AUTH_COMMAND_FAILED', o.authFailure.message, '') + done + resume;
  }
  if (o.queueFailure) {
    const e = o.queueFailure;
    const hint = e instanceof BatchpostError ? e.hint : undefined;
    const resume = canResume(place) ? `  Continue with:\n${continueCommand(place)}` : '';
    const code = e instanceof BatchpostError ? e.code : 'QUEUE_LOST';
    return errorText(code, e.message, hint) + resume;
  }
  if (o.summary.inputError !== null) return inputErrorText(o.summary.inputError, o.summary, place);
  if (o.unreachable !== null) return unreachableText(o.unreachable, place);
  if (o.interrupted) return interruptedText(o.summary, place, counted);
  return '';
}

/** The --resume command on a line of its own, and the note when it hides secrets. */
function continueCommand(place: RunPlace): string {
  const command = commandLine(place.argv, 'resume');
  return `  ${command}\n${hiddenNote(command)}`;
}

function inputErrorText(e: InputError, summary: Summary, place: RunPlace): string {
  // The excerpt and the message quote the input: its control characters are written out, never sent to the terminal.
  const excerpt = e.excerpt ? `: ${escapeControls(e.excerpt)}` : '';
  const where = `batchpost: ${inputName(place.input)}:${e.line}: ${escapeControls(e.message)}${excerpt} [${e.code}]\n`;
  const done = `${formatCount(summary.total)} request${summary.total === 1 ? ' was' : 's were'} sent and recorded before this line.`;
  const fix = hintOf(e.code) ?? 'Fix the input';
  const next = canResume(place)
    ? `${fix}, then add --resume${e.code === 'INPUT_INVALID_JSON' || e.code === 'INPUT_INVALID_REQUEST' ? '; or pass --skip-invalid' : ''}.`
    : `${fix} and run again.`;
  return `${where}  ${done} ${next}\n`;
}

function unreachableText(u: Unreachable, place: RunPlace): string {
  const last = u.message === '' ? '' : `\n  The last: ${u.message}`;
  const message = `cannot reach ${u.target} (${u.code}): the first ${formatCount(u.after)} results all failed to connect; stopped, the rest was not sent${last}`;
  // A certificate or proxy problem has its own remedy; the others mean the server is down or the URL is wrong.
  const check = hintOf(u.code) ?? 'Check the URL and that the server is up';
  // --retry-failed: the connect failures recorded so far are sent again too, with what was never sent.
  const next = canResume(place)
    ? `${check}, then continue with${place.input === '-' ? ' (feed the same input on stdin)' : ''}:\n  ${commandLine(place.argv, 'retry-failed')}`
    : `${check}, then run again.`;
  return errorText('UNREACHABLE', message, next);
}

/** `counted`: the payloads this run was to take up, when the input was counted. */
function interruptedText(summary: Summary, place: RunPlace, counted: number | null): string {
  const total = counted === null ? '' : ` of ${formatCount(counted + summary.skipped)}`;
  const done = `batchpost: ${formatCount(summary.total + summary.skipped)}${total} done (${formatCount(summary.ok)} ok, ${formatCount(summary.failed)} failed).`;
  if (canResume(place)) {
    const stdinNote = place.input === '-' ? ' (feed the same input on stdin)' : '';
    return `${done} Continue with${stdinNote}:\n${continueCommand(place)}`;
  }
  const where = place.out === null ? 'stdout' : `${place.format} output`;
  return `${done} Results went to ${where}, which cannot be resumed; use --out FILE (ndjson) next time.\n`;
}
