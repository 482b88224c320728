// Turns one payload into one request: URL and header templates, body expression, idempotency key.
// Compiled once per run; on the plain path (no templates, no --body) the payload's source text is the body and
// the headers object is shared, so building a request allocates almost nothing.
import { createHash, hash } from 'node:crypto';
import { compileExpr, compileTemplate, TemplateError, type Expr, type Template } from '../expr/index.js';
import { jsonText } from '../util/exact-json.js';
import { BatchpostError } from './errors.js';
import { hasHeader } from './headers.js';
import type { ResolvedOptions } from './options.js';
import type { InputRecord, OutgoingRequest } from './types.js';

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

export class RequestBuilder {
  private readonly url: Template;
  private readonly headerTemplates: [string, Template][];
  private readonly staticHeaders: Record<string, string> | null;
  private readonly body: Expr | null;
  private readonly sendsBody: boolean;
  private readonly runId: string | null;

  constructor(o: ResolvedOptions) {
    this.url = compileTemplate(o.url, '--url', true);
    if (this.url.isStatic) checkUrl(o.url);
    this.sendsBody = !BODYLESS_METHODS.has(o.method);
    this.body = o.body === undefined ? null : compileExpr(o.body, '--body');
    const headers: Record<string, string> = {};
    if (this.sendsBody && !hasHeader(o.headers, 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, o.headers);
    this.headerTemplates = Object.entries(headers).map(([k, v]) => [k, compileTemplate(v, `--header ${k}`, false)]);
    this.runId = o.idempotencyKey ? o.runId : null;
    const allStatic = this.headerTemplates.every(([, t]) => t.isStatic) && this.runId === null;
    this.staticHeaders = allStatic ? headers : null;
  }

  /** The request for one payload; throws TemplateError when an expression fails for it. */
  build(record: InputRecord, id: string, method: string): OutgoingRequest {
    try {
      return this.request(record, id, method);
    } catch (err) {
      // A payload nested thousands deep overflows the stack of JSON.stringify or JMESPath: that payload's failure.
      if (err instanceof RangeError)
        throw new TemplateError(`the payload is nested too deeply to use (${err.message})`);
      throw err;
    }
  }

  private request(record: InputRecord, id: string, method: string): OutgoingRequest {
    const value = record.value;
    const url = this.url.render(value);
    if (!this.url.isStatic) {
      try {
        checkUrl(url);
      } catch (err) {
        throw new TemplateError((err as Error).message);
      }
    }
    let headers = this.staticHeaders;
    if (headers === null) {
      headers = {};
      for (const [k, t] of this.headerTemplates) {
        const v = t.render(value);
        if (/[\r\n]/.test(v)) throw new TemplateError(`header ${k} would contain a line break`);
        headers[k] = v;
      }
      if (this.runId !== null) headers['idempotency-key'] = idempotencyKey(this.runId, id);
    }
    let body: string | null = null;
    if (this.sendsBody) {
      if (this.body === null) body = record.raw ?? jsonText(value);
      else {
        const v = this.body(value);
        if (v === null || v === undefined) throw new TemplateError('--body is null for this payload');
        body = jsonText(v);
      }
    }
    return { method, url, headers, body };
  }
}

/** Short hash of what a request does (method, URL, body), recorded per result so --resume notices edits. */
export function requestHash(req: OutgoingRequest): string {
  // One-shot hash of one string: same digest, far cheaper per request than a Hash object (docs/benchmarks.md).
  if (typeof req.body !== 'object' || req.body === null)
    return hash('sha256', `${req.method} ${req.url}\n${req.body ?? ''}`, 'base64url').slice(0, 12);
  return createHash('sha256').update(`${req.method} ${req.url}\n`).update(req.body).digest('base64url').slice(0, 12);
}

/** Stable per run and id, so a request re-sent by --resume carries the key the server saw before. */
export function idempotencyKey(runId: string, id: string): string {
  return `${runId}-${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`;
}

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BatchpostError(
      'USAGE',
      `--url "${url}": not an absolute URL`,
      'Give the scheme and host, e.g. --url https://api.example.com/orders',
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new BatchpostError('USAGE', `--url "${url}": only http and https are supported`);
  }
  return url;
}
