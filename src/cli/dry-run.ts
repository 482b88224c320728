// --dry-run: every payload goes through the same id and request building as a real run, nothing is sent.
// The first requests are printed to stdout (one JSON line each) so they can be inspected or piped.
import { exitCodeOf } from '../engine/errors.js';
import { IdAssigner } from '../engine/ids.js';
import type { ResolvedOptions } from '../engine/options.js';
import { RequestBuilder } from '../engine/request.js';
import type { InputRecord, OutgoingRequest } from '../engine/types.js';
import { TemplateError } from '../expr/index.js';
import { formatCount } from '../progress/format.js';
import { redactHeaders, redactUrls } from '../util/redact.js';
import { escapeControls, escapeJsonControls } from '../util/terminal-text.js';
import { EXIT } from './exit.js';
import type { CliIO } from './io.js';

const SHOWN = 10;

export async function dryRun(
  records: AsyncIterable<InputRecord>,
  o: ResolvedOptions,
  inputName: string,
  io: Pick<CliIO, 'stdout' | 'stderr'>,
): Promise<number> {
  const ids = new IdAssigner(o.idField, o.skipInvalid, o.inputKind);
  const builder = new RequestBuilder(o);
  let count = 0;
  let unsendable = 0;
  const err = io.stderr;
  for await (const record of records) {
    const outcome = ids.next(record);
    if (!('id' in outcome)) {
      err.write(`batchpost: ${inputName}:${record.line}: ${escapeControls(outcome.message)} [${outcome.code}]\n`);
      err.write(`  dry run: ${formatCount(count)} payloads before this line are valid; nothing was sent.\n`);
      return exitCodeOf(outcome.code);
    }
    count++;
    if (record.error !== undefined) {
      unsendable++;
      err.write(
        `batchpost: ${inputName}:${record.line}: ${escapeControls(record.error)} (would be recorded as INVALID_JSON)\n`,
      );
      continue;
    }
    try {
      const req = builder.build(record, outcome.id, o.method);
      if (count <= SHOWN) io.stdout.write(shownRequest(outcome.id, req) + '\n');
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      unsendable++;
      err.write(
        `batchpost: ${inputName}:${record.line}: ${escapeControls(redactUrls(e.message))} (would be recorded as TEMPLATE_ERROR)\n`,
      );
    }
  }
  const shown = Math.min(count, SHOWN);
  err.write(
    `batchpost: dry run: ${formatCount(count)} payload${count === 1 ? '' : 's'} read, ${formatCount(count - unsendable)} would be sent` +
      `${unsendable ? `, ${formatCount(unsendable)} would be recorded as failed` : ''}; the first ${shown} shown; nothing was sent.\n`,
  );
  return EXIT.OK;
}

/** A request as printed: secret header values and URL secrets redacted, and no control character for the terminal. */
function shownRequest(id: string, req: OutgoingRequest): string {
  const shown = { id, ...req, url: redactUrls(req.url), headers: redactHeaders(req.headers) };
  return escapeJsonControls(JSON.stringify(shown));
}
