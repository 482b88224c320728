// ADAPTER — the output line of a batch request, {"id","custom_id","response":{"status_code","request_id","body"},
// "error"}: the same shape as `run --format openai`. Kept apart so the shared writer of that shape replaces it.
import type { Result, TransportResponse } from '../engine/types.js';
import { newRequestId } from './ids.js';

export interface OpenAiLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string | null; body: unknown } | null;
  error: { code: string; message: string } | null;
}

export function openAiLine(customId: string, result: Result, response: TransportResponse | null): OpenAiLine {
  const header = response?.headers['x-request-id'];
  const requestId = Array.isArray(header) ? (header[0] ?? null) : (header ?? null);
  return {
    id: newRequestId(),
    custom_id: customId,
    response:
      result.status === null ? null : { status_code: result.status, request_id: requestId, body: result.response },
    error: result.ok ? null : (result.error ?? { code: 'FAILED', message: 'failed' }),
  };
}

/** A line that never got sent: the batch expired before its turn. */
export function unsentLine(customId: string, code: string, message: string): OpenAiLine {
  return { id: newRequestId(), custom_id: customId, response: null, error: { code, message } };
}
