// Option values from the command line: each parser names the option and the accepted form when it refuses.
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';
import { redactHeaderArg } from '../util/redact.js';
import { parseBytes } from '../server/body.js';

const usage = (message: string) => new BatchpostError('USAGE', message);

export function parsePositiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || !Number.isSafeInteger(n))
    throw usage(`${option} "${value}": expected a whole number of at least 1`);
  return n;
}

export function parseCount(value: string, option: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value)))
    throw usage(`${option} "${value}": expected a whole number (0 or more)`);
  return Number(value);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "250ms", "30s", "2m", or a bare number of seconds. */
export function parseDuration(value: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  const ms = m ? Number(m[1]) * UNITS[m[2] ?? 's']! : NaN;
  if (!(ms >= 1 && ms <= Number.MAX_SAFE_INTEGER))
    throw usage(`${option} "${value}": expected a duration such as 500ms, 30s or 2m`);
  return Math.round(ms);
}

/** The largest size parseSize takes: an answer is kept as one string, and V8's strings end a little short of 512 MiB. */
const MAX_SIZE = 256 * 1024 * 1024;

/** "512kb", "10mb", "256mb" or a bare number of bytes (k/m/g are binary), as bytes; at most 256mb. */
export function parseSize(value: string, option: string): number {
  const n = parseBytes(value);
  if (n === null) throw usage(`${option} "${value}": expected a size such as 512kb or 10mb`);
  if (n > MAX_SIZE) throw usage(`${option} "${value}": at most 256mb`);
  return n;
}

/** "50", "50/s" or "300/m", as starts per second. */
export function parseRate(value: string, option = '--rate'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m))?\s*$/.exec(value);
  const n = m ? Number(m[1]) / (m[2] === 'm' ? 60 : 1) : NaN;
  if (!(n > 0))
    throw usage(`${option} "${value}": expected a number per second or minute, e.g. ${option} 50 or ${option} 300/m`);
  return n;
}

/** An HTTP method in any case, as upper case. */
export function parseMethod(value: string, option: string): string {
  const method = value.toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw usage(`${option} "${value}": expected an HTTP method such as POST or PUT`);
  return method;
}

/**
 * "Name: value", or "@FILE" for the headers of a file; CR/LF are refused so a header can never smuggle another.
 * Messages show a header with its secret values hidden. A name given again (in any case) adds a value, as curl sends
 * each -H: the header then holds the list, under the name as first written.
 */
export function parseHeaders(values: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const first = new Map<string, string>();
  for (const h of values.flatMap((v) => (v.startsWith('@') ? readHeaderFile(v.slice(1)) : [v]))) {
    const i = h.indexOf(':');
    const name = i > 0 ? h.slice(0, i).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw usage(`--header "${redactHeaderArg(h)}": expected "Name: value", e.g. -H "Authorization: Bearer TOKEN"`);
    if (/[\r\n]/.test(h)) throw usage(`--header "${name}": a header value cannot hold a line break`);
    refuseFraming(name);
    const value = h.slice(i + 1).trim();
    const key = first.get(name.toLowerCase());
    if (key === undefined) {
      first.set(name.toLowerCase(), name);
      headers[name] = value;
    } else {
      const had = headers[key]!;
      headers[key] = Array.isArray(had) ? [...had, value] : [had, value];
    }
  }
  return headers;
}

/**
 * -H @FILE, as curl reads it: one "Name: value" per line; blank lines and lines starting with # are skipped. A file
 * keeps secrets out of the command line, so the commands batchpost prints can repeat it as is.
 */
export function readHeaderFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw usage(`--header @${file}: cannot read the header file: ${why}`);
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Headers that frame the message or the connection are the transport's to write: a Content-Length or
 * Transfer-Encoding of the user's would contradict the body actually sent and fail every request. Host stays
 * allowed (virtual hosts, as with curl).
 */
const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);

function refuseFraming(name: string): void {
  if (FRAMING_HEADERS.has(name.toLowerCase()))
    throw usage(`--header "${name}": a framing header, which batchpost sets itself for each request; leave it out`);
}

export type FailOn =
  { kind: 'any' } | { kind: 'none' } | { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

/**
 * "any" (default), "none", a number of failures tolerated ("10": exit 1 from the 11th), or a share tolerated
 * ("5%": exit 1 past 5% of the requests), as a CI error budget reads.
 */
export function parseFailOn(value: string): FailOn {
  if (value === 'any' || value === 'none') return { kind: value };
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (m?.[2] === '%' && n <= 100) return { kind: 'percent', percent: n };
  if (m?.[2] === '' && Number.isSafeInteger(n)) return { kind: 'count', count: n };
  throw usage(
    `--fail-on "${value}": expected any, none, a number of failures tolerated such as 10, or a share such as 5%`,
  );
}

export function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    throw usage(`${option} "${value}": expected one of ${choices.join(', ')}`);
  return value as T;
}

/** A parser taking one of `choices`, which it carries for shell completion and the man page. */
export const choice = <T extends string>(choices: readonly T[]) =>
  Object.assign((value: string, option: string): T => parseChoice(value, option, choices), { choices });

/** The values an option's parser takes, when it takes only a listed few (made by `choice`). */
export function choicesOf(parse: unknown): readonly string[] | null {
  const choices = (parse as { choices?: unknown } | undefined)?.choices;
  return Array.isArray(choices) ? (choices as string[]) : null;
}

/** More sender threads than this only add start-up time and memory. */
const MAX_THREADS = 64;

/** A number of sender threads, or 'auto' (decided with the options; see threadsFor). */
export function parseThreads(value: string, option: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = parseCount(value, option);
  if (n > MAX_THREADS) throw usage(`${option} ${n}: at most ${MAX_THREADS} (one per core is what pays)`);
  return n;
}
