// Option values from the command line: each parser names the option and the accepted form when it refuses.
import { BatchpostError } from '../engine/errors.js';
import { parseBytes } from '../server/body.js';

const usage = (message: string) => new BatchpostError('USAGE', message);

export function parsePositiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || !Number.isSafeInteger(n))
    throw usage(`${option} "${value}": expected a whole number of at least 1`);
  return n;
}

/** A size such as 64mb, 512kb or 1048576 (bytes). */
export function parseSize(value: string, option: string): number {
  const n = parseBytes(value);
  if (n === null) throw usage(`${option} "${value}": expected a size such as 64mb, 512kb or 1048576`);
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

/** "Name: value"; CR/LF are refused so a header can never smuggle another. */
export function parseHeaders(values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of values) {
    const i = h.indexOf(':');
    const name = i > 0 ? h.slice(0, i).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw usage(`--header "${h}": expected "Name: value", e.g. -H "Authorization: Bearer TOKEN"`);
    if (/[\r\n]/.test(h)) throw usage(`--header "${name}": a header value cannot hold a line break`);
    headers[name] = h.slice(i + 1).trim();
  }
  return headers;
}

export type FailOn = { kind: 'any' } | { kind: 'none' } | { kind: 'percent'; percent: number };

/** "any" (default), "none", or a share of failures tolerated, e.g. "5%" or "5". */
export function parseFailOn(value: string): FailOn {
  if (value === 'any' || value === 'none') return { kind: value };
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
  const p = m ? Number(m[1]) : NaN;
  if (!(p >= 0 && p <= 100)) throw usage(`--fail-on "${value}": expected any, none, or a percentage such as 5%`);
  return { kind: 'percent', percent: p };
}

export function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    throw usage(`${option} "${value}": expected one of ${choices.join(', ')}`);
  return value as T;
}

/** A parser taking one of `choices`. */
export const choice =
  <T extends string>(choices: readonly T[]) =>
  (value: string, option: string): T =>
    parseChoice(value, option, choices);

/** More sender threads than this only add start-up time and memory. */
const MAX_THREADS = 64;

/** A number of sender threads, or 'auto' (decided with the options; see threadsFor). */
export function parseThreads(value: string, option: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = parseCount(value, option);
  if (n > MAX_THREADS) throw usage(`${option} ${n}: at most ${MAX_THREADS} (one per core is what pays)`);
  return n;
}
