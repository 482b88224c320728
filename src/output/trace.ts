// --trace FILE: every attempt's exchange as one NDJSON line, for "why did id 4711 fail?" — what `curl -v` or k6's
// --http-debug show, for a whole batch. Secrets never reach it: header values named like credentials, URL
// passwords and secret query values, and JSON string values under secret-looking keys in the body excerpts are
// replaced (src/util/redact.ts). With --trace-failed, a request's attempts wait in memory until its outcome is
// known and are written only when it failed.
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';
import type { AttemptTrace, OnAttempt, Result } from '../engine/types.js';
import { isSecretName, REDACTED, redactHeaders, redactUrls } from '../util/redact.js';
import { createLineWriter, type LineWriter } from './line-writer.js';

/** The longest body excerpt written, in bytes of the body (UTF-8 text of its start). */
export const EXCERPT_BYTES = 2048;

export interface TraceOptions {
  /** Keep only the requests that ended ok:false. */
  failedOnly: boolean;
  /** Add to an existing trace (a run that continues) instead of starting it afresh. */
  append: boolean;
  /** Where `-` writes. */
  stderr: NodeJS.WritableStream;
}

export interface Tracer {
  readonly onAttempt: OnAttempt;
  readonly writer: LineWriter;
  close(): Promise<void>;
}

/** Opens the trace at `target` (`-`: stderr), after checking that it may be written (assertTraceWritable). */
export function openTrace(target: string, options: TraceOptions): Tracer {
  const writer = createLineWriter(
    target === '-' ? { fd: 1, stream: options.stderr } : { path: target, append: options.append, role: 'the trace' },
  );
  const waiting = new Map<string, string[]>();
  const onAttempt: OnAttempt = (attempt, outcome) => {
    const line = traceLine(attempt, outcome) + '\n';
    if (!options.failedOnly) return writer.write(line);
    const lines = waiting.get(attempt.id);
    if (outcome === undefined) {
      if (lines) lines.push(line);
      else waiting.set(attempt.id, [line]);
      return;
    }
    waiting.delete(attempt.id);
    if (outcome !== null && !outcome.ok) writer.write((lines ? lines.join('') : '') + line);
  };
  return { onAttempt, writer, close: () => writer.close() };
}

/**
 * One attempt as its trace line: the request (method, URL, headers, body excerpt), the answer (status, headers,
 * body excerpt) or the transport error, timing, and what came next: another attempt (`retry`), the end (`done`,
 * with the request's `result`), or a hard stop (`interrupted`).
 */
export function traceLine(a: AttemptTrace, outcome: Result | null | undefined): string {
  const { request: req, response: res } = a;
  const line: Record<string, unknown> = {
    id: a.id,
    attempt: a.attempt,
    startedAt: Math.round(a.startedAt),
    durationMs: a.durationMs,
    request: {
      method: req.method,
      url: redactUrls(req.url),
      headers: redactHeaders(req.headers),
      ...excerpt(req.body),
    },
    response:
      res === null
        ? null
        : {
            status: res.status,
            statusText: res.statusText,
            headers: redactAnswerHeaders(res.headers),
            ...(res.file !== undefined ? { file: res.file } : excerpt(res.bytes ?? res.body)),
          },
    error: a.error === null ? null : { code: a.error.code, message: redactUrls(a.error.message) },
    next: outcome === undefined ? 'retry' : outcome === null ? 'interrupted' : 'done',
  };
  if (outcome) line.result = { ok: outcome.ok, status: outcome.status, error: outcome.error };
  return JSON.stringify(line);
}

/** A body's first EXCERPT_BYTES as text, secrets hidden, and its whole size; nothing for no body. */
function excerpt(body: string | Uint8Array | null): { body?: string; bodyBytes?: number; truncated?: true } {
  if (body === null) return {};
  const bytes =
    typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.length === 0) return { bodyBytes: 0 };
  const cut = bytes.length > EXCERPT_BYTES;
  const text = bytes.toString('utf8', 0, Math.min(bytes.length, EXCERPT_BYTES));
  return { body: redactBodyText(text), bodyBytes: bytes.length, ...(cut ? { truncated: true as const } : {}) };
}

// "key": "value" pairs in JSON text, whole or cut off: the value is hidden when the key is named like a secret.
const JSON_STRING_PAIR = /"((?:[^"\\]|\\.){1,200})"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)/g;
// key=value pairs of a form body (a=1&password=x), the first one included.
const FORM_PAIR = /(^|&)([^=&\s]{1,200})=([^&]*)/g;

/** A body excerpt with secret-looking values hidden: JSON string pairs, form fields and URLs. */
export function redactBodyText(text: string): string {
  const json = text.replace(JSON_STRING_PAIR, (m, key: string, colon: string, _v: string, close: string) =>
    isSecretName(key) ? `"${key}"${colon}"${REDACTED}${close}` : m,
  );
  const form = /^[^\s{[<"]*=/.test(json)
    ? json.replace(FORM_PAIR, (m, sep: string, key: string) => (isSecretName(key) ? `${sep}${key}=${REDACTED}` : m))
    : json;
  return redactUrls(form);
}

/** Answer headers with secret values hidden (Set-Cookie, tokens); repeated headers stay lists. */
function redactAnswerHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretName(name) ? REDACTED : value;
  return out;
}

// A trace line starts with its id and attempt: what tells a trace file from anything else.
const TRACE_HEAD = /^\{"id":"(?:[^"\\]|\\.)*","attempt":\d+,/;

/**
 * Throws before anything is sent when `target` may not be written: an existing non-empty regular file that does not
 * hold a trace is never replaced (OUTPUT_EXISTS), whatever the flags. A trace is replaced by a new run, and added
 * to by one that continues (--resume and its kin). `-`, a FIFO or a device is written in place.
 */
export function assertTraceWritable(target: string): void {
  if (target === '-') return;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    return;
  }
  if (stat.isDirectory()) throw new BatchpostError('USAGE', `--trace ${target}: is a folder; give a file path`);
  if (!stat.isFile() || stat.size === 0) return;
  const fd = fs.openSync(target, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(4096);
    head = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0));
  } finally {
    fs.closeSync(fd);
  }
  if (!TRACE_HEAD.test(head)) {
    throw new BatchpostError(
      'OUTPUT_EXISTS',
      `--trace ${target}: the file exists and is not a batchpost trace, so it is not replaced`,
      'Give --trace a new file (or - for stderr).',
    );
  }
}
