// gzip input, told by its content (the magic bytes 1f 8b), not its name: `batchpost run export.ndjson.gz`, or a
// gzip stream on stdin. Decompressed as it streams (zlib's Gunzip behind the reader's backpressure), so memory stays
// flat whatever the size; members appended one after another (`cat a.gz b.gz`) read as one input, as gunzip does.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BatchpostError } from '../engine/errors.js';

/** Whether `bytes` start like gzip. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * `source` as it is, or decompressed when its first bytes are gzip's. Text chunks (a string source) are never gzip.
 * A corrupt or truncated stream ends the input with INPUT_INVALID_GZIP.
 */
export async function* gunzipIfGzip(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer | string> {
  const it = source[Symbol.asyncIterator]();
  const rest: AsyncIterable<Buffer | string> = { [Symbol.asyncIterator]: () => it };
  // Closed here unless the gzip pipeline took it over (which closes it when destroyed). Not awaited: a return
  // queued behind a read of a silent pipe would never settle.
  let ours = true;
  try {
    let head: Buffer | string | undefined;
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      const chunk = next.value;
      head = head === undefined || typeof chunk === 'string' ? chunk : Buffer.concat([head as Buffer, chunk]);
      if (typeof head === 'string' || head.length >= 2) break;
    }
    if (head === undefined) return;
    if (typeof head === 'string' || !isGzip(head)) {
      yield head;
      for await (const chunk of rest) yield chunk;
      return;
    }
    ours = false;
    yield* gunzip(head, rest);
  } finally {
    if (ours) void it.return?.()?.catch(() => {});
  }
}

async function* gunzip(head: Buffer, rest: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  const compressed = Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of rest) yield chunk;
    })(),
  );
  const unzip = createGunzip();
  compressed.on('error', (err) => unzip.destroy(err));
  compressed.pipe(unzip);
  try {
    for await (const chunk of unzip) yield chunk as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new BatchpostError(
        'INPUT_INVALID_GZIP',
        `the input is gzip that does not decompress (${(err as Error).message})`,
      );
    }
    throw err;
  } finally {
    compressed.destroy();
    unzip.destroy();
  }
}
