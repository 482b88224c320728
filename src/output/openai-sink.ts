import type { Result, Sink } from '../engine/types.js';
import type { LineWriter } from './line-writer.js';
import { openAiLine, openAiLineToJson } from './openai-line.js';

/** `--format openai`: one OpenAI Batch output line per result (openai-line.ts); resumable like ndjson. */
export function createOpenAiSink(writer: LineWriter): Sink {
  return {
    write(result: Result): void {
      writer.write(openAiLineToJson(openAiLine(result)) + '\n');
    },
    close: () => writer.close(),
  };
}
