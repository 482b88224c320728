// Reads a results file back, streamed (a million lines never sit in memory): NDJSON as `run` writes it, the
// keyed object of `--format json` (one entry per line), or the OpenAI Batch lines of `--format openai`; a name
// ending in .gz, or a file that starts with gzip's magic bytes (a .gz renamed), is read decompressed. Each line is
// checked to be a result; a last line torn by a crash is skipped and reported, any other malformed line stops with
// RESULTS_CORRUPT naming it.
//
// An openai line carries no timings (no duration, start or attempts): its result is marked `noTimings`, and the
// reports say the timings are not recorded instead of showing zeros.
import fs from 'node:fs';
import { gunzipMembers, resultChunks, type GzipScan } from '../output/gzip-file.js';
import { isGzip } from '../input/gzip.js';
import { openAiLineCode, openAiLineOk } from '../output/openai-line.js';
import { BatchpostError } from '../engine/errors.js';
import { requireFile } from '../util/input-file.js';
import type { Result, ResultThrottled } from '../engine/types.js';

/** A result read back; `noTimings` when its line records no duration, start or attempts (--format openai). */
export type ReadResult = Result & { noTimings?: true };

export interface ReadOutcome {
  /** Results read. */
  results: number;
  /** The file's format, as detected from its first line. */
  format: ResultsFormat;
  /** 1-based line of a torn last line that was skipped, or null. */
  tornLine: number | null;
}

export type ResultsFormat = 'ndjson' | 'json' | 'openai';

const NEWLINE = 10;

/**
 * Calls `onResult` with each result and its 1-based line, in file order; `afterChunk` (awaited) after each ~1 MB
 * read, so a caller writing something per result can drain it with backpressure.
 */
export async function readResults(
  file: string,
  onResult: (r: ReadResult, line: number) => void,
  afterChunk?: () => Promise<void>,
): Promise<ReadOutcome> {
  checkResultsFile(file);
  const reader = new ResultLines(file, onResult);
  const { lines, tail } = await forEachLine(file, (text, line) => reader.line(text, line), afterChunk);
  let tornLine: number | null = null;
  if (tail.trim() !== '') {
    const last = lines + 1;
    try {
      reader.line(tail, last);
    } catch (err) {
      // A write cut short by a crash: the request it recorded is not counted (and --resume sends it again).
      if (!(err instanceof BatchpostError) || !err.message.includes('not valid JSON')) throw err;
      tornLine = last;
    }
  }
  return { results: reader.count, format: reader.format ?? 'ndjson', tornLine };
}

function checkResultsFile(file: string): void {
  requireFile(file, 'a results file', 'Give the results file a run wrote (--out FILE).');
}

/** Turns lines into results, telling the format from the first non-blank line. */
class ResultLines {
  format: ResultsFormat | null = null;
  count = 0;

  constructor(
    private readonly file: string,
    private readonly onResult: (r: ReadResult, line: number) => void,
  ) {}

  line(text: string, line: number): void {
    if (this.format === null) {
      if (text.trim() === '') return;
      this.format = text.trim() === '{' ? 'json' : isOpenAiText(text) ? 'openai' : 'ndjson';
      if (this.format === 'json') return;
    }
    const r =
      this.format === 'json'
        ? parseJsonEntry(text)
        : this.format === 'openai'
          ? parseOpenAiLine(text)
          : parseNdjsonLine(text);
    if (r === null) return;
    if (typeof r === 'string') throw corrupt(this.file, line, r);
    this.count++;
    this.onResult(r, line);
  }
}

/**
 * Calls `onLine` with each newline-terminated line (1-based); returns how many there were and the text after the
 * last newline. Split on bytes (a newline byte never occurs inside a UTF-8 sequence); only a line spanning chunks
 * is copied.
 */
async function forEachLine(
  file: string,
  onLine: (text: string, line: number) => void,
  afterChunk?: () => Promise<void>,
): Promise<{ lines: number; tail: string }> {
  let lineNo = 0;
  let carry: Buffer[] = [];
  const scan: GzipScan = { tornAt: null };
  const chunks = startsLikeGzip(file) ? gunzipMembers(file, scan) : resultChunks(file, scan);
  for await (const chunk of chunks) {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl !== -1 && carry.length > 0) {
      carry.push(chunk.subarray(0, nl));
      onLine(Buffer.concat(carry).toString('utf8'), ++lineNo);
      carry = [];
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    while (nl !== -1) {
      onLine(chunk.toString('utf8', start, nl), ++lineNo);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
    if (afterChunk) await afterChunk();
  }
  return { lines: lineNo, tail: Buffer.concat(carry).toString('utf8') };
}

/** Whether the file's first bytes are gzip's (1f 8b): no results text starts so. */
function startsLikeGzip(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return isGzip(head.subarray(0, fs.readSync(fd, head, 0, 2, 0)));
  } finally {
    fs.closeSync(fd);
  }
}

/** A line's JSON value; NOT_JSON when it is not JSON. */
const NOT_JSON = Symbol('not JSON');
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

function parseNdjsonLine(text: string): Result | string | null {
  if (text.trim() === '') return null;
  const value = jsonOf(text);
  return value === NOT_JSON ? 'not valid JSON' : asResult(value);
}

/** Whether a line is an OpenAI Batch output line: `custom_id` and `response`, and no `ok` of its own. */
function isOpenAiText(text: string): boolean {
  return isOpenAiShape(jsonOf(text));
}

function isOpenAiShape(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.custom_id === 'string' && 'response' in v && !('ok' in v);
}

/**
 * A `--format openai` line as the result it stands for, with the verdict --resume reads from it (openAiLineOk):
 * ok is a 2xx response and no error; a non-2xx answer, which OpenAI writes with `error: null`, gets the code
 * HTTP_<status> the ndjson line would carry.
 */
function parseOpenAiLine(text: string): ReadResult | string | null {
  if (text.trim() === '') return null;
  const value = jsonOf(text);
  if (value === NOT_JSON) return 'not valid JSON';
  if (!isOpenAiShape(value)) return 'not an openai line with "custom_id" and "response"';
  const response = value.response as { status_code?: unknown; body?: unknown } | null;
  if (response !== null && (typeof response !== 'object' || typeof response.status_code !== 'number'))
    return '"response" has no number "status_code"';
  const error = value.error as { code?: unknown; message?: unknown } | null | undefined;
  if (error !== null && error !== undefined && (typeof error !== 'object' || typeof error.code !== 'string'))
    return '"error" has no string "code"';
  const status = response === null ? null : (response.status_code as number);
  const ok = openAiLineOk(value);
  const code = openAiLineCode(value);
  return {
    id: value.custom_id as string,
    ok,
    status,
    attempts: 1,
    durationMs: 0,
    response: response?.body ?? null,
    error:
      code === null
        ? null
        : { code, message: typeof error?.message === 'string' ? error.message : `answered ${status ?? 'nothing'}` },
    noTimings: true,
  };
}

/** A `--format json` line: `"id":{…},`, or the closing brace. */
function parseJsonEntry(text: string): Result | string | null {
  const t = text.trim();
  if (t === '' || t === '}') return null;
  let value: unknown;
  try {
    value = JSON.parse(`{${t.endsWith(',') ? t.slice(0, -1) : t}}`);
  } catch {
    return 'not valid JSON';
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length !== 1) return 'not one "id": {…} entry';
  const [id, body] = entries[0]!;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'not a JSON object';
  return asResult({ id, ...body });
}

/** Checks the fields a report reads; the rest of the line is kept as is. */
function asResult(value: unknown): Result | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string') return 'no string "id"';
  if (typeof v.ok !== 'boolean') return 'no boolean "ok"';
  if (v.status !== null && v.status !== undefined && typeof v.status !== 'number') return '"status" is not a number';
  const error = v.error as { code?: unknown; message?: unknown } | null | undefined;
  if (error !== null && error !== undefined && (typeof error !== 'object' || typeof error.code !== 'string'))
    return '"error" has no string "code"';
  const result: Result = {
    id: v.id,
    ok: v.ok,
    status: typeof v.status === 'number' ? v.status : null,
    attempts: typeof v.attempts === 'number' ? v.attempts : 1,
    durationMs: typeof v.durationMs === 'number' ? v.durationMs : 0,
    response: v.response ?? null,
    error: error
      ? { code: error.code as string, message: typeof error.message === 'string' ? error.message : '' }
      : null,
    startedAt: typeof v.startedAt === 'number' ? v.startedAt : undefined,
  };
  const throttled = throttledOf(v.throttled);
  if (throttled !== undefined) result.throttled = throttled;
  return result;
}

/** A result's `throttled` field when it is well formed; a report reads it, so a malformed one is just not used. */
function throttledOf(value: unknown): ResultThrottled | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { since, by } = value as { since?: unknown; by?: unknown };
  if (typeof since !== 'number' || !Number.isFinite(since)) return undefined;
  return { since, by: Array.isArray(by) ? by.filter((r): r is string => typeof r === 'string') : [] };
}

function corrupt(file: string, line: number, reason: string): BatchpostError {
  return new BatchpostError(
    'RESULTS_CORRUPT',
    `${file}:${line}: not a result line (${reason})`,
    'Fix or remove that line, then run again.',
  );
}
