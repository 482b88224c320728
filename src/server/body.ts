// Reading a batch off the wire: its media type, and its bytes up to --max-bytes. A body over the limit is refused
// as soon as it is known to be (from Content-Length, before anything is read, or mid-stream), never buffered whole.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './reply.js';

export interface MediaType {
  /** Lower case, without parameters: "application/json". */
  type: string;
  charset: string | null;
}

export function mediaTypeOf(value: string | undefined): MediaType | null {
  if (value === undefined || value.trim() === '') return null;
  const [type, ...params] = value.split(';');
  let charset: string | null = null;
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset' && v !== undefined)
      charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type!.trim().toLowerCase(), charset };
}

export const isJsonType = (type: string): boolean => type === 'application/json' || type.endsWith('+json');

const NDJSON_TYPES: ReadonlySet<string> = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);
export const isNdjsonType = (type: string): boolean => NDJSON_TYPES.has(type);

/** The batch's media type, refused (415) unless it is one of `accepted`; the charset, when named, must be UTF-8. */
export function requireMediaType(
  req: IncomingMessage,
  accepted: (type: string) => boolean,
  expected: string,
): MediaType {
  const media = mediaTypeOf(req.headers['content-type']);
  if (media === null || !accepted(media.type)) {
    const got = media === null ? 'no Content-Type' : `Content-Type ${media.type}`;
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `${got}: send ${expected}`);
  }
  if (media.charset !== null && media.charset !== 'utf-8' && media.charset !== 'utf8') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${media.charset}: batches are read as UTF-8`);
  }
  return media;
}

const tooLarge = (maxBytes: number, what: string) =>
  new HttpError(
    413,
    'BATCH_TOO_LARGE',
    `${what} is larger than the ${formatBytes(maxBytes)} this server takes (--max-bytes)`,
  );

export const requestTimedOut = (timeoutMs: number): HttpError =>
  new HttpError(
    408,
    'REQUEST_TIMEOUT',
    `the batch did not arrive within ${timeoutMs < 1000 ? `${timeoutMs}ms` : `${timeoutMs / 1000}s`} (--request-timeout)`,
  );

/** The client went away while its batch was arriving: there is nobody to answer. */
export class ClientClosed extends Error {}

/**
 * The whole body, or a 413 as soon as it passes `maxBytes`, or a 408 when it has not all arrived `timeoutMs` after
 * the headers (a slow client must not hold memory and a slot for ever). Answers `Expect: 100-continue` only for a
 * body it will read.
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  timeoutMs = Infinity,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `the body (Content-Length ${declared})`));
  }
  if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          req.pause(); // the answer closes the connection: what is left of the body is never read
          done(requestTimedOut(timeoutMs));
        }, timeoutMs)
      : null;
    const done = (err: Error | null) => {
      if (timer !== null) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause(); // the answer closes the connection: what is left of the body is never read
        done(tooLarge(maxBytes, 'the body'));
      } else chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onError = (err: Error) => done(new ClientClosed(`the batch could not be read: ${err.message}`));
    const onClose = () => done(new ClientClosed('the client closed the connection before the whole batch arrived'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** "10 MiB", "512 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** "10mb", "512kb", "1gb", "2048" (bytes); k/m/g are binary (1 KiB = 1024 bytes). Null when malformed. */
export function parseBytes(value: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(value);
  if (!m) return null;
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const n = Math.floor(Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit]!);
  return n >= 1 ? n : null;
}
