// `--out results.ndjson.gz`: results written as a series of gzip members, one per flush of the line writer (once
// per event-loop turn), each complete when its write returns. gzip readers (gunzip, zcat, Python's gzip, Node's
// zlib) read concatenated members as one stream, so the file is an ordinary .gz; and a `kill -9` can tear at most
// the member being written, which the reader here finds and --resume cuts off, as it cuts a torn line off a plain
// file. Appending is adding members: nothing written is ever rewritten.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { BatchpostError } from '../engine/errors.js';

/** Whether results at `path` are gzip: by its name, as gzip(1) and curl's --compressed users expect. */
export const isGzipPath = (path: string): boolean => /\.gz$/i.test(path);

/** One complete gzip member holding `text`. */
export const gzipMember = (text: string | Buffer): Buffer => zlib.gzipSync(text);

/** Where reading a .gz results file stopped: at its end, or at the start of a member a crash tore. */
export interface GzipScan {
  /** Byte offset of a torn last member (cut it off to repair the file), or null when every member is whole. */
  tornAt: number | null;
}

const CHUNK_BYTES = 1 << 20;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
const FHCRC = 2;

/**
 * The decompressed contents of each whole member of the gzip file at `path`, in order. A last member cut short
 * (a crash mid-write) is not yielded: `scan.tornAt` says where it starts. Bytes that are not gzip, or a torn
 * member followed by more data, are RESULTS_CORRUPT. Reads a chunk at a time: memory holds one member.
 */
export async function* gunzipMembers(path: string, scan: GzipScan, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const fd = await fs.promises.open(path, 'r');
  try {
    let window = Buffer.alloc(0);
    let windowAt = 0; // file offset of window[0]
    let eof = false;
    const more = async (): Promise<void> => {
      signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await fd.read(buf, 0, CHUNK_BYTES, windowAt + window.length);
      if (bytesRead === 0) eof = true;
      else
        window = window.length === 0 ? buf.subarray(0, bytesRead) : Buffer.concat([window, buf.subarray(0, bytesRead)]);
    };
    for (;;) {
      if (window.length === 0) await more();
      if (window.length === 0 && eof) break;
      const member = readMember(window);
      if (member === null) {
        if (eof) {
          scan.tornAt = windowAt;
          return;
        }
        await more();
        continue;
      }
      if (member === 'not gzip') throw notGzip(path, windowAt);
      window = window.subarray(member.length);
      windowAt += member.length;
      if (member.data.length > 0) yield member.data;
    }
    scan.tornAt = null;
  } finally {
    await fd.close();
  }
}

/** The member at the start of `buf` and its length in bytes; null when `buf` ends before it does. */
function readMember(buf: Buffer): { data: Buffer; length: number } | null | 'not gzip' {
  if (buf.length < 10) return buf.length > 0 && buf[0] !== 0x1f ? 'not gzip' : null;
  if (buf[0] !== 0x1f || buf[1] !== 0x8b || buf[2] !== 8) return 'not gzip';
  const flags = buf[3]!;
  let at = 10;
  if (flags & FEXTRA) {
    if (buf.length < at + 2) return null;
    at += 2 + buf.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = buf.indexOf(0, at);
    if (zero === -1) return null;
    at = zero + 1;
  }
  if (flags & FHCRC) at += 2;
  if (buf.length <= at) return null;
  let inflated: { buffer: Buffer; engine: zlib.InflateRaw };
  try {
    inflated = zlib.inflateRawSync(buf.subarray(at), { info: true }) as unknown as typeof inflated;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') return null; // ends before the member does
    return 'not gzip';
  }
  const end = at + inflated.engine.bytesWritten + 8;
  if (buf.length < end) return null;
  if (buf.readUInt32LE(end - 4) !== inflated.buffer.length % 2 ** 32) return 'not gzip';
  return { data: inflated.buffer, length: end };
}

function notGzip(path: string, offset: number): BatchpostError {
  return new BatchpostError(
    'RESULTS_CORRUPT',
    `${path}: not a gzip member at byte ${offset}`,
    'Results named *.gz are gzip; fix or move that file, then run again.',
  );
}

/**
 * The start of a .gz file's contents, as far as `head` (its first bytes) holds them; '' when it is not gzip. A
 * member cut off by the end of `head` gives what it holds so far.
 */
export function gunzipHead(head: Buffer): string {
  try {
    return zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
  } catch {
    return '';
  }
}

/** A results file's contents a chunk at a time: decompressed when it is a .gz (see gunzipMembers). */
export function resultChunks(path: string, scan: GzipScan, signal?: AbortSignal): AsyncIterable<Buffer> {
  if (isGzipPath(path)) return gunzipMembers(path, scan, signal);
  scan.tornAt = null;
  return fs.createReadStream(path, { highWaterMark: CHUNK_BYTES, signal }) as AsyncIterable<Buffer>;
}
