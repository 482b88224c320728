// readPayloads: decoded text in (gzip decompressed first: gzip.ts), records out, one at a time. An async generator
// so that the consumer's pace is the backpressure: the next chunk is read only when the records of the previous one
// have been taken.

import type { CsvReadOptions } from './csv.js';
import { gunzipIfGzip } from './gzip.js';
import { ArraySplitter } from './json-array.js';
import { NdjsonSplitter } from './ndjson.js';
import { BOM, firstNonSpace } from './text.js';
import type { PayloadFormat, InputRecord, Splitter } from './types.js';
import { invalidUtf8Message, Utf8Chunks } from './utf8.js';

export interface ReadOptions extends CsvReadOptions {
  /**
   * auto (default): a JSON array when the first non-whitespace character is '[', else NDJSON. csv: a header row
   * then one record per row, `value` an object keyed by the header's names and `source` the row's exact text
   * (see csv.ts); csvTypes and onCsvHeader apply to it only.
   */
  format?: PayloadFormat;
  /** Told once which format the input turned out to be (auto detection), before its first record. */
  onFormat?: (format: 'ndjson' | 'json') => void;
}

// Marks the iterables readPayloads returns: runBatch sends their records' source text, while the items of any other
// iterable are payloads, whatever their shape. One mark per iterable, nothing per record.
const RECORDS: unique symbol = Symbol('batchpost.records');

export function readPayloads(
  source: AsyncIterable<Buffer | string>,
  options: ReadOptions = {},
): AsyncGenerator<InputRecord> {
  return Object.assign(readRecords(source, options), { [RECORDS]: true });
}

/** Whether `payloads` came from readPayloads, so its items are InputRecords rather than payloads. */
export function isRecordStream(payloads: unknown): payloads is AsyncIterable<InputRecord> {
  return typeof payloads === 'object' && payloads !== null && (payloads as { [RECORDS]?: true })[RECORDS] === true;
}

async function* readRecords(input: AsyncIterable<Buffer | string>, options: ReadOptions): AsyncGenerator<InputRecord> {
  const source = gunzipIfGzip(input);
  const out: InputRecord[] = [];
  if (options.format === 'csv') {
    // CSV is parsed from bytes (csv-parse decodes each field), so text chunks are encoded back, carrying a
    // surrogate pair split between two of them over to the next.
    const { CsvSplitter } = await import('./csv.js');
    const csv = new CsvSplitter(options);
    let highSurrogate = '';
    for await (const chunk of source) {
      let bytes: Buffer;
      if (typeof chunk === 'string') {
        const text = highSurrogate + chunk;
        const last = text.charCodeAt(text.length - 1);
        highSurrogate = last >= 0xd800 && last <= 0xdbff ? text.slice(-1) : '';
        bytes = Buffer.from(highSurrogate ? text.slice(0, -1) : text, 'utf8');
      } else {
        bytes = highSurrogate ? Buffer.concat([Buffer.from(highSurrogate, 'utf8'), chunk]) : chunk;
        highSurrogate = '';
      }
      csv.push(bytes, out);
      for (let i = 0; i < out.length; i++) yield out[i]!;
      out.length = 0;
      if (csv.stopped) return;
    }
    if (highSurrogate) csv.push(Buffer.from(highSurrogate, 'utf8'), out);
    csv.end(out);
    for (let i = 0; i < out.length; i++) yield out[i]!;
    return;
  }
  const route = router(options.format ?? 'auto', options.maxLineSize ?? Infinity);
  // One decoder for the whole stream: it carries a UTF-8 character split across chunks into the next one, and
  // finds a byte that is not UTF-8.
  const decoder = new Utf8Chunks();
  let splitter: Splitter | undefined;
  // Records are yielded from a plain loop: `yield*` over a sync iterable costs several promises per record.
  const announce = (chosen: Splitter | undefined) => {
    if (chosen !== undefined && splitter === undefined)
      options.onFormat?.(chosen instanceof ArraySplitter ? 'json' : 'ndjson');
    return chosen;
  };
  for await (const chunk of source) {
    if (typeof chunk === 'string') decoder.end();
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk);
    splitter = announce(decoder.badByte === null ? route(text, out) : route.stopAt(text, decoder.badByte, out));
    for (let i = 0; i < out.length; i++) yield out[i]!;
    out.length = 0;
    if (splitter?.stopped) return; // leaving the loop closes the source
  }
  decoder.end();
  if (decoder.badByte !== null) splitter = announce(route.stopAt('', decoder.badByte, out));
  else splitter?.end(out);
  for (let i = 0; i < out.length; i++) yield out[i]!;
}

/**
 * Returns a function that feeds each decoded piece of text to the right splitter, choosing it on the first
 * non-whitespace character when the format is auto; it returns the splitter once chosen. The input's BOM
 * is dropped. Until the choice, leading whitespace is held back as a count of whole lines plus the start of
 * the current line, so that line numbers come out right whichever format it turns out to be.
 */
interface Route {
  (text: string, out: InputRecord[]): Splitter | undefined;
  /** Feeds the valid `text` before a bad byte, then stops the input at the line holding that byte. */
  stopAt(text: string, byte: number, out: InputRecord[]): Splitter;
}

function router(format: Exclude<PayloadFormat, 'csv'>, maxSize: number): Route {
  let splitter: Splitter | undefined =
    format === 'ndjson'
      ? new NdjsonSplitter(0, maxSize)
      : format === 'json'
        ? new ArraySplitter(true, 0, maxSize)
        : undefined;
  let atStart = true;
  let blankLines = 0;
  let heldBack = '';
  const route = (text: string, out: InputRecord[]): Splitter | undefined => {
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    if (!splitter) {
      const first = firstNonSpace(text);
      const lastNewline = text.lastIndexOf('\n', first === -1 ? text.length : first);
      if (lastNewline !== -1) {
        for (let i = text.indexOf('\n'); i !== -1 && i <= lastNewline; i = text.indexOf('\n', i + 1)) blankLines++;
        heldBack = '';
      }
      if (first === -1) {
        heldBack += text.slice(lastNewline + 1);
        return undefined;
      }
      const isArray = text.charCodeAt(first) === 0x5b;
      splitter = isArray ? new ArraySplitter(true, blankLines, maxSize) : new NdjsonSplitter(blankLines, maxSize);
      text = heldBack + text.slice(lastNewline + 1);
    }
    splitter.push(text, out);
    return splitter;
  };
  const stopAt = (text: string, byte: number, out: InputRecord[]): Splitter => {
    let chosen = route(text, out);
    if (chosen === undefined) {
      // Only whitespace before the bad byte, which is no '[': the input would have been NDJSON.
      chosen = splitter = new NdjsonSplitter(blankLines, maxSize);
      chosen.push(heldBack, out);
    }
    if (!chosen.stopped) chosen.refuse(out, invalidUtf8Message(byte), 'INPUT_INVALID_UTF8');
    return chosen;
  };
  return Object.assign(route, { stopAt });
}
