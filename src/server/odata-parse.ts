// Checking a $batch before anything is sent: its shape, unique ids (whatever their case), known and acyclic
// dependencies, and each item's method, URL, headers and body. Any fault refuses the whole batch.
import { headerValue } from '../engine/headers.js';
import { isJsonType, mediaTypeOf } from './body.js';
import { headerProblem, isHopByHop } from './headers.js';
import { checkItemCount, HttpError } from './reply.js';

/** One item of a $batch, checked and resolved. */
export interface Item {
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

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

const invalid = (message: string) => new HttpError(400, 'INVALID_BATCH', message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a whole $batch and resolves its items; any fault refuses the batch with nothing sent. */
export function parseBatch(text: string, maxItems: number, base: string, origin: string): Item[] {
  const raw = requestsOf(text, maxItems);
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
    const { item, dependsOn } = parseItem(r, r.id, at, base, origin);
    dependencyIds.push(dependsOn);
    return item;
  });
  linkDependencies(items, dependencyIds, byId);
  checkAcyclic(items);
  return items;
}

/** The `requests` array of a batch document. */
function requestsOf(text: string, maxItems: number): unknown[] {
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
  checkItemCount(raw.length, 'requests', maxItems);
  return raw;
}

/** One request of the batch, checked; `at` names it in messages. Its dependencies are still ids here. */
function parseItem(
  r: Record<string, unknown>,
  id: string,
  at: string,
  base: string,
  origin: string,
): { item: Item; dependsOn: string[] } {
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
  const item: Item = {
    id,
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
  return { item, dependsOn };
}

/** Turns each item's dependency ids into indexes, both ways; an unknown id or an item depending on itself is a 400. */
function linkDependencies(items: Item[], dependencyIds: string[][], byId: Map<string, number>): void {
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
}

/** The longest dependsOn chain a $batch may hold, in items: each waits for the one before, one at a time. */
export const MAX_DEPENDENCY_DEPTH = 1000;

/**
 * Kahn's algorithm: whatever cannot be ordered lies on (or behind) a cycle. Each item's depth (the longest chain
 * ending at it) is counted on the way, and a chain longer than MAX_DEPENDENCY_DEPTH is refused.
 */
function checkAcyclic(items: Item[]): void {
  const indegree = items.map((it) => it.dependsOn.length);
  const depth = new Array<number>(items.length).fill(1);
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  let seen = 0;
  while (ready.length > 0) {
    const i = ready.pop()!;
    seen++;
    for (const d of items[i]!.dependents) {
      const chain = Math.max(depth[d]!, depth[i]! + 1);
      depth[d] = chain;
      if (chain > MAX_DEPENDENCY_DEPTH) {
        throw new HttpError(
          400,
          'DEPENDENCY_TOO_DEEP',
          `requests[${d}] (id ${JSON.stringify(items[d]!.id)}) ends a dependsOn chain of more than ${MAX_DEPENDENCY_DEPTH} requests, the most this server runs one after another`,
        );
      }
      if (--indegree[d]! === 0) ready.push(d);
    }
  }
  if (seen === items.length) return;
  const stuck = items.filter((_, i) => indegree[i]! > 0).map((it) => JSON.stringify(it.id));
  throw new HttpError(400, 'DEPENDENCY_CYCLE', `dependsOn forms a cycle among ${stuck.join(', ')}`);
}

/**
 * An item's headers, checked: names are tokens, values hold no control character, no name is given twice in
 * different cases (both would go out, and servers differ on which one counts), and hop-by-hop ones (with those its
 * Connection header names, whatever the case of either) are left out.
 */
function itemHeaders(value: unknown, at: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw invalid(`${at}: "headers" must be an object of names to strings`);
  const badHeader = (why: string) => new HttpError(400, 'INVALID_HEADER', `${at}: ${why}`);
  const connection = new Set<string>();
  const given = new Map<string, string>();
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`${at}: header ${name} must be a string`);
    const problem = headerProblem(name, String(v));
    if (problem !== null) throw badHeader(problem);
    const lower = name.toLowerCase();
    const earlier = given.get(lower);
    if (earlier !== undefined)
      throw badHeader(
        `headers ${JSON.stringify(earlier)} and ${JSON.stringify(name)} differ only in case; header names are case-insensitive, give each once`,
      );
    given.set(lower, name);
    if (lower === 'connection')
      for (const n of String(v).split(',')) if (n.trim()) connection.add(n.trim().toLowerCase());
  }
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) if (!isHopByHop(name, connection)) out[name] = String(v);
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
