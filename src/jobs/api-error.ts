// The /v1 API's refusals, in the shape the OpenAI SDKs read: {"error":{"message","type","param","code"}}, `code`
// one of batchpost's stable codes (src/engine/errors.ts).
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../engine/errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TYPES: Readonly<Record<number, string>> = {
  401: 'authentication_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  503: 'service_unavailable',
};

export function sendApiJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function sendApiError(res: ServerResponse, err: ApiError): void {
  const type = TYPES[err.status] ?? (err.status >= 500 ? 'server_error' : 'invalid_request_error');
  const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  if (err.status === 413 || err.status === 503) headers.connection = 'close';
  if (err.status === 503) headers['retry-after'] = '1';
  sendApiJson(res, err.status, { error: { message: err.message, type, param: err.param, code: err.code } }, headers);
}

export const invalid = (message: string, param: string | null = null): ApiError =>
  new ApiError(400, 'JOBS_INVALID_REQUEST', message, param);

export const notFound = (what: string): ApiError => new ApiError(404, 'NOT_FOUND', `No such ${what}`);
