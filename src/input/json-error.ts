// Turns a JSON.parse failure into the short sentence users see: `not valid JSON (<reason> at column C)`.
// V8 words the reason well but gives a 0-based "position" in the parsed text, which is not where the user
// looks, and for some failures (Node 20: `Unexpected token 'x', "..." is not valid JSON`) no position at all.
// So the reason is kept, the position becomes a line/column in the input, and when V8 gives none a small
// strict scanner finds it. This runs only on text that has already failed, so its speed does not matter.

import { isJsonSpace } from './text.js';

/** Where the parsed text's first character sits in the input (both 1-based). */
export interface Origin {
  line: number;
  column: number;
}

export function describeParseError(err: unknown, text: string, origin: Origin): string {
  const message = err instanceof Error ? err.message : String(err);
  let reason = message;
  let position = -1;
  const at = /(?: in JSON)? at position (\d+)/.exec(message);
  if (at) {
    reason = message.slice(0, at.index);
    position = Number(at[1]);
  } else if (message.startsWith('Unexpected end of JSON input')) {
    reason = 'Unexpected end of input';
    position = text.length;
  } else {
    // The echoed text is dropped: the caller shows the line itself, and V8 may have cut it anyway.
    const token = /^(Unexpected token .+?), .* is not valid JSON$/s.exec(message);
    if (token) reason = token[1]!;
    position = jsonErrorOffset(text);
  }
  if (position < 0) return `not valid JSON (${reason})`;
  return `not valid JSON (${reason} at ${where(text, position, origin)})`;
}

/** "column C", or "line L, column C" when the position is on a later line than the text's start. */
function where(text: string, position: number, origin: Origin): string {
  const lastNewline = text.lastIndexOf('\n', position - 1);
  if (lastNewline === -1) return `column ${origin.column + position}`;
  let line = origin.line;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) line++;
  return `line ${line}, column ${position - lastNewline}`;
}

/** Offset at which `text` stops being one JSON value (text.length when it ends too early), or -1 if it is valid. */
export function jsonErrorOffset(text: string): number {
  const n = text.length;
  let i = 0;
  const at = (): number => text.charCodeAt(i); // NaN past the end, which matches nothing below
  const space = (): void => {
    while (i < n && isJsonSpace(text.charCodeAt(i))) i++;
  };
  const digits = (): boolean => {
    const from = i;
    while (at() >= 0x30 && at() <= 0x39) i++;
    return i > from;
  };
  const word = (w: string): boolean => {
    for (let k = 0; k < w.length; k++, i++) if (at() !== w.charCodeAt(k)) return false;
    return true;
  };
  const number = (): boolean => {
    if (at() === 0x2d) i++;
    if (at() === 0x30) i++;
    else if (!digits()) return false;
    if (at() === 0x2e) {
      i++;
      if (!digits()) return false;
    }
    if (at() === 0x65 || at() === 0x45) {
      i++;
      if (at() === 0x2b || at() === 0x2d) i++;
      if (!digits()) return false;
    }
    return true;
  };
  const string = (): boolean => {
    i++; // the opening quote
    for (;;) {
      const c = at();
      if (!(c >= 0x20)) return false; // control character, or the end of the text
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) return false;
          }
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) return false;
      }
      i++;
    }
  };
  const value = (): boolean => {
    space();
    const c = at();
    if (c === 0x22) return string();
    if (c === 0x7b || c === 0x5b) {
      const object = c === 0x7b;
      const close = object ? 0x7d : 0x5d;
      i++;
      space();
      if (at() === close) {
        i++;
        return true;
      }
      for (;;) {
        if (object) {
          space();
          if (at() !== 0x22 || !string()) return false;
          space();
          if (at() !== 0x3a) return false;
          i++;
        }
        if (!value()) return false;
        space();
        if (at() === close) {
          i++;
          return true;
        }
        if (at() !== 0x2c) return false;
        i++;
      }
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number();
    if (c === 0x74) return word('true');
    if (c === 0x66) return word('false');
    if (c === 0x6e) return word('null');
    return false;
  };
  try {
    if (value()) {
      space();
      if (i === n) return -1;
    }
  } catch {
    return -1; // nesting deep enough to overflow the stack: no column rather than a crash
  }
  return Math.min(i, n);
}
