// --failed FILE: the payloads of the failed requests, in the input's format and exactly as they were read, so
// that `batchpost run FILE …` re-sends just those. Built on the results file's line writer, so it is as
// crash-safe: what write() takes reaches the kernel within the event-loop turn.
//
//   ndjson  one payload per line;
//   json    a JSON array, one element per line group: `[\n<a>,\n<b>\n]\n` (`[]\n` when empty). Streamed: the
//           closing bracket comes with close(), so a crashed run leaves the elements but no `]`;
//   csv     the input's header row, then one row per payload (the header alone when empty).
//
// The text written is the record's own: `source` for CSV rows, `raw` for JSON and NDJSON, so a payload goes back
// out byte for byte (number formatting, key order, whitespace inside the value). A record without it (built
// from a value, or a multi-line JSON element bound for NDJSON) is serialised from its value instead.
//
// A name ending in .gz is written gzip, as --out is (gzip-file.ts): one whole member per flush, so a crashed run
// leaves a valid .gz, and `batchpost run FILE.gz` reads it back (input is told gzip by its magic bytes).
import { parseCsv, stringifyCsv } from './csv-lib.js';
import type { InputRecord } from '../engine/types.js';
import { jsonText } from '../util/exact-json.js';
import { isGzipPath } from './gzip-file.js';
import { createLineWriter } from './line-writer.js';

export type FailedFormat = 'ndjson' | 'json' | 'csv';

export interface FailedWriterOptions {
  /** csv: the input's header row as read (readPayloads' onCsvHeader), written first. Required for csv. */
  csvHeader?: string;
}

export interface FailedWriter {
  /** Queues one payload; it reaches the kernel this event-loop turn. Throws after close(). */
  write(record: InputRecord): void;
  /** Payloads written so far. */
  readonly count: number;
  /** Hands everything queued to the kernel now: for signal handlers and exit paths. */
  flushSync(): void;
  /** The first write failure, or null (see LineWriter.error). */
  readonly error: Error | null;
  /** Called once with the first write failure (see LineWriter.onError). */
  onError(callback: (error: Error) => void): void;
  /** Finishes the file (the `]` of json) and releases it. Idempotent: every call returns the same promise. */
  close(): Promise<void>;
}

/** Creates (or truncates) `path` now, so that even a run with no failures leaves a valid, empty file. */
export function createFailedWriter(
  path: string,
  format: FailedFormat,
  options: FailedWriterOptions = {},
): FailedWriter {
  const { csvHeader } = options;
  if (format === 'csv' && csvHeader === undefined) {
    throw new Error('a CSV failures file needs the input header row (options.csvHeader)');
  }
  const gzip = isGzipPath(path);
  const writer = createLineWriter({ path, append: false, role: 'the failed payloads', gzip });
  // An empty member: a .gz with no failures in it is still a valid (empty) gzip file, not zero bytes.
  if (gzip) writer.write('');
  let count = 0;
  let closing: Promise<void> | null = null;

  let text: (record: InputRecord) => string;
  if (format === 'csv') {
    writer.write(csvHeader + '\n');
    let columns: string[] | undefined;
    text = (record) => {
      if (record.source !== undefined) return record.source;
      columns ??= parseCsv(csvHeader!, { bom: true })[0] ?? [];
      return csvRow(columns, record);
    };
  } else if (format === 'json') {
    text = (record) => record.raw ?? serialise(record);
  } else {
    text = (record) => (record.raw !== undefined && !/[\r\n]/.test(record.raw) ? record.raw : serialise(record));
  }

  return {
    write(record: InputRecord): void {
      const payload = text(record);
      if (format === 'json') writer.write((count === 0 ? '[\n' : ',\n') + payload);
      else writer.write(payload + '\n');
      count++;
    },

    get count(): number {
      return count;
    },

    flushSync: () => writer.flushSync(),

    get error(): Error | null {
      return writer.error;
    },

    onError: (callback) => writer.onError(callback),

    close(): Promise<void> {
      closing ??= (async () => {
        if (format === 'json') writer.write(count === 0 ? '[]\n' : '\n]\n');
        await writer.close();
      })();
      return closing;
    },
  };
}

function serialise(record: InputRecord): string {
  const json = record.value === undefined ? undefined : jsonText(record.value);
  if (json === undefined) throw new Error(`the payload from line ${record.line} has no text or value to write`);
  return json;
}

/** A field of a parsed payload: a JSON value (an object or array is written as JSON text). */
type JsonCell = string | number | boolean | object | null | undefined;

/** A CSV row for a record that has a value but no source: the value's fields in header order. */
function csvRow(columns: string[], record: InputRecord): string {
  const value = record.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`the payload from line ${record.line} is not an object, so it cannot become a CSV row`);
  }
  const cells = columns.map((name) => {
    const cell = (value as Record<string, JsonCell>)[name];
    if (cell === undefined || cell === null) return '';
    return typeof cell === 'object' ? JSON.stringify(cell) : String(cell);
  });
  return csvCells(cells);
}

function csvCells(cells: string[]): string {
  // Empty cells quoted, so that a one-column row of "" is not written as a blank line (which readers skip).
  return stringifyCsv([cells], { record_delimiter: 'unix', quoted_empty: true }).replace(/\n$/, '');
}
