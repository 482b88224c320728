// The lines of a batch's output and error files: the shape of `run --format openai` (src/output/openai-line.ts),
// plus the line of a request the batch never sent.
import type { Result, TransportResponse } from '../engine/types.js';
import { newLineId, openAiLine, openAiLineOk, type OpenAiLine } from '../output/openai-line.js';

/** A sent line's outcome; `ok` decides the output file (else the error file). */
export function sentLine(
  customId: string,
  result: Result,
  response: TransportResponse | null,
): { line: OpenAiLine; ok: boolean } {
  const header = response?.headers['x-request-id'];
  const fromHeader = Array.isArray(header) ? (header[0] ?? null) : (header ?? null);
  const line = openAiLine(result, customId, result.requestId ?? fromHeader);
  return { line, ok: openAiLineOk(line) };
}

/** A line that never got sent: the batch expired before its turn. */
export function unsentLine(customId: string, code: string, message: string): OpenAiLine {
  return { id: newLineId(), custom_id: customId, response: null, error: { code, message } };
}
