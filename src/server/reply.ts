// serve's answers that are not results: refusals (one HttpError per kind, each with a code from the error
// table) and small JSON replies. Every refusal has the body {"error":{"code","message"}}.
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../engine/errors.js';

/** A batch refused as a whole, before anything was sent. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra answer headers, e.g. Allow for a 405. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const errorBody = (code: string, message: string): { error: { code: string; message: string } } => ({
  error: { code, message },
});

export function sendJson(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, JSON.stringify(errorBody(err.code, err.message)), err.headers);
}

/** Refuses a batch of more items than --max-items (413 TOO_MANY_ITEMS); `noun` names its items. */
export function checkItemCount(count: number, noun: string, maxItems: number): void {
  if (count > maxItems) {
    throw new HttpError(
      413,
      'TOO_MANY_ITEMS',
      `${count} ${noun}: this server takes at most ${maxItems} per batch (--max-items)`,
    );
  }
}
