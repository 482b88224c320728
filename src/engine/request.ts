// Turns one payload into one request: URL and header templates, body expression, idempotency key.
// Compiled once per run; on the plain path (no templates, no --body) the payload's source text is the body and
// the headers object is shared, so building a request allocates almost nothing.
import { createHash, hash } from 'node:crypto';
import { compileExpr, compileTemplate, TemplateError, type Expr, type Template } from '../expr/index.js';
import { redactUrls } from '../util/redact.js';
import { jsonText } from '../util/exact-json.js';
import { BatchpostError } from './errors.js';
import { controlCharacter, controlCharacterMessage, hasHeader } from './headers.js';
import type { ResolvedOptions } from './options.js';
import type { HeaderMap, InputRecord, OutgoingRequest } from './types.js';
import { userAgent } from '../util/user-agent.js';
import { tryUrl } from '../util/url.js';
import { CONTENT_TYPES, encodeBody, gzipBody, type BodyFormat } from './body-format.js';

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

export class RequestBuilder {
  private readonly url: Template;
  private readonly headerTemplates: HeaderTemplates;
  private readonly staticHeaders: HeaderMap | null;
  private readonly body: Expr | null;
  private readonly sendsBody: boolean;
  private readonly runId: string | null;
  /** An Authorization header given with -H wins over user:password in the URL, as with curl. */
  private readonly userinfoAuth: boolean;
  private readonly format: BodyFormat;
  private readonly gzip: boolean;

  constructor(o: ResolvedOptions) {
    this.userinfoAuth = !hasHeader(o.headers, 'authorization');
    let url = compileTemplate(o.url, '--url', true);
    const headers: HeaderMap = {};
    if (url.isStatic) {
      const credentials = userinfoOf(checkUrl(o.url));
      if (credentials !== null) {
        url = compileTemplate(credentials.url, '--url', true);
        if (this.userinfoAuth) headers.authorization = credentials.authorization;
      }
    }
    this.url = url;
    this.sendsBody = !BODYLESS_METHODS.has(o.method);
    this.body = o.body === undefined ? null : compileExpr(o.body, '--body');
    this.format = o.bodyFormat;
    this.gzip = o.compress === 'gzip' && this.sendsBody;
    if (this.sendsBody && !hasHeader(o.headers, 'content-type')) {
      headers['content-type'] = CONTENT_TYPES[o.bodyFormat];
    }
    if (this.gzip) headers['content-encoding'] = 'gzip';
    if (!hasHeader(o.headers, 'user-agent')) headers['user-agent'] = userAgent();
    Object.assign(headers, o.headers);
    this.headerTemplates = compileHeaders(headers);
    this.runId = o.idempotencyKey ? o.runId : null;
    const allStatic =
      this.headerTemplates.every(([, t]) => [t].flat().every((one) => one.isStatic)) && this.runId === null;
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
    let url = this.url.render(value);
    let credentials: Userinfo | null = null;
    if (!this.url.isStatic) {
      try {
        credentials = userinfoOf(checkUrl(url));
      } catch (err) {
        throw new TemplateError((err as Error).message);
      }
      if (credentials !== null) url = credentials.url;
    }
    let headers = this.staticHeaders;
    if (headers === null) {
      headers = renderHeaders(this.headerTemplates, value);
      if (this.runId !== null) headers['idempotency-key'] = idempotencyKey(this.runId, id);
    }
    if (credentials !== null && this.userinfoAuth) headers = { ...headers, authorization: credentials.authorization };
    let body: string | Uint8Array | null = null;
    if (this.sendsBody) {
      if (this.format !== 'json') body = encodeBody(this.body === null ? value : this.body(value), this.format);
      else if (this.body === null) body = record.raw ?? jsonText(value);
      else {
        const v = this.body(value);
        if (v === null || v === undefined) throw new TemplateError('--body is null for this payload');
        body = jsonText(v);
      }
      if (this.gzip) body = gzipBody(body);
    }
    return { method, url, headers, body };
  }
}

/** Header templates by name; a name given more than once has one per value. */
export type HeaderTemplates = [string, Template | Template[]][];

export function compileHeaders(headers: Readonly<HeaderMap>): HeaderTemplates {
  const one = (k: string, v: string) => compileTemplate(v, `--header ${k}`, false);
  return Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => one(k, x)) : one(k, v)]);
}

/** The headers for one payload; `what` names them in the error for a value that would hold a line break. */
export function renderHeaders(templates: HeaderTemplates, value: unknown): HeaderMap {
  const headers: HeaderMap = {};
  for (const [k, t] of templates) {
    const v = Array.isArray(t) ? t.map((one) => one.render(value)) : t.render(value);
    for (const one of [v].flat()) {
      const bad = controlCharacter(one);
      if (bad !== null) throw new TemplateError(controlCharacterMessage(k, bad));
    }
    headers[k] = v;
  }
  return headers;
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

/** `api.example.com/orders`, `localhost:8080`: a host (and port) where the scheme should come first. */
const HOST_FIRST = /^(?:[\w-]+(?:\.[\w-]+)*|\[[\da-f:.]+\])(?::\d+)?(?:[/?#]|$)/i;
const LOCAL_HOST = /^(?:localhost|127(?:\.\d+){3}|\[::1\]|0\.0\.0\.0)(?::|\/|$)/i;

export interface Userinfo {
  /** The URL without its user:password. */
  url: string;
  authorization: string;
}

/**
 * `https://user:password@host/…` sends Basic credentials, as curl does; the URL that goes out (and into results
 * and messages) no longer holds them. Null for a URL without userinfo.
 */
export function userinfoOf(u: URL): Userinfo | null {
  if (u.username === '' && u.password === '') return null;
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { url: u.href, authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

export function checkUrl(url: string): URL {
  if (!url.includes('://') && HOST_FIRST.test(url)) {
    // A local server most likely speaks plain http; anything else, https.
    const shown = redactUrls(url);
    const fixed = `${LOCAL_HOST.test(url) ? 'http' : 'https'}://${shown}`;
    throw new BatchpostError('USAGE', `--url "${shown}": no scheme`, `Add http:// or https://, e.g. --url ${fixed}`);
  }
  const u = tryUrl(url);
  if (u === null) {
    throw new BatchpostError(
      'USAGE',
      `--url "${redactUrls(url)}": not an absolute URL`,
      'Give the scheme and host, e.g. --url https://api.example.com/orders',
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new BatchpostError('USAGE', `--url "${redactUrls(url)}": only http and https are supported`);
  }
  return u;
}
