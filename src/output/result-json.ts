// The shape of a result line is a contract: scripts, --resume and the report read it back. Building a literal in a
// fixed order (rather than serializing the Result object as handed over) keeps the field order stable and keeps
// stray properties out of the file.
import type { Result } from '../engine/types.js';

// JSON.stringify leaves out `startedAt`, `hash` and `headers` when undefined (no --include-headers), so one literal serves.

/** One result as its NDJSON line text, without the newline. */
export function resultToJson(r: Result): string {
  return JSON.stringify({
    id: r.id,
    ok: r.ok,
    status: r.status,
    attempts: r.attempts,
    durationMs: r.durationMs,
    response: r.response ?? null,
    error: r.error,
    startedAt: r.startedAt,
    hash: r.hash,
    headers: r.headers,
  });
}

/** The same result without its id, as the value of a `--format json` entry (the id is the key). */
export function resultBodyToJson(r: Result): string {
  return JSON.stringify({
    ok: r.ok,
    status: r.status,
    attempts: r.attempts,
    durationMs: r.durationMs,
    response: r.response ?? null,
    error: r.error,
    startedAt: r.startedAt,
    hash: r.hash,
    headers: r.headers,
  });
}
