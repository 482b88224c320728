// Which headers cross the gateway. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never
// forwarded, either way. The caller's Authorization and a short allowlist are inherited by the items of its batch;
// anything set for the item itself wins. Names must be tokens and values hold no CR/LF, so no header can smuggle
// another.
import type { IncomingHttpHeaders } from 'node:http';
import { controlCharacter, controlCharacterMessage } from '../engine/headers.js';

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Not hop-by-hop, but describe this connection's message rather than the item's: the transport sets them.
  'host',
  'content-length',
  'expect',
]);

/** Inherited by every item of a batch unless `--inherit-header` adds more. */
export const DEFAULT_INHERITED: readonly string[] = [
  'authorization',
  'accept-language',
  'traceparent',
  'tracestate',
  'x-request-id',
  'x-correlation-id',
];

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why a header cannot be sent as given, or null when it can. */
export function headerProblem(name: string, value: string): string | null {
  if (!TOKEN.test(name)) return `header name ${JSON.stringify(name)} is not an HTTP token`;
  const bad = controlCharacter(value);
  return bad === null ? null : controlCharacterMessage(name, bad);
}

/** Names the Connection header lists are hop-by-hop for this message too. */
function connectionNames(value: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const n of v.split(',')) if (n.trim()) names.add(n.trim().toLowerCase());
  }
  return names;
}

export function isHopByHop(name: string, connection?: Set<string>): boolean {
  const n = name.toLowerCase();
  return HOP_BY_HOP.has(n) || (connection?.has(n) ?? false);
}

/** The caller's headers its items inherit: those in `allow` (lower-case names), never hop-by-hop. Empty: null. */
export function inheritedHeaders(
  headers: IncomingHttpHeaders,
  allow: ReadonlySet<string>,
): Record<string, string> | null {
  let out: Record<string, string> | null = null;
  const connection = headers.connection === undefined ? undefined : connectionNames(headers.connection);
  for (const name of allow) {
    const v = headers[name];
    if (v === undefined || isHopByHop(name, connection)) continue;
    (out ??= {})[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** `base` plus the headers of `extra` whose names (in any case) `base` does not have: base wins. */
export function fillIn<H extends Record<string, string | string[]>>(base: H, extra: Record<string, string> | null): H {
  if (extra === null) return base;
  let out: H | null = null;
  const have = new Set(Object.keys(base).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(extra)) {
    if (have.has(k.toLowerCase())) continue;
    (out ??= { ...base })[k as keyof H] = v as H[keyof H];
  }
  return out ?? base;
}

// Graph clients read item headers case-sensitively (Content-Type above all), and Graph writes them canonically.
const SPECIAL_CASE: Record<string, string> = {
  etag: 'ETag',
  'www-authenticate': 'WWW-Authenticate',
  'odata-version': 'OData-Version',
  'odata-entityid': 'OData-EntityId',
  'content-md5': 'Content-MD5',
  dnt: 'DNT',
};

/** "content-type" → "Content-Type", "x-ratelimit-remaining" → "X-Ratelimit-Remaining", "etag" → "ETag". */
function canonicalName(name: string): string {
  const n = name.toLowerCase();
  return SPECIAL_CASE[n] ?? n.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** An upstream answer's headers as a $batch item gives them back: canonical names, no hop-by-hop, one string each. */
export function answerHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  const connection = headers.connection === undefined ? undefined : connectionNames(headers.connection);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers)) {
    if (isHopByHop(name, connection)) continue;
    out[canonicalName(name)] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
