// A batch body is checked before it is parsed: UTF-8 (JSON text must be; a bad byte would be replaced by U+FFFD
// and a different payload sent, so it is refused as `run` refuses it), and nesting depth. JSON.parse takes any
// depth, but a body nested millions of levels deep takes seconds and gigabytes to parse and the values it yields
// break every recursive step after it; the scan refuses it at the first level past the limit. The scan is a plain
// byte loop that hands the event loop back between slices, so other requests (/healthz) are answered while large
// bodies are checked.
import { isUtf8 } from 'node:buffer';
import { Utf8Chunks } from '../input/utf8.js';
import { HttpError } from './reply.js';

/** The deepest nesting of arrays and objects a batch document may have, counted from the document itself. */
export const MAX_BATCH_DEPTH = 1000;

/** Bytes scanned between two turns of the event loop. */
const SLICE = 256 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

/** The body as text: a 400 INPUT_INVALID_UTF8 or BATCH_TOO_DEEP when it is not UTF-8 or nests too deeply. */
export async function batchText(body: Buffer): Promise<string> {
  if (!isUtf8(body)) throw notUtf8(body);
  await checkDepth(body);
  return body.toString('utf8');
}

function notUtf8(body: Buffer): HttpError {
  const chunks = new Utf8Chunks();
  const valid = chunks.decode(body);
  chunks.end();
  const byte = (chunks.badByte ?? 0).toString(16).padStart(2, '0');
  const line = valid.split('\n').length;
  return new HttpError(
    400,
    'INPUT_INVALID_UTF8',
    `line ${line}: not valid UTF-8 (byte 0x${byte}); a batch is JSON text, which must be UTF-8`,
  );
}

async function checkDepth(body: Buffer): Promise<void> {
  let depth = 0;
  let inString = false;
  let line = 1;
  for (let start = 0; start < body.length; start += SLICE) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    const end = Math.min(body.length, start + SLICE);
    for (let i = start; i < end; i++) {
      const c = body[i]!;
      if (inString) {
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
        if (++depth > MAX_BATCH_DEPTH) throw tooDeep(line);
      } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
      else if (c === NEWLINE) line++;
    }
  }
}

function tooDeep(line: number): HttpError {
  return new HttpError(
    400,
    'BATCH_TOO_DEEP',
    `line ${line}: arrays and objects nested more than ${MAX_BATCH_DEPTH} levels deep; this server takes at most ${MAX_BATCH_DEPTH}`,
  );
}
