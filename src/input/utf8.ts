// JSON text must be UTF-8 (RFC 8259), and a payload is sent as the bytes it was read from: a byte that is not
// UTF-8 would be replaced by U+FFFD on decoding, so a different payload would go out. The reader refuses the line
// instead (INPUT_INVALID_UTF8). Checked per chunk with the native isUtf8; only a chunk that fails is scanned here.
import { isUtf8 } from 'node:buffer';

/** Splits a stream of byte chunks into valid UTF-8 text, carrying a character cut between two chunks. */
export class Utf8Chunks {
  /** The start of a character whose other bytes are in the next chunk (at most 3 bytes). */
  private pending: Buffer | null = null;
  /** Set when the bytes are not UTF-8: the text of the valid bytes before the first bad one was returned. */
  badByte: number | null = null;

  /** The text of `chunk`, or of its valid start when it holds a bad byte (then `badByte` is set). */
  decode(chunk: Buffer): string {
    return this.validBytes(chunk).toString('utf8');
  }

  /** The whole characters of `chunk` (with any carried over), cut before a bad byte (then `badByte` is set). */
  validBytes(chunk: Buffer): Buffer {
    const bytes = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const end = completeLength(bytes);
    this.pending = end === bytes.length ? null : Buffer.from(bytes.subarray(end));
    if (isUtf8(bytes.subarray(0, end))) return bytes.subarray(0, end);
    const bad = firstInvalid(bytes, end);
    this.badByte = bytes[bad]!;
    this.pending = null;
    return bytes.subarray(0, bad);
  }

  /** The input ended: a character left incomplete is a bad byte. */
  end(): void {
    if (this.pending !== null) this.badByte = this.pending[0]!;
    this.pending = null;
  }
}

export function invalidUtf8Message(byte: number, reader = 'JSON text must be'): string {
  const hex = byte.toString(16).padStart(2, '0');
  return `not valid UTF-8 (byte 0x${hex}), which ${reader}; convert the file, e.g. iconv -f latin1 -t utf-8`;
}

/** Length of `b` without a multi-byte character cut short at its end. */
function completeLength(b: Buffer): number {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k]!;
    if (c < 0x80) return n;
    if (c >= 0xc0) {
      const size = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return size > k ? n - k : n;
    }
  }
  return n;
}

/** Offset of the first byte in b[0, end) that does not start a valid UTF-8 character (end when none). */
function firstInvalid(b: Buffer, end: number): number {
  let i = 0;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let size: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) size = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      size = 3;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      size = 4;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // beyond U+10FFFF
    } else return i;
    if (i + size > end) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < size; k++) {
      const ck = b[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += size;
  }
  return end;
}
