// Numbers a double cannot hold (an id of 19 digits, 1e400, 0.1000000000000000000001) keep their source text:
// a payload's ids, URLs, --body output and --serialize-by keys must name what the input says, not its nearest
// double. Such a number is parsed into an ExactNumber, which carries the text. Parsing stays JSON.parse: a cheap
// test on the source text picks the rare payloads that may hold one, a scan of those finds the numbers that
// really lose something, and only then is the text parsed again with those numbers held as text.
// (No library: lossless-json would parse every number through a JavaScript parser, and Node 20's JSON.parse has
// no access to a number's source text.)
import { randomBytes } from 'node:crypto';

/** A JSON number kept as its exact source text, because a double would change it. */
export class ExactNumber {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }

  valueOf(): number {
    return Number(this.text);
  }

  /** A marker jsonText() turns back into the bare number text (JSON.stringify can only write a string here). */
  toJSON(): string {
    return MARK + this.text;
  }
}

// Random per process, so that no payload text can pose as a marker. Starts with NUL, which JSON.stringify
// writes as the escape \u0000: the escaped form is what jsonText looks for.
const NONCE = randomBytes(8).toString('hex');
const MARK = `\u0000${NONCE}:`;
const MARK_IN_JSON = `"\\u0000${NONCE}:`;
const MARKED = new RegExp(`"\\\\u0000${NONCE}:([^"]*)"`, 'g');

/** JSON.stringify that writes ExactNumbers as their source text (typed, like it, as always giving a string). */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify gives undefined for undefined or a function, whatever its declared type says.
  return text !== undefined && text.includes(MARK_IN_JSON) ? text.replace(MARKED, '$1') : text;
}

/** A value as text in a URL, header or key: a string as is, an exact number as written, anything else as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof ExactNumber) return value.text;
  return jsonText(value);
}

// A value (after a colon, comma or bracket) that starts with a run of 16 digits or dots, or has an exponent: only
// then may a number lose something as a double (15 significant digits always survive). Anchored so that hex text
// inside strings (a UUID's "0e8") does not match; a string that matches merely costs the scan below.
const MAY_BE_INEXACT = /(?:^|[:,[])[\t\n\r ]*-?(?:[0-9.]{16}|[0-9.]*[eE])/;

/**
 * JSON.parse(text), with the numbers a double would change held as ExactNumbers. Throws what JSON.parse throws.
 */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!MAY_BE_INEXACT.test(text)) return value;
  const spans = inexactNumbers(text);
  return spans.length === 0 ? value : parseMarked(text, spans);
}

/** [start, end) of every number in the (valid) JSON text whose double is not the number written. */
function inexactNumbers(text: string): number[] {
  const spans: number[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = stringEnd(text, i);
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      if (!isExactNumber(text.slice(i, j))) spans.push(i, j);
      i = j - 1;
    }
  }
  return spans;
}

/** Index of the quote closing the string that opens at `open`. */
export function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** Whether the double nearest to the JSON number `text` is that very number (trailing zeros aside). */
export function isExactNumber(text: string): boolean {
  const double = Number(text);
  if (!Number.isFinite(double)) return false;
  return decimal(text) === decimal(String(double));
}

/** A number's decimal value as sign, significant digits and exponent: equal texts mean equal numbers. */
function decimal(text: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null) return text;
  const fraction = m[3] ?? '';
  let digits = (m[2] ?? '') + fraction;
  let exponent = Number(m[4] ?? 0) - fraction.length;
  digits = digits.replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  if (trimmed === '') return '0';
  return `${m[1]}${trimmed}e${exponent}`;
}

/** Parses `text` with the numbers at `spans` held as ExactNumbers (written as marked strings, then swapped). */
function parseMarked(text: string, spans: number[]): unknown {
  let marked = '';
  let last = 0;
  for (let k = 0; k < spans.length; k += 2) {
    marked += text.slice(last, spans[k]) + JSON.stringify(MARK + text.slice(spans[k], spans[k + 1]));
    last = spans[k + 1]!;
  }
  const root: unknown = JSON.parse(marked + text.slice(last));
  if (typeof root === 'string') return unmark(root);
  // Iterative: a deeply nested payload must not overflow the stack here.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    const container = node as Record<string, unknown>;
    for (const key of Object.keys(container)) {
      const v = container[key];
      if (typeof v === 'string') {
        const u = unmark(v);
        if (u === v) continue;
        // A "__proto__" key read by JSON.parse is an own property: assigning to it would set the prototype.
        Object.defineProperty(container, key, { value: u, enumerable: true, writable: true, configurable: true });
      } else if (v !== null && typeof v === 'object') stack.push(v);
    }
  }
  return root;
}

function unmark(s: string): unknown {
  return s.startsWith(MARK) ? new ExactNumber(s.slice(MARK.length)) : s;
}
