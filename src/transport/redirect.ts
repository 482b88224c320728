// How a followed redirect (-L) changes the request, as curl does: 307 and 308 repeat it as it was; 303 becomes a
// GET (a HEAD stays HEAD); 301 and 302 turn a POST into a GET, other methods unchanged. A GET sends no body and
// none of the headers describing one. Credentials never go to another origin than the one they were given for.
import type { OutgoingRequest } from '../engine/types.js';

/** Whether `status` is a redirect -L follows: 300, 304, 305 and 306 are not redirects to a new URL. */
export const isFollowed = (status: number): boolean =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/** Headers that are the user's identity at one origin (curl drops the same across hosts). */
const CREDENTIALS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The request to send to `to` after a `status` answer to `req`; null when `to` is not an http(s) URL. */
export function redirectedRequest(req: OutgoingRequest, status: number, to: URL): OutgoingRequest | null {
  if (to.protocol !== 'http:' && to.protocol !== 'https:') return null;
  const asGet =
    (status === 303 && req.method !== 'HEAD') || ((status === 301 || status === 302) && req.method === 'POST');
  const crossOrigin = new URL(req.url).origin !== to.origin;
  if (!asGet && !crossOrigin) return { ...req, url: to.href };
  const headers: OutgoingRequest['headers'] = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase();
    if (crossOrigin && CREDENTIALS.has(lower)) continue;
    if (asGet && lower.startsWith('content-')) continue;
    headers[name] = value;
  }
  return { url: to.href, method: asGet ? 'GET' : req.method, headers, body: asGet ? null : req.body };
}
