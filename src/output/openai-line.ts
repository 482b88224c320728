// `--format openai`: a result as a line of an OpenAI Batch output file, so tools written for those files read
// batchpost's. The shape is OpenAI's; what batchpost adds is the rule for `error`, chosen so that a line read back
// (--resume, --retry-failed) is ok exactly when the ndjson line of the same result says ok:
//
//   ok                                  response {status_code: 2xx, …}, error null
//   the server answered, not 2xx        response {status_code, …},       error null (as OpenAI writes a 4xx)
//   a 2xx batchpost counts as failed    response {status_code, …},       error {code, message}
//     (--expect, --transform, RESPONSE_TOO_LARGE)
//   no HTTP answer (timeout, refused,   response null,                   error {code, message}
//     a payload not sent)
//
// so ok ⇔ response !== null && 200 ≤ status_code < 300 && error === null (openAiLineOk).
import { randomUUID } from 'node:crypto';
import type { Result, ResultError } from '../engine/types.js';

export interface OpenAiResponse {
  status_code: number;
  /** The answer's X-Request-Id header; null when it had none. */
  request_id: string | null;
  /** The parsed JSON body (text when it is not JSON; null when empty or saved to a file). */
  body: unknown;
  /** --save-responses: where the body was saved instead. */
  file?: string;
}

export interface OpenAiLine {
  /** `batch_req_` and 32 random hex digits: unique per line, as OpenAI's are. */
  id: string;
  /** The payload's id. */
  custom_id: string;
  response: OpenAiResponse | null;
  error: ResultError | null;
}

/** A fresh line id: `batch_req_` and 32 hex digits (a random UUID's). */
export function newLineId(): string {
  return 'batch_req_' + randomUUID().replace(/-/g, '');
}

/**
 * The OpenAI Batch output line of `result`. Pure: the line id is given (newLineId() for a new one). `customId` is
 * the payload's id (the result's own, unless the caller knows it by another), `requestId` the answer's X-Request-Id.
 */
export function openAiLine(
  result: Result,
  customId: string = result.id,
  requestId: string | null = result.requestId ?? null,
  lineId: string = newLineId(),
): OpenAiLine {
  let response: OpenAiResponse | null = null;
  if (result.status !== null) {
    response = { status_code: result.status, request_id: requestId, body: result.response ?? null };
    if (result.file !== undefined) response.file = result.file;
  }
  const answeredNot2xx = result.error !== null && result.error.code === `HTTP_${result.status}`;
  return { id: lineId, custom_id: customId, response, error: result.ok || answeredNot2xx ? null : result.error };
}

/** Whether a line read back counts as ok (the same verdict as the ndjson line's `ok`). */
export function openAiLineOk(line: { response?: unknown; error?: unknown }): boolean {
  const response = line.response as { status_code?: unknown } | null | undefined;
  if (line.error !== null || response === null || typeof response !== 'object') return false;
  const status = response.status_code;
  return typeof status === 'number' && status >= 200 && status < 300;
}

/** The error code a line read back stands for: its error's, else HTTP_<status_code>; null when ok. */
export function openAiLineCode(line: { response?: unknown; error?: unknown }): string | null {
  if (openAiLineOk(line)) return null;
  const code = (line.error as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string') return code;
  const status = (line.response as { status_code?: unknown } | null | undefined)?.status_code;
  return typeof status === 'number' ? `HTTP_${status}` : 'UNKNOWN';
}

/** The line as JSON text, without the newline. A body too deep to write says so instead of stopping the run. */
export function openAiLineToJson(line: OpenAiLine): string {
  try {
    return JSON.stringify(line);
  } catch (err) {
    const body = `[response not written: ${(err as Error).message}]`;
    return JSON.stringify({ ...line, response: { ...line.response!, body } });
  }
}
