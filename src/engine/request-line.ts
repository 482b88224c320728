// --input-format requests: each payload is a whole request, `{id?, custom_id?, method?, url, headers?, body?}` (an
// OpenAI Batch input line is one). The line's url resolves against --url as a link does against its page (RFC 3986:
// `/v1/x` replaces the base's path, `v1/x` joins a base ending in `/`); --url and -H templates render on the line;
// the line's headers add to and override -H; an object body is sent as its exact source text, a string body as text.
import { compileExpr, compileTemplate, TemplateError, type Expr, type Template } from '../expr/index.js';
import { ExactNumber, jsonText, valueText } from '../util/exact-json.js';
import { memberText } from '../util/json-member.js';
import { redactUrls } from '../util/redact.js';
import { tryUrl } from '../util/url.js';
import { CONTENT_TYPES, encodeBody, gzipBody, type BodyFormat } from './body-format.js';
import { controlCharacter, controlCharacterMessage, hasHeader } from './headers.js';
import type { ResolvedOptions } from './options.js';
import {
  checkUrl,
  compileHeaders,
  idempotencyKey,
  renderHeaders,
  RequestBuilder,
  userinfoOf,
  type HeaderTemplates,
} from './request.js';
import type { HeaderMap, InputRecord, OutgoingRequest } from './types.js';
import { userAgent } from '../util/user-agent.js';

/** Turns one payload into one request; throws TemplateError, BodyFormatError or InvalidRequestError for a payload. */
export interface Builder {
  build(record: InputRecord, id: string, method: string): OutgoingRequest;
}

/** The builder for a run's payloads: whole requests (inputKind requests) or payloads sent to --url. */
export function requestBuilderFor(o: ResolvedOptions): Builder {
  return o.inputKind === 'requests' ? new LineRequestBuilder(o) : new RequestBuilder(o);
}

/** A line that is not a request: it stops the run (INPUT_INVALID_REQUEST) unless --skip-invalid records it. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
}

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
/** An HTTP method is a token (RFC 9110 §9.1); batchpost sends it upper-cased, as -X does. */
const METHOD = /^[A-Za-z]+$/;
const LINE_KEYS = 'url, and optionally method, headers, body, id, custom_id';

/** A scheme: the url is absolute (or meant to be: `mailto:x` is refused as not http). */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** Any url but an absolute http(s) one is resolved against --url (or refused): only then is --url rendered. */
const NOT_HTTP_URL = /^(?!https?:\/\/)/i;

interface Target {
  url: string;
  authorization: string | null;
}

interface RequestLine {
  url: string;
  method?: string;
  headers?: Record<string, unknown>;
  body?: unknown;
}

export class LineRequestBuilder implements Builder {
  private readonly base: Template | null;
  private readonly headerTemplates: HeaderTemplates;
  private readonly body: Expr | null;
  private readonly format: BodyFormat;
  private readonly gzip: boolean;
  private readonly runId: string | null;
  private last: { url: string; base: string | null; target: Target } | null = null;

  constructor(o: ResolvedOptions) {
    this.base = o.url === '' ? null : compileTemplate(o.url, '--url', true);
    if (this.base?.isStatic) checkUrl(o.url);
    const headers: HeaderMap = { ...o.headers };
    if (!hasHeader(headers, 'user-agent')) headers['user-agent'] = userAgent();
    this.headerTemplates = compileHeaders(headers);
    this.body = o.body === undefined ? null : compileExpr(o.body, '--body');
    this.format = o.bodyFormat;
    this.gzip = o.compress === 'gzip';
    this.runId = o.idempotencyKey ? o.runId : null;
  }

  build(record: InputRecord, id: string, defaultMethod: string): OutgoingRequest {
    try {
      return this.request(record, id, defaultMethod);
    } catch (err) {
      if (err instanceof RangeError)
        throw new TemplateError(`the payload is nested too deeply to use (${err.message})`);
      throw err;
    }
  }

  private request(record: InputRecord, id: string, defaultMethod: string): OutgoingRequest {
    const line = requestLine(record.value);
    const method = line.method === undefined ? defaultMethod : line.method.toUpperCase();
    let headers = renderHeaders(this.headerTemplates, record.value);
    if (line.headers !== undefined) headers = withLineHeaders(headers, line.headers);
    if (this.runId !== null && !hasHeader(headers, 'idempotency-key'))
      headers['idempotency-key'] = idempotencyKey(this.runId, id);
    const { url, authorization } = this.target(line.url, record.value);
    if (authorization !== null && !hasHeader(headers, 'authorization')) headers.authorization = authorization;
    const body = this.bodyOf(record, line, method, headers);
    return { method, url, headers, body };
  }

  /**
   * The URL a line's url names, without userinfo, and the Basic credentials that userinfo gives. The last one is
   * kept: most files send every line to the same url, and parsing a URL costs more than the rest of a request.
   */
  private target(url: string, value: unknown): Target {
    const base = this.base === null || !NOT_HTTP_URL.test(url) ? null : this.base.render(value);
    const last = this.last;
    if (last !== null && last.url === url && last.base === base) return last.target;
    const resolved = this.resolve(url, base);
    const credentials = userinfoOf(resolved);
    const target = { url: credentials?.url ?? resolved.href, authorization: credentials?.authorization ?? null };
    this.last = { url, base, target };
    return target;
  }

  /** The line's url, resolved against --url (rendered on the line) when relative. */
  private resolve(url: string, base: string | null): URL {
    const absolute = ABSOLUTE.test(url) ? tryUrl(url) : null;
    let target = absolute;
    if (absolute === null) {
      if (this.base === null || base === null)
        throw new InvalidRequestError(`"url" ${quote(url)} is relative, and there is no --url to resolve it against`);
      if (!this.base.isStatic) {
        try {
          checkUrl(base);
        } catch (err) {
          throw new TemplateError((err as Error).message);
        }
      }
      target = resolveUrl(url, base);
      if (target === null) throw new InvalidRequestError(`"url" ${quote(url)} is not a URL`);
    }
    if (target!.protocol !== 'http:' && target!.protocol !== 'https:')
      throw new InvalidRequestError(`"url" ${quote(url)}: only http and https are supported`);
    return target!;
  }

  private bodyOf(
    record: InputRecord,
    line: RequestLine,
    method: string,
    headers: HeaderMap,
  ): string | Uint8Array | null {
    const value = this.body === null ? line.body : this.body(record.value);
    if (value === undefined || value === null) return null;
    if (BODYLESS_METHODS.has(method))
      throw new InvalidRequestError(`a ${method} request has no body, and this line gives one`);
    let text: string;
    let type: string;
    if (this.format !== 'json') {
      text = encodeBody(value, this.format);
      type = CONTENT_TYPES[this.format];
    } else if (typeof value === 'string') {
      text = value;
      type = CONTENT_TYPES.text;
    } else {
      const raw = this.body === null && record.raw !== undefined ? memberText(record.raw, 'body') : undefined;
      text = raw ?? jsonText(value);
      type = CONTENT_TYPES.json;
    }
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = type;
    if (!this.gzip) return text;
    if (!hasHeader(headers, 'content-encoding')) headers['content-encoding'] = 'gzip';
    return gzipBody(text);
  }
}

function resolveUrl(url: string, base: string): URL | null {
  try {
    return new URL(url, base);
  } catch {
    return null;
  }
}

/** The line's fields, checked for their types. */
function requestLine(value: unknown): RequestLine {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidRequestError(`a request line is a JSON object (${LINE_KEYS}), not ${jsonKind(value)}`);
  const line = value as Record<string, unknown>;
  if (line.url === undefined || line.url === null)
    throw new InvalidRequestError(`no "url" (a request line has ${LINE_KEYS})`);
  if (typeof line.url !== 'string') throw new InvalidRequestError(`"url" is ${jsonKind(line.url)}, not a string`);
  if (line.method !== undefined && line.method !== null) {
    if (typeof line.method !== 'string')
      throw new InvalidRequestError(`"method" is ${jsonKind(line.method)}, not a string`);
    if (!METHOD.test(line.method))
      throw new InvalidRequestError(`"method" ${quote(line.method)} is not an HTTP method such as POST or PUT`);
  }
  const headers = line.headers;
  if (headers !== undefined && headers !== null && (typeof headers !== 'object' || Array.isArray(headers)))
    throw new InvalidRequestError(`"headers" is ${jsonKind(headers)}, not an object of header names and values`);
  return {
    url: line.url,
    method: line.method ?? undefined,
    headers: (headers ?? undefined) as Record<string, unknown> | undefined,
    body: line.body,
  };
}

/**
 * -H headers with the line's added, a line's header replacing a -H one of the same name in any case; a null value
 * removes it. A number or boolean is sent as written.
 */
function withLineHeaders(headers: HeaderMap, own: Record<string, unknown>): HeaderMap {
  const out = { ...headers };
  for (const [name, v] of Object.entries(own)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw new InvalidRequestError(`header name ${quote(name)} is not a valid HTTP header name`);
    const lower = name.toLowerCase();
    for (const k of Object.keys(out)) if (k.toLowerCase() === lower) delete out[k];
    if (v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && !isExactNumber(v))
      throw new InvalidRequestError(`header ${name} is ${jsonKind(v)}, not a string`);
    const text = valueText(v);
    const bad = controlCharacter(text);
    if (bad !== null) throw new InvalidRequestError(controlCharacterMessage(name, bad));
    out[name] = text;
  }
  return out;
}

const isExactNumber = (v: unknown): boolean => v instanceof ExactNumber;

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (isExactNumber(v)) return 'a number';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A url or name from the input in a message: secrets in a URL hidden, long text cut. */
function quote(text: string): string {
  const shown = redactUrls(text);
  return JSON.stringify(shown.length > 120 ? `${shown.slice(0, 120)}…` : shown);
}
