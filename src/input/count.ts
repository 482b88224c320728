// countPayloads: the total for a progress bar, read ahead of the run. It streams the file through one reused
// buffer and parses nothing: NDJSON lines are counted on raw bytes (every byte that matters is ASCII, and
// UTF-8 never uses ASCII bytes inside a multi-byte character, so no decoding is needed), and array elements
// by the same scanner the reader uses, told to keep no text.

import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { BatchpostError } from '../engine/errors.js';
import { isGzip } from './gzip.js';
import { ArraySplitter } from './json-array.js';
import type { PayloadFormat } from './types.js';

export interface CountOptions {
  format?: PayloadFormat;
  /** Stops the count (the run may finish first); the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

const CHUNK = 256 * 1024;

/**
 * Payloads in the file at `path`: non-blank lines (NDJSON), top-level elements (JSON array) or data rows (CSV:
 * line ends outside quotes, header and blank rows left out; see CsvRowCounter).
 */
export async function countPayloads(path: string, options: CountOptions = {}): Promise<number> {
  const { signal } = options;
  signal?.throwIfAborted();
  const unreadable = (err: NodeJS.ErrnoException): never => {
    throw new BatchpostError('INPUT_NOT_FOUND', `cannot read ${path} (${err.code ?? err.message})`);
  };
  // Only a regular file can be read twice: counting a pipe (<(gunzip -c …), /dev/stdin) would steal the
  // reader's data. Checked before opening, which on a FIFO would wait for a writer. Not an input error:
  // the caller simply runs without a known total.
  if (!(await stat(path).catch(unreadable)).isFile()) {
    throw new Error(`${path} is not a regular file, so its payloads cannot be counted ahead of the run`);
  }
  const file = await open(path, 'r').catch(unreadable);
  try {
    const chunks = await chunksOf(file);
    if (options.format === 'csv') return await countCsv(chunks, signal);
    let format = options.format ?? 'auto';
    let atStart = true;
    const lines = new LineCounter();
    let array: { splitter: ArraySplitter; decoder: StringDecoder } | undefined;
    for await (let bytes of chunks) {
      signal?.throwIfAborted();
      if (atStart) {
        atStart = false;
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      }
      if (format === 'auto') {
        // Whitespace-only chunks hold nothing either counter would count, so they can simply be passed by.
        const first = firstNonSpaceByte(bytes);
        if (first === -1) continue;
        format = bytes[first] === 0x5b ? 'json' : 'ndjson';
      }
      if (format === 'ndjson') lines.push(bytes);
      else {
        array ??= { splitter: new ArraySplitter(false), decoder: new StringDecoder('utf8') };
        array.splitter.push(array.decoder.write(bytes), []);
        if (array.splitter.stopped) break;
      }
    }
    return format === 'ndjson' ? lines.count : (array?.splitter.count ?? 0);
  } finally {
    await file.close();
  }
}

/**
 * The file's bytes in chunks, decompressed when it is gzip (the payloads of a .gz are counted as they stream out of
 * zlib: the count costs a second decompression, beside the run's). A plain file's chunks share one buffer: each is
 * used before the next is read.
 */
async function chunksOf(file: FileHandle): Promise<AsyncIterable<Buffer>> {
  const magic = Buffer.alloc(2);
  const { bytesRead } = await file.read(magic, 0, 2, 0);
  if (isGzip(magic.subarray(0, bytesRead))) {
    return file.createReadStream({ start: 0, autoClose: false, highWaterMark: CHUNK }).pipe(createGunzip());
  }
  return (async function* () {
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  })();
}

async function countCsv(chunks: AsyncIterable<Buffer>, signal: AbortSignal | undefined): Promise<number> {
  const { CsvRowCounter } = await import('./csv.js');
  const rows = new CsvRowCounter();
  for await (const bytes of chunks) {
    signal?.throwIfAborted();
    rows.push(bytes);
  }
  return rows.count;
}

/** Counts lines holding something other than JSON whitespace, fed raw bytes in order. */
class LineCounter {
  count = 0;
  /** Whether the current line already had a non-whitespace byte (and was counted). */
  private counted = false;

  push(bytes: Buffer): void {
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      if (!this.counted) {
        const b = bytes[i]!;
        if (b === 0x0a || b === 0x20 || b === 0x0d || b === 0x09) {
          i++;
          continue;
        }
        this.counted = true;
        this.count++;
      }
      // The rest of a counted line does not matter: jump to its end.
      const nl = bytes.indexOf(0x0a, i);
      if (nl === -1) return;
      this.counted = false;
      i = nl + 1;
    }
  }
}

function firstNonSpaceByte(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x0a && b !== 0x20 && b !== 0x0d && b !== 0x09) return i;
  }
  return -1;
}
