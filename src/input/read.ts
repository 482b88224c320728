// readPayloads: decoded text in, records out, one at a time. An async generator so that the consumer's pace
// is the backpressure: the next chunk is read only when the records of the previous one have been taken.

import { StringDecoder } from 'node:string_decoder';
import { ArraySplitter } from './json-array.js';
import { NdjsonSplitter } from './ndjson.js';
import { BOM, firstNonSpace } from './text.js';
import type { PayloadFormat, InputRecord, Splitter } from './types.js';

export interface ReadOptions {
  /** auto (default): a JSON array when the first non-whitespace character is '[', else NDJSON. */
  format?: PayloadFormat;
}

export async function* readPayloads(
  source: AsyncIterable<Buffer | string>,
  options: ReadOptions = {},
): AsyncGenerator<InputRecord> {
  const route = router(options.format ?? 'auto');
  // One decoder for the whole stream: it carries a UTF-8 character split across chunks into the next one.
  const decoder = new StringDecoder('utf8');
  const out: InputRecord[] = [];
  let splitter: Splitter | undefined;
  // Records are yielded from a plain loop: `yield*` over a sync iterable costs several promises per record.
  for await (const chunk of source) {
    splitter = route(typeof chunk === 'string' ? decoder.end() + chunk : decoder.write(chunk), out);
    for (let i = 0; i < out.length; i++) yield out[i]!;
    out.length = 0;
    if (splitter?.stopped) return; // leaving the loop closes the source
  }
  splitter = route(decoder.end(), out);
  splitter?.end(out);
  for (let i = 0; i < out.length; i++) yield out[i]!;
}

/**
 * Returns a function that feeds each decoded piece of text to the right splitter, choosing it on the first
 * non-whitespace character when the format is auto; it returns the splitter once chosen. The input's BOM
 * is dropped. Until the choice, leading whitespace is held back as a count of whole lines plus the start of
 * the current line, so that line numbers come out right whichever format it turns out to be.
 */
function router(format: PayloadFormat): (text: string, out: InputRecord[]) => Splitter | undefined {
  let splitter: Splitter | undefined =
    format === 'ndjson' ? new NdjsonSplitter() : format === 'json' ? new ArraySplitter(true) : undefined;
  let atStart = true;
  let blankLines = 0;
  let heldBack = '';
  return (text, out) => {
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
      splitter = isArray ? new ArraySplitter(true, blankLines) : new NdjsonSplitter(blankLines);
      text = heldBack + text.slice(lastNewline + 1);
    }
    splitter.push(text, out);
    return splitter;
  };
}
