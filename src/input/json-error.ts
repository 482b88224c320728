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
  const scan = new StrictScanner(text);
  try {
    if (scan.value()) {
      scan.space();
      if (scan.i === text.length) return -1;
    }
  } catch {
    return -1; // nesting deep enough to overflow the stack: no column rather than a crash
  }
  return Math.min(scan.i, text.length);
}

/** A JSON grammar walk that stops where the text stops being valid: each method returns false there. */
class StrictScanner {
  i = 0;

  constructor(private readonly text: string) {}

  value(): boolean {
    this.space();
    const c = this.at();
    if (c === 0x22) return this.string();
    if (c === 0x7b || c === 0x5b) return this.container(c === 0x7b);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c === 0x74) return this.word('true');
    if (c === 0x66) return this.word('false');
    if (c === 0x6e) return this.word('null');
    return false;
  }

  space(): void {
    while (this.i < this.text.length && isJsonSpace(this.text.charCodeAt(this.i))) this.i++;
  }

  /** NaN past the end, which matches nothing the scanner looks for. */
  private at(): number {
    return this.text.charCodeAt(this.i);
  }

  /** An object or an array, from its opening bracket. */
  private container(object: boolean): boolean {
    const close = object ? 0x7d : 0x5d;
    this.i++;
    this.space();
    if (this.at() === close) {
      this.i++;
      return true;
    }
    for (;;) {
      if (object) {
        this.space();
        if (this.at() !== 0x22 || !this.string()) return false;
        this.space();
        if (this.at() !== 0x3a) return false;
        this.i++;
      }
      if (!this.value()) return false;
      this.space();
      if (this.at() === close) {
        this.i++;
        return true;
      }
      if (this.at() !== 0x2c) return false;
      this.i++;
    }
  }

  private string(): boolean {
    this.i++; // the opening quote
    for (;;) {
      const c = this.at();
      if (!(c >= 0x20)) return false; // control character, or the end of the text
      if (c === 0x22) {
        this.i++;
        return true;
      }
      if (c === 0x5c && !this.escape()) return false;
      this.i++;
    }
  }

  /** From the backslash to the escape's last character. */
  private escape(): boolean {
    this.i++;
    const e = this.text[this.i];
    if (e === 'u') {
      for (let k = 0; k < 4; k++) {
        this.i++;
        if (!/[0-9a-fA-F]/.test(this.text[this.i] ?? '')) return false;
      }
      return true;
    }
    return e !== undefined && '"\\/bfnrt'.includes(e);
  }

  private number(): boolean {
    if (this.at() === 0x2d) this.i++;
    if (this.at() === 0x30) this.i++;
    else if (!this.digits()) return false;
    if (this.at() === 0x2e) {
      this.i++;
      if (!this.digits()) return false;
    }
    if (this.at() === 0x65 || this.at() === 0x45) {
      this.i++;
      if (this.at() === 0x2b || this.at() === 0x2d) this.i++;
      if (!this.digits()) return false;
    }
    return true;
  }

  private digits(): boolean {
    const from = this.i;
    while (this.at() >= 0x30 && this.at() <= 0x39) this.i++;
    return this.i > from;
  }

  private word(w: string): boolean {
    for (let k = 0; k < w.length; k++, this.i++) if (this.at() !== w.charCodeAt(k)) return false;
    return true;
  }
}
