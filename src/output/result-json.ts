// The shape of a result line is a contract: scripts, --resume and the report read it back. Writing the fields in a
// fixed order (rather than serializing the Result object as handed over) keeps the field order stable and keeps
// stray properties out of the file.
import type { Result } from '../engine/types.js';

/**
 * One result as its NDJSON line text, without the newline. Written out by hand around JSON.stringify of the parts
 * that need it: this is the hottest line of a run, and far cheaper than stringifying a literal of the whole result
 * (docs/benchmarks.md).
 * Same text as JSON.stringify would give: `startedAt`, `hash`, `throttled`, `requestId`, `file` and `headers` are left out when undefined.
 */
export function resultToJson(r: Result): string {
  return '{"id":' + JSON.stringify(r.id) + ',' + bodyFields(r);
}

/** The result's fields after the id, and the closing brace. */
function bodyFields(r: Result): string {
  let text =
    '"ok":' +
    r.ok +
    ',"status":' +
    r.status +
    ',"attempts":' +
    r.attempts +
    ',"durationMs":' +
    JSON.stringify(r.durationMs) +
    ',"response":' +
    responseJson(r.response) +
    ',"error":' +
    (r.error === null ? 'null' : JSON.stringify(r.error));
  if (r.startedAt !== undefined) text += ',"startedAt":' + r.startedAt;
  if (r.hash !== undefined) text += ',"hash":' + JSON.stringify(r.hash);
  if (r.throttled !== undefined) text += ',"throttled":' + JSON.stringify(r.throttled);
  if (r.requestId !== undefined) text += ',"requestId":' + JSON.stringify(r.requestId);
  if (r.file !== undefined) text += ',"file":' + JSON.stringify(r.file);
  if (r.headers !== undefined) text += ',"headers":' + JSON.stringify(r.headers);
  return text + '}';
}

/** The same result without its id, as the value of a `--format json` entry (the id is the key). */
export function resultBodyToJson(r: Result): string {
  return '{' + bodyFields(r);
}

/**
 * The response as JSON. Answers too deep to write are kept as text when parsed (parseBody), but a --transform can
 * still build one: its line then says so instead of stopping the run with a RangeError.
 */
function responseJson(response: unknown): string {
  try {
    return JSON.stringify(response ?? null) ?? 'null';
  } catch (err) {
    return JSON.stringify(`[response not written: ${(err as Error).message}]`);
  }
}
