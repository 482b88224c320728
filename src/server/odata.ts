// POST …/$batch: the OData 4.01 JSON batch format Microsoft Graph uses. {"requests":[{id, method, url, headers, body,
// dependsOn}]} in, {"responses":[{id, status, headers, body}]} out, in request order. The batch is checked whole first
// (odata-parse.ts: shape, unique ids, known and acyclic dependencies: else 400, nothing sent); then every item goes out
// as soon as what it depends on has succeeded. Relative URLs resolve against --url's origin; an item aimed at any other
// origin is answered 403 and never contacted; an item whose dependency failed is answered 424. Bodies are JSON when the
// item's Content-Type is JSON or absent, a string for text/*, base64 otherwise, both ways.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasHeader } from '../engine/headers.js';
import { parseJsonOrText } from '../engine/json-depth.js';
import { compileHeaders, idempotencyKey, renderHeaders, type HeaderTemplates } from '../engine/request.js';
import type { OutgoingRequest, Result, TransportResponse } from '../engine/types.js';
import { TemplateError } from '../expr/index.js';
import { userAgent } from '../util/user-agent.js';
import { isJsonType, mediaTypeOf, readBody, requireMediaType } from './body.js';
import { single } from './batch.js';
import type { BatchScope, Gateway } from './gateway.js';
import { answerHeaders, fillIn, inheritedHeaders } from './headers.js';
import { parseBatch, type Item } from './odata-parse.js';
import { errorBody } from './reply.js';
import { batchText } from './scan.js';

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
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

export class ODataEndpoint {
  /** The -H headers (but Content-Type: an item's body decides its own), rendered on each item's body. */
  private readonly operator: HeaderTemplates;

  constructor(private readonly gw: Gateway) {
    this.operator = compileHeaders(
      Object.fromEntries(Object.entries(gw.o.run.headers).filter(([k]) => k.toLowerCase() !== 'content-type')),
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, taken: () => void): Promise<ODataOutcome> {
    const gw = this.gw;
    requireMediaType(req, isJsonType, 'application/json ({"requests":[…]}, the OData JSON batch format)');
    const text = await batchText(await readBody(req, res, gw.o.maxBytes, gw.requestTimeoutMs));
    // A URL without a leading slash resolves against the batch endpoint's base path: "users" in /v1.0/$batch → /v1.0/users.
    const base = gw.origin + path.slice(0, path.lastIndexOf('/') + 1);
    const items = parseBatch(text, gw.o.maxItems, base, gw.origin);
    taken();

    const n = items.length;
    const scope = gw.scope(n, single(req.headers['idempotency-key']));
    const inherited = inheritedHeaders(req.headers, gw.o.inherit);
    scope.watch(res);
    const batch = new ODataRun(gw, items, scope, (item) => this.request(item, inherited, scope));
    try {
      batch.start();
      await scope.settled;
    } catch (err) {
      scope.fail(err);
      throw err;
    }

    const cut = scope.cut();
    if (cut !== null) res.destroy();
    else sendResponses(res, batch.responses);
    return { items: n, ok: scope.ok, failed: scope.failed, cut };
  }

  /** The request for an item: -H headers win over the item's own, which win over the caller's inherited ones. */
  private request(item: Item, inherited: Record<string, string> | null, scope: BatchScope): OutgoingRequest {
    let headers = fillIn(fillIn(renderHeaders(this.operator, item.value), item.headers), inherited);
    if (!hasHeader(headers, 'user-agent')) headers = { ...headers, 'user-agent': userAgent() };
    if (item.body !== null && typeof item.body === 'string' && !hasHeader(headers, 'content-type')) {
      headers = { ...headers, 'content-type': 'application/json' }; // a body without a Content-Type is JSON
    }
    if (this.gw.o.run.idempotencyKey && !hasHeader(headers, 'idempotency-key')) {
      headers = { ...headers, 'idempotency-key': idempotencyKey(scope.key, item.id) };
    }
    return { method: item.method, url: item.url!, headers, body: item.body };
  }
}

/**
 * One $batch being sent: the items nothing holds back go out first, each dependent once all it depends on has
 * succeeded; one that failed (or went unanswered) answers its dependents 424 without sending them.
 */
class ODataRun {
  /** In request order, filled as items are answered. */
  readonly responses: ODataResponse[];
  private readonly answered: boolean[];
  /** Per item: how many of its dependencies have yet to succeed. */
  private readonly waitingOn: number[];
  /** Per item answered: why its dependents are refused (null: it succeeded). */
  private readonly failed: (string | null)[];

  constructor(
    private readonly gw: Gateway,
    private readonly items: Item[],
    private readonly scope: BatchScope,
    private readonly requestOf: (item: Item) => OutgoingRequest,
  ) {
    this.responses = new Array<ODataResponse>(items.length);
    this.answered = new Array<boolean>(items.length).fill(false);
    this.waitingOn = items.map((it) => it.dependsOn.length);
    this.failed = new Array<string | null>(items.length).fill(null);
  }

  start(): void {
    for (let i = 0; i < this.items.length; i++) if (this.items[i]!.dependsOn.length === 0) this.launch(i);
  }

  private launch(i: number): void {
    const gw = this.gw;
    const item = this.items[i]!;
    if (item.refused !== null) {
      gw.unsent('odata');
      return this.complete(i, refusal(item.id, 403, 'FORBIDDEN_ORIGIN', item.refused));
    }
    let request: OutgoingRequest;
    try {
      request = this.requestOf(item);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      gw.unsent('odata');
      return this.complete(i, refusal(item.id, 400, 'TEMPLATE_ERROR', err.message));
    }
    gw.send(
      'odata',
      this.scope,
      item.id,
      request,
      (result, response) => this.complete(i, result === null ? null : answerOf(item.id, result, response)),
      {
        policy: gw.policyFor(item.method, request.headers),
        raw: true,
      },
    );
  }

  /**
   * Item i's answer (null: dropped unanswered); releases or refuses its dependents, and theirs, with a stack of
   * its own rather than recursion: a chain thousands of items long must not overflow the call stack.
   */
  private complete(i: number, response: ODataResponse | null): void {
    if (this.answered[i]) return;
    const stack: number[] = [];
    const ready: number[] = [];
    this.settle(i, response, stack);
    while (stack.length > 0) {
      const j = stack.pop()!;
      const why = this.failed[j];
      for (const d of this.items[j]!.dependents) {
        if (this.answered[d]) continue;
        if (why !== null) {
          this.gw.unsent('odata');
          const message = `not sent: "${this.items[j]!.id}", which it depends on, ${why}`;
          this.settle(d, refusal(this.items[d]!.id, 424, 'FAILED_DEPENDENCY', message), stack);
        } else if (--this.waitingOn[d]! === 0) ready.push(d);
      }
    }
    for (const d of ready) this.launch(d);
  }

  /** Records item i's answer and counts it; its dependents are then looked at from `stack`. */
  private settle(i: number, response: ODataResponse | null, stack: number[]): void {
    this.answered[i] = true;
    const success = response !== null && response.status >= 200 && response.status < 300;
    if (response !== null) this.responses[i] = response;
    this.failed[i] = success ? null : response === null ? 'was not answered' : `answered ${response.status}`;
    stack.push(i);
    this.scope.count(response === null ? null : success);
  }
}

function sendResponses(res: ServerResponse, responses: ODataResponse[]): void {
  const out = JSON.stringify({ responses });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(out)),
    'odata-version': '4.0',
  });
  res.end(out);
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
    const parsed = parseJsonOrText(res.body);
    return parsed !== res.body ? parsed : Buffer.from(bytes).toString('base64');
  }
  if (isJsonType(media.type)) return parsed;
  if (media.type.startsWith('text/')) return res.body;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function refusal(id: string, status: number, code: string, message: string): ODataResponse {
  return { id, status, headers: { ...JSON_HEADERS }, body: errorBody(code, message) };
}
