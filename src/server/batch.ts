// POST /batch: a JSON array (or NDJSON) of payloads in; each sent exactly as `run` sends it (same templates,
// body, retries, transform), one result per payload out in run's line format. The whole batch is read and checked
// first, so a malformed one is refused (4xx) with nothing sent; once taken it is answered 200 whatever happens to
// its items. `Accept: application/x-ndjson` streams each result as it completes and ends with a summary line.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IdAssigner } from '../engine/ids.js';
import { idempotencyKey } from '../engine/request.js';
import { round1 } from '../engine/sender.js';
import { unsentResult } from '../engine/unsent.js';
import type { InputRecord, OutgoingRequest, Result } from '../engine/types.js';
import { TemplateError } from '../expr/index.js';
import { ArraySplitter } from '../input/json-array.js';
import { NdjsonSplitter } from '../input/ndjson.js';
import { BOM } from '../input/text.js';
import { resultToJson } from '../output/result-json.js';
import { isJsonType, isNdjsonType, readBody, requireMediaType } from './body.js';
import type { BatchScope, Gateway } from './gateway.js';
import { fillIn, inheritedHeaders } from './headers.js';
import { checkItemCount, HttpError } from './reply.js';
import { batchText } from './scan.js';

export interface BatchOutcome {
  items: number;
  ok: number;
  failed: number;
  /** Set when the answer could not be given in full (the client left, or a hard stop). */
  cut: string | null;
}

export interface Summary {
  total: number;
  ok: number;
  failed: number;
  durationMs: number;
}

const EXPECTED = 'application/json (a JSON array of payloads) or application/x-ndjson (one payload per line)';

/** Reads and checks the batch; calls `taken` once it is accepted, then sends every item and answers. */
export async function handleBatch(
  req: IncomingMessage,
  res: ServerResponse,
  gw: Gateway,
  taken: () => void,
): Promise<BatchOutcome> {
  const media = requireMediaType(req, (t) => isJsonType(t) || isNdjsonType(t), EXPECTED);
  const text = await batchText(await readBody(req, res, gw.o.maxBytes, gw.requestTimeoutMs));
  const records = splitBatch(text, isNdjsonType(media.type), gw.o.maxItems);
  const ids = idsOf(records, gw.o.run.idField);
  taken();

  const t0 = performance.now();
  const n = records.length;
  const scope = gw.scope(n, single(req.headers['idempotency-key']));
  const inherited = inheritedHeaders(req.headers, gw.o.inherit);
  const answer: Answer = wantsNdjson(req.headers.accept) ? new NdjsonAnswer(res) : new JsonAnswer(res, n);
  scope.watch(res);
  const record = (i: number, result: Result | null): void => {
    if (result !== null) answer.result(i, resultToJson(result));
    scope.count(result === null ? null : result.ok);
  };

  try {
    sendAll(gw, scope, records, ids, inherited, record);
    await scope.settled;
  } catch (err) {
    scope.fail(err);
    throw err;
  }

  const summary: Summary = { total: n, ok: scope.ok, failed: scope.failed, durationMs: round1(performance.now() - t0) };
  const cut = scope.cut();
  answer.end(summary, cut !== null);
  return { items: n, ok: scope.ok, failed: scope.failed, cut };
}

/** Builds and submits every payload's request; one whose template fails is recorded as TEMPLATE_ERROR. */
function sendAll(
  gw: Gateway,
  scope: BatchScope,
  records: InputRecord[],
  ids: string[],
  inherited: Record<string, string> | null,
  record: (i: number, result: Result | null) => void,
): void {
  const run = gw.o.run;
  for (let i = 0; i < records.length; i++) {
    const id = ids[i]!;
    let request: OutgoingRequest;
    try {
      request = gw.builder.build(records[i]!, id, run.method);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      gw.unsent('batch');
      record(i, unsentResult(id, 'TEMPLATE_ERROR', `item ${i + 1}: ${err.message}`));
      continue;
    }
    if (inherited !== null) request.headers = fillIn(request.headers, inherited);
    if (run.idempotencyKey) request.headers = { ...request.headers, 'idempotency-key': idempotencyKey(scope.key, id) };
    gw.send('batch', scope, id, request, (result) => record(i, result));
  }
}

interface Answer {
  result(index: number, line: string): void;
  /** `cut`: the answer is incomplete; a JSON answer is not sent, an NDJSON stream ends without its summary. */
  end(summary: Summary, cut: boolean): void;
}

/** {"results":[…],"summary":{…}} in input order, sent when the last item is done. */
class JsonAnswer implements Answer {
  private readonly lines: string[];

  constructor(
    private readonly res: ServerResponse,
    n: number,
  ) {
    this.lines = new Array<string>(n);
  }

  result(index: number, line: string): void {
    this.lines[index] = line;
  }

  end(summary: Summary, cut: boolean): void {
    if (cut) return void this.res.destroy();
    const text = `{"results":[${this.lines.join(',')}],"summary":${JSON.stringify(summary)}}`;
    this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    this.res.end(text);
  }
}

/** One result line as each completes (lines completing together go out in one write), then the summary line. */
class NdjsonAnswer implements Answer {
  private pending = '';
  private scheduled = false;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
  }

  result(_index: number, line: string): void {
    this.pending += line + '\n';
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending === '' || this.res.destroyed) return;
    this.res.write(this.pending);
    this.pending = '';
  };

  end(summary: Summary, cut: boolean): void {
    this.flush();
    if (cut) return void this.res.destroy();
    this.res.end(`${JSON.stringify({ summary })}\n`);
  }
}

/** The payloads of a batch, each with its exact source text; a 400 for bad JSON, a 413 past --max-items. */
function splitBatch(text: string, ndjson: boolean, maxItems: number): InputRecord[] {
  if (text.startsWith(BOM)) text = text.slice(1);
  const records: InputRecord[] = [];
  const splitter = ndjson ? new NdjsonSplitter() : new ArraySplitter(true);
  splitter.push(text, records);
  splitter.end(records);
  for (const r of records) {
    if (r.error === undefined) continue;
    if (!ndjson && isJsonNotArray(text)) {
      throw new HttpError(
        400,
        'INVALID_BATCH',
        'expected a JSON array of payloads; for the OData format ({"requests":[…]}) POST to /$batch',
      );
    }
    throw new HttpError(400, 'INPUT_INVALID_JSON', `line ${r.line}: ${r.error}`);
  }
  if (!ndjson && records.length === 0 && text.trim() === '')
    throw new HttpError(400, 'INVALID_BATCH', 'empty body: expected a JSON array of payloads');
  checkItemCount(records.length, 'payloads', maxItems);
  return records;
}

function isJsonNotArray(text: string): boolean {
  try {
    return !Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}

/** Every payload's id (position or --id-field); a 400 naming the payload when one is missing or repeated. */
function idsOf(records: InputRecord[], idField: string | undefined): string[] {
  const assigner = new IdAssigner(idField, false);
  return records.map((r, i) => {
    const outcome = assigner.next(r);
    if ('id' in outcome) return outcome.id;
    throw new HttpError(400, outcome.code, `item ${i + 1}: ${outcome.message}`);
  });
}

/** True when the Accept header asks for NDJSON (with a q above 0). */
function wantsNdjson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';');
    if (!isNdjsonType(type!.trim().toLowerCase())) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
