// The shape of a result line is a contract: scripts, --resume and the report read it back. Building a literal in a
// fixed order (rather than serializing the Result object as handed over) keeps the field order stable and keeps
// stray properties out of the file.
import type { Result } from '../engine/types.js';

/** One result as its NDJSON line text, without the newline. */
export function resultToJson(result: Result): string {
  const response = result.response === undefined ? null : result.response;
  return result.headers === undefined
    ? JSON.stringify({
        id: result.id,
        ok: result.ok,
        status: result.status,
        attempts: result.attempts,
        durationMs: result.durationMs,
        response,
        error: result.error,
      })
    : JSON.stringify({
        id: result.id,
        ok: result.ok,
        status: result.status,
        attempts: result.attempts,
        durationMs: result.durationMs,
        response,
        error: result.error,
        headers: result.headers,
      });
}

/** The same result without its id, as the value of a `--format json` entry (the id is the key). */
export function resultBodyToJson(result: Result): string {
  const response = result.response === undefined ? null : result.response;
  return result.headers === undefined
    ? JSON.stringify({
        ok: result.ok,
        status: result.status,
        attempts: result.attempts,
        durationMs: result.durationMs,
        response,
        error: result.error,
      })
    : JSON.stringify({
        ok: result.ok,
        status: result.status,
        attempts: result.attempts,
        durationMs: result.durationMs,
        response,
        error: result.error,
        headers: result.headers,
      });
}
