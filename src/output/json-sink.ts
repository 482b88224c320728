import type { Result, Sink } from '../engine/types.js';
import type { LineWriter } from './line-writer.js';
import { resultBodyToJson } from './result-json.js';

/**
 * `--format json`: one object keyed by id, streamed entry by entry so memory stays flat; it only becomes valid
 * JSON when close() writes the closing brace. Not resumable: a crashed run leaves an unterminated object, and
 * --resume reads NDJSON only. One entry per line keeps the file greppable.
 */
export function createJsonSink(writer: LineWriter): Sink {
  let first = true;
  let closing: Promise<void> | null = null;
  writer.write('{');
  return {
    write(result: Result): void {
      const entry = JSON.stringify(result.id) + ':' + resultBodyToJson(result);
      writer.write(first ? '\n' + entry : ',\n' + entry);
      first = false;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        writer.write(first ? '}\n' : '\n}\n');
        await writer.close();
      })();
      return closing;
    },
  };
}
