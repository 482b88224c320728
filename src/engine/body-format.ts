// --body-format and --compress: how a body value becomes the bytes sent, and the Content-Type that says so.
// json (the default) is not here: the payload's own source text is sent as it is (request.ts).
import { gzipSync } from 'node:zlib';
import { ExactNumber, valueText } from '../util/exact-json.js';

export type BodyFormat = 'json' | 'form' | 'text';

export const CONTENT_TYPES: Readonly<Record<BodyFormat, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
  text: 'text/plain; charset=utf-8',
};

/** A body that cannot be sent in the format asked for: that request's failure (INVALID_BODY), never the run's. */
export class BodyFormatError extends Error {
  override readonly name = 'BodyFormatError';
}

/**
 * The text of `value` sent as `format` (form or text). form: an object whose values are strings, numbers, booleans
 * or null (sent as an empty value), or arrays of those (the key repeated, as HTML forms and URLSearchParams do);
 * anything nested is refused rather than flattened in one of the several incompatible ways servers expect.
 */
export function encodeBody(value: unknown, format: 'form' | 'text'): string {
  if (format === 'text') {
    if (typeof value !== 'string')
      throw new BodyFormatError(`--body-format text sends a string, and this body is ${kindOf(value)}`);
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof ExactNumber)
    throw new BodyFormatError(`--body-format form sends an object of fields, and this body is ${kindOf(value)}`);
  const form = new URLSearchParams();
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (Array.isArray(field)) for (const item of field) form.append(key, scalarText(key, item, true));
    else form.append(key, scalarText(key, field, false));
  }
  return form.toString();
}

function scalarText(key: string, v: unknown, inArray: boolean): string {
  if (v === null) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof ExactNumber)
    return valueText(v);
  const where = inArray ? `an item of field "${key}"` : `field "${key}"`;
  throw new BodyFormatError(
    `--body-format form: ${where} is ${kindOf(v)}; only strings, numbers, booleans, null and arrays of those can be form fields`,
  );
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof ExactNumber) return 'a number';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The body gzip-compressed (--compress gzip); the caller adds Content-Encoding. */
export function gzipBody(body: string | Uint8Array): Uint8Array {
  return gzipSync(body);
}
