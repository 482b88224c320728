// Character helpers shared by the readers. Whitespace means JSON's four (space, tab, CR, LF), not Unicode's:
// a line JSON.parse would reject must not become "blank" and vanish, and the byte-level counter in count.ts
// must agree with the readers on what a blank line is.

import type { InputRecord } from './types.js';

const LF = 0x0a;
const CR = 0x0d;
export const BOM = '\ufeff';

export function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}

/** Like String#trim but for JSON whitespace only; returns `text` itself when there is nothing to trim. */
export function trimJson(text: string): string {
  let end = text.length;
  while (end > 0 && isJsonSpace(text.charCodeAt(end - 1))) end--;
  let start = 0;
  while (start < end && isJsonSpace(text.charCodeAt(start))) start++;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

export function trimJsonEnd(text: string): string {
  let end = text.length;
  while (end > 0 && isJsonSpace(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Index of the first non-whitespace character at or after `from`, or -1. */
export function firstNonSpace(text: string, from = 0): number {
  for (let i = from; i < text.length; i++) if (!isJsonSpace(text.charCodeAt(i))) return i;
  return -1;
}

/** The fatal record of a payload longer than ReadOptions.maxLineSize. */
export function tooLarge(line: number, what: string, limit: number): InputRecord {
  const error = `this ${what} is longer than --max-line-size (${limit} bytes), so it is not read`;
  return { line, error, fatal: true, code: 'INPUT_TOO_LARGE' };
}
