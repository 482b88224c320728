// Reads a batch input file line by line from a byte offset, telling where each line ends, so the coordinator can
// stop anywhere and a restarted serve goes on from the offset it stored.
import fs from 'node:fs';

export interface FileLine {
  /** 1-based line number in the file. */
  n: number;
  text: string;
  /** Byte offset just past this line's newline. */
  end: number;
}

export async function* readLines(
  file: string,
  from = 0,
  firstLine = 1,
  signal?: AbortSignal,
): AsyncGenerator<FileLine> {
  const stream = fs.createReadStream(file, { start: from, highWaterMark: 256 * 1024 });
  let carry: Buffer[] = [];
  let carryLen = 0;
  let offset = from;
  let n = firstLine;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (signal?.aborted) return;
      let start = 0;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, i);
        const buf = carryLen === 0 ? part : Buffer.concat([...carry, part]);
        offset += carryLen + part.length + 1;
        carry = [];
        carryLen = 0;
        yield { n: n++, text: buf.toString('utf8'), end: offset };
        start = i + 1;
      }
      if (start < chunk.length) {
        carry.push(chunk.subarray(start));
        carryLen += chunk.length - start;
      }
    }
    if (carryLen > 0) yield { n, text: Buffer.concat(carry).toString('utf8'), end: offset + carryLen };
  } finally {
    stream.destroy();
  }
}

/** A line holding only whitespace (a trailing newline's empty line, say): skipped, not a request. */
export const isBlank = (text: string): boolean => /^\s*$/.test(text);
