// --dry-run: every payload goes through the same id and request building as a real run, nothing is sent. A gate
// for CI: every payload is checked (not only up to the first problem), each kind of problem is shown by a few
// lines and counted, and the exit code is 2 when any payload would not become a request.
// The first requests are printed to stdout (one JSON line each) so they can be inspected or piped.
import { IdAssigner } from '../engine/ids.js';
import type { ResolvedOptions } from '../engine/options.js';
import { BodyFormatError } from '../engine/body-format.js';
import { InvalidRequestError, requestBuilderFor } from '../engine/request-line.js';
import type { InputRecord, OutgoingRequest } from '../engine/types.js';
import { TemplateError } from '../expr/index.js';
import { formatCount } from '../progress/format.js';
import { redactHeaders, redactUrls } from '../util/redact.js';
import { escapeControls, escapeJsonControls } from '../util/terminal-text.js';
import { EXIT } from './exit.js';
import type { CliIO } from './io.js';

const SHOWN = 10;
/** Lines shown per error code: enough to see the pattern, few enough that 10,000 bad payloads stay readable. */
const SAMPLES_PER_CODE = 3;

/** The payloads with a problem, by error code: how many, and the lines of the first few. */
class Problems {
  private readonly byCode = new Map<string, { count: number; lines: number[] }>();
  total = 0;

  constructor(
    private readonly err: CliIO['stderr'],
    private readonly inputName: string,
  ) {}

  add(code: string, line: number, message: string): void {
    let p = this.byCode.get(code);
    if (p === undefined) this.byCode.set(code, (p = { count: 0, lines: [] }));
    p.count++;
    this.total++;
    if (p.lines.length >= SAMPLES_PER_CODE) return;
    p.lines.push(line);
    this.err.write(`batchpost: ${this.inputName}:${line}: ${escapeControls(redactUrls(message))} [${code}]\n`);
  }

  /** One line per code: `TEMPLATE_ERROR: 250 payloads (lines 1, 2, 3 shown; 247 more)`. */
  counts(): string {
    let text = '';
    for (const [code, p] of this.byCode) {
      const more = p.count - p.lines.length;
      const shown = `line${p.lines.length === 1 ? '' : 's'} ${p.lines.join(', ')} shown${more > 0 ? `; ${formatCount(more)} more` : ''}`;
      text += `batchpost: dry run: ${code}: ${formatCount(p.count)} payload${p.count === 1 ? '' : 's'} (${shown})\n`;
    }
    return text;
  }
}

export async function dryRun(
  records: AsyncIterable<InputRecord>,
  o: ResolvedOptions,
  inputName: string,
  io: Pick<CliIO, 'stdout' | 'stderr'>,
): Promise<number> {
  const ids = new IdAssigner(o.idField, o.skipInvalid, o.inputKind);
  const builder = requestBuilderFor(o);
  const problems = new Problems(io.stderr, inputName);
  let count = 0;
  let built = 0;
  for await (const record of records) {
    count++;
    const outcome = ids.next(record);
    if (!('id' in outcome)) problems.add(outcome.code, record.line, outcome.message);
    else if (record.error !== undefined) problems.add('INVALID_JSON', record.line, record.error);
    else {
      try {
        const req = builder.build(record, outcome.id, o.method);
        if (++built <= SHOWN) io.stdout.write(shownRequest(outcome.id, req) + '\n');
      } catch (e) {
        problems.add(problemCode(e), record.line, (e as Error).message);
      }
    }
  }
  io.stderr.write(problems.counts());
  // Its output is a secret, and a dry run sends nothing that needs it.
  if (o.authCommand !== undefined)
    io.stderr.write('batchpost: dry run: --auth-command was not run; its headers go with each request when sending.\n');
  const invalid = problems.total ? `, ${formatCount(problems.total)} invalid` : '';
  io.stderr.write(
    `batchpost: dry run: ${formatCount(count)} payload${count === 1 ? '' : 's'} read, ${formatCount(built)} would be sent` +
      `${invalid}; the first ${Math.min(built, SHOWN)} shown; nothing was sent.\n`,
  );
  return problems.total > 0 ? EXIT.INPUT : EXIT.OK;
}

/** A request as printed: secret header values and URL secrets redacted, and no control character for the terminal. */
function shownRequest(id: string, req: OutgoingRequest): string {
  const body = req.body instanceof Uint8Array ? `(${req.body.length} bytes of gzip)` : req.body;
  const shown = { id, ...req, url: redactUrls(req.url), headers: redactHeaders(req.headers), body };
  return escapeJsonControls(JSON.stringify(shown));
}

/** The code a payload that cannot become a request is counted under; anything else is a bug and is thrown on. */
function problemCode(e: unknown): string {
  if (e instanceof TemplateError) return 'TEMPLATE_ERROR';
  if (e instanceof BodyFormatError) return 'INVALID_BODY';
  if (e instanceof InvalidRequestError) return 'INPUT_INVALID_REQUEST';
  throw e;
}
