// POST …/$batch: the OData 4.01 JSON batch format Microsoft Graph uses. {"requests":[{id, method, url, headers,
// body, dependsOn}]} in, {"responses":[{id, status, headers, body}]} out, in request order. The batch is checked
// whole first (shape, unique ids, known and acyclic dependencies: else 400, nothing sent); then every item goes
// out as soon as what it depends on has succeeded. Relative URLs resolve against --url's origin; an item aimed
// at any other origin is answered 403 and never contacted; an item whose dependency failed is answered 424.
// Bodies are JSON when the item's Content-Type is JSON or absent, a string for text/*, base64 otherwise, both ways.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasHeader, headerValue } from '../engine/headers.js';
import { idempotencyKey } from '../engine/request.js';
import type { OutgoingRequest, Result, TransportResponse } from '../engine/types.js';
import { compileTemplate, TemplateError, type Template } from '../expr/index.js';
import { isJsonType, mediaTypeOf, readBody, requireMediaType } from './body.js';
import { single } from './batch.js';
import type { BatchScope, Gateway } from './gateway.js';
import { answerHeaders, fillIn, headerProblem, inheritedHeaders, isHopByHop } from './headers.js';
import { errorBody, HttpError } from './reply.js';

/** One item of a $batch, checked and resolved. */
interface Item {
  id: string;
  method: string;
  /** The URL it is sent to; null when it is refused (see `refused`). */
  url: string | null;
  /** Why it is answered without being sent: another origin (403). */
  refused: string | null;
  /** Its own headers, hop-by-hop ones left out. */
  headers: Record<string, string>;
  /** The body to send (JSON text, text, or decoded base64), or null. */
  body: string | Uint8Array | null;
  /** Its body as given, for templated -H headers. */
  value: unknown;
  dependsOn: number[];
  dependents: number[];
}

export interface ODataResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export interface ODataOutcome {
  items: number;
  ok: number;
  failed: number;
  cut: string | null;
}

const NO_BODY_STATUSES: ReadonlySet<number> = new Set([204, 205, 304]);
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

export class ODataEndpoint {
  /** The -H headers (but Content-Type: an item's body decides its own), rendered on each item's body. */
  private readonly operator: [string, Template][];

  constructor(private readonly gw: Gateway) {
    this.operator = Object.entries(gw.o.run.headers)
      .filter(([k]) => k.toLowerCase() !== 'content-type')
      .map(([k, v]) => [k, compileTemplate(v, `--header ${k}`, false)]);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, taken: () => void): Promise<ODataOutcome> {
    const gw = this.gw;
    requireMediaType(req, isJsonType, 'application/json ({"requests":[…]}, the OData JSON batch format)');
    const text = (await readBody(req, res, gw.o.maxBytes)).toString('utf8');
    // A URL without a leading slash resolves against the batch endpoint's base path: "users" in /v1.0/$batch → /v1.0/users.
    const base = gw.origin + path.slice(0, path.lastIndexOf('/') + 1);
    const items = parseBatch(text, gw.o.maxItems, base, gw.origin);
    taken();

    const n = items.length;
    const scope = gw.scope(n, single(req.headers['idempotency-key']));
    const inherited = inheritedHeaders(req.headers, gw.o.inherit);
    scope.watch(res);
    const responses = new Array<ODataResponse>(n);
    const answered = new Array<boolean>(n).fill(false);
    const waitingOn = items.map((it) => it.dependsOn.length);
    const complete = (i: number, response: ODataResponse | null): void => {
      if (answered[i]) return;
      answered[i] = true;
      const success = response !== null && response.status >= 200 && response.status < 300;
      if (response !== null) responses[i] = response;
      for (const d of items[i]!.dependents) {
        if (answered[d]) continue;
        if (!success) {
          gw.unsent('odata');
          const why = response === null ? 'was not answered' : `answered ${response.status}`;
          complete(
            d,
            refusal(items[d]!.id, 424, 'FAILED_DEPENDENCY', `not sent: "${items[i]!.id}", which it depends on, ${why}`),
          );
        } else if (--waitingOn[d]! === 0) launch(d);
      }
      scope.count(response === null ? null : success);
    };

    const launch = (i: number): void => {
      const item = items[i]!;
      if (item.refused !== null) {
        gw.unsent('odata');
        return complete(i, refusal(item.id, 403, 'FORBIDDEN_ORIGIN', item.refused));
      }
      let request: OutgoingRequest;
      try {
        request = this.request(item, inherited, scope);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        gw.unsent('odata');
        return complete(i, refusal(item.id, 400, 'TEMPLATE_ERROR', err.message));
      }
      gw.send(
        'odata',
        scope,
        item.id,
        request,
        (result, response) => complete(i, result === null ? null : answerOf(item.id, result, response)),
        {
          policy: gw.policyFor(item.method, request.headers),
          raw: true,
        },
      );
    };

    gw.metrics.itemsTaken(n);
    for (let i = 0; i < n; i++) if (items[i]!.dependsOn.length === 0) launch(i);
    await scope.settled;

    const cut = scope.cut();
    if (cut !== null) res.destroy();
    else {
      const out = JSON.stringify({ responses });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(out)),
        'odata-version': '4.0',
      });
      res.end(out);
    }
    return { items: n, ok: scope.ok, failed: scope.failed, cut };
  }

  /** The request for an item: -H headers win over the item's own, which win over the caller's inherited ones. */
  private request(item: Item, inherited: Record<string, string> | null, scope: BatchScope): OutgoingRequest {
    let headers: Record<string, string> = {};
    for (const [k, t] of this.operator) {
      const v = t.render(item.value);
      if (/[\r\n]/.test(v)) throw new TemplateError(`--header ${k} would contain a line break`);
      headers[k] = v;
    }
    headers = fillIn(fillIn(headers, item.headers), inherited);
    if (item.body !== null && typeof item.body === 'string' && !hasHeader(headers, 'content-type')) {
      headers = { ...headers, 'content-type': 'application/json' }; // a body without a Content-Type is JSON
    }
    if (this.gw.o.run.idempotencyKey && !hasHeader(headers, 'idempotency-key')) {
      headers = { ...headers, 'idempotency-key': idempotencyKey(scope.key, item.id) };
    }
    return { method: item.method, url: item.url!, headers, body: item.body };
  }
}

/** An item's answer from the sender's result and the upstream's last answer (null when none came). */
function answerOf(id: string, result: Result, response: TransportResponse | null): ODataResponse {
  if (response === null) {
    const code = result.error?.code ?? 'NETWORK_ERROR';
    return refusal(id, code === 'TIMEOUT' ? 504 : 502, code, result.error?.message ?? 'no answer');
  }
  const answer: ODataResponse = { id, status: response.status, headers: answerHeaders(response.headers) };
  const body = encodeBody(response, result.response);
  if (body !== undefined) answer.body = body;
  return answer;
}

/** JSON for a JSON (or absent) Content-Type, text for text/*, base64 otherwise; undefined when there is none. */
function encodeBody(res: TransportResponse, parsed: unknown): unknown {
  if (NO_BODY_STATUSES.has(res.status)) return undefined;
  const bytes = res.bytes ?? Buffer.from(res.body);
  if (bytes.length === 0) return undefined;
  const media = mediaTypeOf(single(res.headers['content-type']));
  if (media === null) {
    try {
      return JSON.parse(res.body);
    } catch {
      return Buffer.from(bytes).toString('base64');
    }
  }
  if (isJsonType(media.type)) return parsed;
  if (media.type.startsWith('text/')) return res.body;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function refusal(id: string, status: number, code: string, message: string): ODataResponse {
  return { id, status, headers: { ...JSON_HEADERS }, body: errorBody(code, message) };
}

const invalid = (message: string) => new HttpError(400, 'INVALID_BATCH', message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a whole $batch and resolves its items; any fault refuses the batch with nothing sent. */
function parseBatch(text: string, maxItems: number, base: string, origin: string): Item[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'INPUT_INVALID_JSON', `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.requests)) {
    throw invalid(
      'expected {"requests":[…]} (the OData JSON batch format); for a JSON array of payloads POST to /batch',
    );
  }
  const raw: unknown[] = doc.requests;
  if (raw.length > maxItems) {
    throw new HttpError(
      413,
      'TOO_MANY_ITEMS',
      `${raw.length} requests: this server takes at most ${maxItems} per batch (--max-items)`,
    );
  }
  const byId = new Map<string, number>();
  const dependencyIds: string[][] = [];
  const items = raw.map((r, i): Item => {
    const where = `requests[${i}]`;
    if (!isObject(r)) throw invalid(`${where}: expected an object`);
    if (typeof r.id !== 'string' || r.id === '') throw invalid(`${where}: "id" must be a non-empty string`);
    const at = `${where} (id ${JSON.stringify(r.id)})`;
    const earlier = byId.get(r.id.toLowerCase());
    if (earlier !== undefined)
      throw invalid(`${at}: the id repeats that of requests[${earlier}]; ids must be unique, whatever their case`);
    byId.set(r.id.toLowerCase(), i);
    if (typeof r.method !== 'string' || !/^[A-Za-z]+$/.test(r.method))
      throw invalid(`${at}: "method" must be an HTTP method such as GET or POST`);
    const method = r.method.toUpperCase();
    if (method === 'CONNECT') throw invalid(`${at}: CONNECT cannot be batched`);
    if (typeof r.url !== 'string' || r.url === '') throw invalid(`${at}: "url" must be a non-empty string`);
    let url: URL;
    try {
      url = new URL(r.url, base);
    } catch {
      throw invalid(`${at}: "url" ${JSON.stringify(r.url)} is not a valid URL`);
    }
    const headers = itemHeaders(r.headers, at);
    const dependsOn = r.dependsOn ?? [];
    if (!Array.isArray(dependsOn) || !dependsOn.every((d) => typeof d === 'string'))
      throw invalid(`${at}: "dependsOn" must be an array of ids`);
    const foreign = url.origin !== origin;
    dependencyIds.push(dependsOn);
    return {
      id: r.id,
      method,
      url: foreign ? null : url.href,
      refused: foreign
        ? `${method} ${url.href}: not on ${origin}, the only origin this server sends to; not contacted`
        : null,
      headers,
      body: BODYLESS_METHODS.has(method) ? null : itemBody(r.body, headers, at),
      value: r.body ?? null,
      dependsOn: [],
      dependents: [],
    };
  });
  items.forEach((item, i) => {
    item.dependsOn = dependencyIds[i]!.map((d) => {
      const j = byId.get(d.toLowerCase());
      if (j === undefined) {
        throw new HttpError(
          400,
          'UNKNOWN_DEPENDENCY',
          `requests[${i}] (id ${JSON.stringify(item.id)}): dependsOn ${JSON.stringify(d)}, which is not an id of this batch`,
        );
      }
      if (j === i)
        throw new HttpError(
          400,
          'DEPENDENCY_CYCLE',
          `requests[${i}] (id ${JSON.stringify(item.id)}) depends on itself`,
        );
      items[j]!.dependents.push(i);
      return j;
    });
  });
  checkAcyclic(items);
  return items;
}

/** Kahn's algorithm: whatever cannot be ordered lies on (or behind) a cycle. */
function checkAcyclic(items: Item[]): void {
  const indegree = items.map((it) => it.dependsOn.length);
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  let seen = 0;
  while (ready.length > 0) {
    const i = ready.pop()!;
    seen++;
    for (const d of items[i]!.dependents) if (--indegree[d]! === 0) ready.push(d);
  }
  if (seen === items.length) return;
  const stuck = items.filter((_, i) => indegree[i]! > 0).map((it) => JSON.stringify(it.id));
  throw new HttpError(400, 'DEPENDENCY_CYCLE', `dependsOn forms a cycle among ${stuck.join(', ')}`);
}

function itemHeaders(value: unknown, at: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw invalid(`${at}: "headers" must be an object of names to strings`);
  const connection =
    typeof value.connection === 'string' || typeof value.Connection === 'string'
      ? new Set(
          String(value.connection ?? value.Connection)
            .split(',')
            .map((s) => s.trim().toLowerCase()),
        )
      : undefined;
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`${at}: header ${name} must be a string`);
    const text = String(v);
    const problem = headerProblem(name, text);
    if (problem !== null) throw new HttpError(400, 'INVALID_HEADER', `${at}: ${problem}`);
    if (!isHopByHop(name, connection)) out[name] = text;
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function itemBody(body: unknown, headers: Record<string, string>, at: string): string | Uint8Array | null {
  if (body === undefined || body === null) return null;
  const media = mediaTypeOf(headerValue(headers, 'content-type'));
  if (media === null || isJsonType(media.type)) return JSON.stringify(body);
  if (typeof body !== 'string')
    throw invalid(
      `${at}: with Content-Type ${media.type} the body must be a string (${media.type.startsWith('text/') ? 'the text' : 'base64'})`,
    );
  if (media.type.startsWith('text/')) return body;
  const compact = body.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1)
    throw invalid(`${at}: with Content-Type ${media.type} the body must be base64`);
  return Buffer.from(compact, 'base64');
}
