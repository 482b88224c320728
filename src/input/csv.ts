// CSV input: a header row names the fields, every following row becomes one payload object keyed by those names.
// Parsing (quotes, doubled quotes, delimiters and newlines inside quoted fields) is csv-parse's. It is driven
// through its Transform contract (_transform/_flush with push captured) rather than as a stream, so that each
// row arrives synchronously, in order, with the byte offset where it ends (parser.info.bytes): nothing is lost
// to stream buffering when a later row in the same chunk is malformed, and the reader stays pull-based.
// csv-parse's own `raw` text is not exact (it keeps skipped blank lines and only part of a CRLF), so the exact
// source of each row is sliced here from the bytes, between the end of the previous row and the end of this
// one; the same bytes give the line numbers.
//
// Choices (documented in the README):
// - comma-separated, `"` quotes, `""` for a quote inside a quoted field (RFC 4180); UTF-8 only (a UTF-8 BOM is
//   dropped; a UTF-16 BOM is an error);
// - rows end at LF, CRLF or a lone CR, in any mix; empty and whitespace-only lines are skipped, but count as lines;
// - strict: a quote inside an unquoted field, text after a closing quote, an unclosed quote or a row whose
//   field count differs from the header's stop the input (the record is fatal), like a broken JSON array;
// - values are strings; with csvTypes, JSON-syntax numbers and true/false become numbers and booleans (see
//   inferCsvValue); an empty field stays "" either way.

import { Parser, type CsvError } from 'csv-parse';
import { isExactNumber } from '../util/exact-json.js';
import { tooLarge } from './text.js';
import { invalidUtf8Message, Utf8Chunks } from './utf8.js';
import type { InputRecord } from './types.js';

export interface CsvReadOptions {
  /** Infer numbers and booleans from field text (see inferCsvValue); otherwise every value is a string. */
  csvTypes?: boolean;
  /**
   * The largest payload read, in characters of decoded text (bytes, for ASCII): a longer line, array element or CSV
   * row is a fatal record with code INPUT_TOO_LARGE, found before it is held whole. Default: no limit.
   */
  maxLineSize?: number;
  /** Called once with the header row's exact text (no BOM, no line end), before the first record. */
  onCsvHeader?: (headerText: string) => void;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Feeds CSV bytes to csv-parse and turns its rows into InputRecords. push() takes ownership of the chunk: the
 * parser and the pending-row window keep views of it, so the caller must not reuse the buffer afterwards.
 */
export class CsvSplitter {
  private stoppedFlag = false;
  private readonly utf8 = new Utf8Chunks();
  private readonly parser: Parser;
  /** Bytes from `windowStart` (an offset in the input after the BOM) on; `rowEnd` and later are still pending. */
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  /** Where the previous row (or skipped blank row) ended, delimiter included, and the line that starts there. */
  private rowEnd = 0;
  private line = 1;
  /** The first bytes, held until there are enough to tell whether they start with a BOM. */
  private head: Buffer | null = Buffer.alloc(0);
  private header: string[] | null = null;
  private hasProtoName = false;
  /** Records of the chunk being parsed; set for the duration of push()/end(). */
  private out: InputRecord[] = [];

  constructor(private readonly options: CsvReadOptions = {}) {
    this.parser = new Parser({
      delimiter: ',',
      quote: '"',
      escape: '"',
      record_delimiter: ['\r\n', '\n', '\r'],
      skip_empty_lines: true,
      // The field count is checked here, to name the row and the counts in the message.
      relax_column_count: true,
      bom: false, // handled below, so that byte offsets and the source text agree
      encoding: 'utf8',
      max_record_size: options.maxLineSize ?? 0, // 0: no limit
    });
    // Rows come back through push(), synchronously, while _transform/_flush run.
    this.parser.push = (row: unknown): boolean => {
      if (row !== null && !this.stoppedFlag) this.onRow(row as string[], this.parser.info.bytes);
      return true;
    };
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  push(chunk: Buffer, out: InputRecord[]): void {
    if (this.stoppedFlag || chunk.length === 0) return;
    if (this.head !== null) {
      const head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      if (head.length < 3) {
        this.head = head;
        return;
      }
      this.head = null;
      chunk = this.dropBom(head, out);
      if (this.stoppedFlag || chunk.length === 0) return;
    }
    // csv-parse would decode a byte that is not UTF-8 as U+FFFD: a different payload would go out.
    this.feed(this.utf8.validBytes(chunk), out);
    if (this.utf8.badByte !== null && !this.stoppedFlag) this.refuseBadByte(this.utf8.badByte, out);
  }

  private refuseBadByte(byte: number, out: InputRecord[]): void {
    // The line of the bad byte: rows not yet taken are still in the window.
    let line = this.line;
    for (const b of this.window) if (b === LF) line++;
    out.push({
      line,
      error: invalidUtf8Message(byte, 'batchpost reads CSV as'),
      fatal: true,
      code: 'INPUT_INVALID_UTF8',
    });
    this.stoppedFlag = true;
  }

  private feed(chunk: Buffer, out: InputRecord[]): void {
    if (chunk.length === 0) return;
    this.window = this.window.length === 0 ? chunk : Buffer.concat([this.window, chunk]);
    this.out = out;
    let failure: Error | null | undefined;
    this.parser._transform(chunk, 'utf8', (err) => (failure = err));
    if (failure && !this.stoppedFlag) this.fail(failure);
    this.out = [];
    // Rows taken are no longer needed; what is left is the start of a row still being read.
    const taken = this.rowEnd - this.windowStart;
    if (taken > 0) {
      this.window = this.window.subarray(taken);
      this.windowStart = this.rowEnd;
    }
  }

  /** The input has ended: the last row without a line end, or an unclosed quote. */
  end(out: InputRecord[]): void {
    if (this.stoppedFlag) return;
    if (this.head !== null) {
      const head = this.head;
      this.head = null;
      if (head.length > 0) {
        const rest = this.dropBom(head, out);
        if (this.stoppedFlag) return;
        if (rest.length > 0) this.push(rest, out);
        if (this.stoppedFlag) return;
      }
    }
    this.utf8.end();
    if (this.utf8.badByte !== null) {
      this.refuseBadByte(this.utf8.badByte, out);
      return;
    }
    this.out = out;
    let failure: Error | null | undefined;
    this.parser._flush((err) => (failure = err));
    if (failure && !this.stoppedFlag) this.fail(failure);
    this.out = [];
    this.stoppedFlag = true;
  }

  private dropBom(head: Buffer, out: InputRecord[]): Buffer {
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return head.subarray(3);
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
      out.push({ line: 1, error: 'not valid CSV (the file is UTF-16 text; save it as UTF-8)', fatal: true });
      this.stoppedFlag = true;
    }
    return head;
  }

  private onRow(fields: string[], end: number): void {
    const bytes = this.window;
    let i = this.rowEnd - this.windowStart;
    let stop = end - this.windowStart;
    // Empty lines before the row were skipped by the parser but are part of the slice: step over them.
    let line = this.line;
    while (i < stop && (bytes[i] === LF || bytes[i] === CR)) {
      if (!(bytes[i] === CR && bytes[i + 1] === LF)) line++;
      i++;
    }
    const startLine = line;
    // The row's own line end, if it has one (the last row of a file may not).
    let ended = false;
    if (stop > i && bytes[stop - 1] === LF) {
      stop--;
      ended = true;
      if (stop > i && bytes[stop - 1] === CR) stop--;
    } else if (stop > i && bytes[stop - 1] === CR) {
      stop--;
      ended = true;
    }
    let blank = true;
    for (let j = i; j < stop; j++) {
      const b = bytes[j]!;
      if (b === LF) line++;
      else if (b === CR) {
        if (bytes[j + 1] !== LF) line++;
      } else if (blank && b !== SPACE && b !== TAB) blank = false;
    }
    if (ended) line++;
    this.line = line;
    this.rowEnd = end;
    if (blank) return; // a whitespace-only line: skipped like an empty one

    if (this.header === null) {
      this.takeHeader(fields, startLine, bytes, i, stop);
      return;
    }
    if (fields.length !== this.header.length) {
      this.out.push({
        line: startLine,
        error: `not valid CSV (${plural(fields.length, 'field')} where the header has ${this.header.length})`,
        fatal: true,
        source: bytes.toString('utf8', i, stop),
      });
      this.stoppedFlag = true;
      return;
    }
    this.out.push({ line: startLine, value: this.toObject(fields), source: bytes.toString('utf8', i, stop) });
  }

  private takeHeader(names: string[], line: number, bytes: Buffer, from: number, to: number): void {
    const seen = new Map<string, number>();
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      let problem: string | undefined;
      if (name === '') problem = `field ${k + 1} of the CSV header has no name`;
      else if (seen.has(name)) {
        problem = `the CSV header names ${JSON.stringify(name)} twice (fields ${seen.get(name)! + 1} and ${k + 1})`;
      }
      if (problem !== undefined) {
        this.out.push({ line, error: `${problem}; every column needs its own name`, fatal: true });
        this.stoppedFlag = true;
        return;
      }
      seen.set(name, k);
    }
    this.header = names;
    this.hasProtoName = seen.has('__proto__');
    this.options.onCsvHeader?.(bytes.toString('utf8', from, to));
  }

  private toObject(fields: string[]): Record<string, unknown> {
    const header = this.header!;
    const types = this.options.csvTypes === true;
    const value: Record<string, unknown> = {};
    for (let k = 0; k < header.length; k++) {
      const field = types ? inferCsvValue(fields[k]!) : fields[k]!;
      // A column named __proto__ must become an own property, not the object's prototype.
      if (this.hasProtoName && header[k] === '__proto__') {
        Object.defineProperty(value, '__proto__', {
          value: field,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else value[header[k]!] = field;
    }
    return value;
  }

  private fail(err: Error): void {
    // The row being read starts after the previous one, past any empty lines.
    const bytes = this.window;
    let line = this.line;
    for (let i = this.rowEnd - this.windowStart; i < bytes.length && (bytes[i] === LF || bytes[i] === CR); i++) {
      if (!(bytes[i] === CR && bytes[i + 1] === LF)) line++;
    }
    if ((err as CsvError).code === 'CSV_MAX_RECORD_SIZE')
      this.out.push(tooLarge(line, 'CSV row', this.options.maxLineSize!));
    else this.out.push({ line, error: `not valid CSV (${describeCsvError(err, this.header)})`, fatal: true });
    this.stoppedFlag = true;
  }
}

const QUOTE = 0x22;

/**
 * countPayloads for CSV: data rows counted on raw bytes, parsing nothing (csv-parse would parse the whole file a
 * second time, on the thread that sends the requests). In valid CSV a quote toggles
 * "inside a quoted field" (a doubled quote toggles twice), and only a line end outside quotes ends a row; blank
 * and whitespace-only rows and the header are not counted, as the reader skips them. On a malformed file the
 * count runs past the row where the reader stops: it is only a progress total. Retains nothing, so the caller may
 * reuse its buffer.
 */
export class CsvRowCounter {
  /** Data rows so far, the last one included once it has a non-blank byte. */
  private rows = 0;
  private quoted = false;
  /** The current row has a byte other than space or tab (a quote counts). */
  private nonBlank = false;
  private atStart = true;
  private headerSeen = false;

  get count(): number {
    return this.rows;
  }

  push(bytes: Buffer): void {
    let i = 0;
    if (this.atStart && bytes.length > 0) {
      // A BOM may arrive split across reads only in pathological streams; files give it whole.
      this.atStart = false;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
    }
    const n = bytes.length;
    let { quoted, nonBlank } = this;
    for (; i < n; i++) {
      const b = bytes[i]!;
      if (quoted) {
        // Inside quotes only the closing quote matters: jump to the next one.
        const q = bytes.indexOf(QUOTE, i);
        if (q === -1) break;
        i = q;
        quoted = false;
        continue;
      }
      if (b === LF || b === CR) {
        nonBlank = false; // a row ends (the LF of a CRLF ends an empty one, which counts for nothing)
        continue;
      }
      if (b === QUOTE) quoted = true;
      else if (b === SPACE || b === TAB) continue;
      if (!nonBlank) {
        nonBlank = true;
        if (this.headerSeen) this.rows++;
        else this.headerSeen = true;
      }
    }
    this.quoted = quoted;
    this.nonBlank = nonBlank;
  }
}

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * --csv-types: a field becomes a number when it is written exactly as a JSON number (`42`, `-1.5`, `2e3`; not
 * `007`, `+1`, `.5`, `1,000` or ` 42`), except an integer beyond 2^53 - 1 (such as a long account number) or a
 * number a double cannot hold exactly (1e400, 0.1000000000000000001), which stay text; `true`/`True`/`TRUE` and
 * `false`/`False`/`FALSE` become booleans; everything else, the empty field included, stays a string.
 * Quoting does not matter: `"42"` is 42 too.
 */
export function inferCsvValue(text: string): string | number | boolean {
  const n = text.length;
  if (n === 0) return text;
  const c = text.charCodeAt(0);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    if (!NUMBER.test(text)) return text;
    // A number a double would change (a long account number, 1e400, 0.1000000000000000001) stays text.
    if (!isExactNumber(text)) return text;
    const number = Number(text);
    if (INTEGER.test(text) && !Number.isSafeInteger(number)) return text;
    return number;
  }
  if (n === 4 && (text === 'true' || text === 'True' || text === 'TRUE')) return true;
  if (n === 5 && (text === 'false' || text === 'False' || text === 'FALSE')) return false;
  return text;
}

/** csv-parse's error as a sentence without its location (the record's line is given apart). */
function describeCsvError(err: Error, header: string[] | null): string {
  const error = err as CsvError;
  const index = typeof error.index === 'number' ? error.index : null;
  const name = index === null ? undefined : header?.[index];
  const field =
    name !== undefined ? `field ${JSON.stringify(name)}` : index !== null ? `field ${index + 1}` : 'a field';
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field in this row is never closed; a quote inside a quoted field is written as two quotes ""';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `text follows the closing quote of ${field}; a quote inside a quoted field is written as two quotes ""`;
    case 'INVALID_OPENING_QUOTE':
      return `a quote inside the unquoted ${field}; quote the whole field and double the quote, as in "5'10"""`;
    default:
      return err.message;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
