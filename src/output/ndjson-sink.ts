import type { Result, Sink } from '../engine/types.js';
import type { LineWriter } from './line-writer.js';
import { resultToJson } from './result-json.js';

/** One JSON line per result, in completion order: the format --resume and --retry-failed read back. */
export function createNdjsonSink(writer: LineWriter): Sink {
  return {
    write(result: Result): void {
      writer.write(resultToJson(result) + '\n');
    },
    close: () => writer.close(),
  };
}
