// A streaming splitter for one top-level JSON array. No JSON library hands back each element's exact source
// text, which the tool needs to pass payloads through byte for byte, so this scanner only tracks strings,
// escapes and nesting depth to find where each element starts and ends; JSON.parse then judges the element.
// Bracket kinds are not matched here: a mismatch always lies inside some element, whose parse then fails.
// An array cannot be resynchronised after a bad element, so every error here is fatal and ends the scan.

import { parseJson } from '../util/exact-json.js';
import { describeParseError } from './json-error.js';
import { isJsonSpace, tooLarge, trimJsonEnd } from './text.js';
import type { InputRecord, Splitter } from './types.js';

// Where the scan is. Plain numbers: const enums do not survive isolatedModules.
const BEFORE_ARRAY = 0; // only whitespace so far; the next character must be '['
const BEFORE_ELEMENT = 1; // after '[' or ','
const IN_ELEMENT = 2;
const AFTER_ARRAY = 3; // after the closing ']': only whitespace may follow
const STOPPED = 4;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const LF = 0x0a;

export class ArraySplitter implements Splitter {
  /** Complete elements seen; the whole result when the splitter was made with keepText false (counting). */
  count = 0;
  private phase = BEFORE_ARRAY;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** True in BEFORE_ELEMENT after a ',' (a ']' there is a trailing comma), false right after '['. */
  private afterComma = false;
  private line: number;
  /** Offset, in the whole input, of the first character of the current line and of the current text. */
  private lineStart = 0;
  private base = 0;
  private openLine = 0;
  private closeLine = 0;
  private elementLine = 0;
  private elementColumn = 0;
  /** Text of the current element from earlier chunks (only when keeping text). */
  private parts: string[] = [];
  private partsLength = 0;

  /** keepText false: only count elements (countPayloads), building no strings and parsing nothing. */
  constructor(
    private readonly keepText: boolean,
    linesBefore = 0,
    private readonly maxSize = Infinity,
  ) {
    this.line = linesBefore + 1;
  }

  get stopped(): boolean {
    return this.phase === STOPPED;
  }

  push(text: string, out: InputRecord[]): void {
    // State lives in locals for the loop (much faster than property access per character) and is written
    // back at the end; the early returns stop the scan for good, so what they leave unsaved is never read.
    if (this.phase === STOPPED) return;
    let { phase, depth, inString, escaped, line, lineStart } = this;
    const n = text.length;
    let start = phase === IN_ELEMENT ? 0 : -1; // where the current element's text begins in `text`
    let backslash = -1; // the next backslash at or after i when > i; found lazily, once per stretch
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === LF) {
        line++;
        lineStart = this.base + i + 1;
        continue;
      }
      if (phase === IN_ELEMENT) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) inString = false;
        } else if (c === QUOTE) {
          // Most strings hold no backslash: jump straight to the closing quote. (A raw newline skipped this
          // way would leave the line count short, but it makes the element invalid, which ends the scan.)
          const close = text.indexOf('"', i + 1);
          if (backslash <= i) {
            backslash = text.indexOf('\\', i + 1);
            if (backslash === -1) backslash = n;
          }
          if (close !== -1 && close < backslash) i = close;
          else inString = true;
        } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
        else if (c === CLOSE_BRACE) {
          if (depth > 0) depth--;
        } else if (c === CLOSE_BRACKET && depth > 0) depth--;
        else if ((c === COMMA || c === CLOSE_BRACKET) && depth === 0) {
          if (c === COMMA) {
            phase = BEFORE_ELEMENT;
            this.afterComma = true;
          } else {
            phase = AFTER_ARRAY;
            this.closeLine = line;
          }
          if (!this.emit(text, start, i, out)) return this.stop();
          start = -1;
        }
        continue;
      }
      if (isJsonSpace(c)) continue;
      if (phase === BEFORE_ELEMENT) {
        if (c === COMMA || (c === CLOSE_BRACKET && this.afterComma)) {
          return this.fail(out, line, emptyElement(c, this.base + i - lineStart + 1));
        }
        if (c === CLOSE_BRACKET) {
          phase = AFTER_ARRAY; // "[]": an empty array
          this.closeLine = line;
          continue;
        }
        phase = IN_ELEMENT;
        start = i;
        this.elementLine = line;
        this.elementColumn = this.base + i - lineStart + 1;
        if (c === QUOTE) inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth = 1;
        continue;
      }
      if (phase === BEFORE_ARRAY && c === OPEN_BRACKET) {
        phase = BEFORE_ELEMENT;
        this.afterComma = false;
        this.openLine = line;
        continue;
      }
      return this.stray(text, i, phase === BEFORE_ARRAY, line, this.base + i - lineStart + 1, out);
    }
    if (phase === IN_ELEMENT && this.keepText && start < n) {
      this.parts.push(start === 0 ? text : text.slice(start));
      this.partsLength += n - start;
      // Stopped before the element is held whole: joining it could exhaust memory or the longest string.
      if (this.partsLength > this.maxSize) {
        out.push(tooLarge(this.elementLine, 'array element', this.maxSize));
        return this.stop();
      }
    }
    this.phase = phase;
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.line = line;
    this.lineStart = lineStart;
    this.base += n;
  }

  /**
   * A stray character at text[i], before the array (forced json format) or after it. Its raw is the rest of the
   * line as far as this chunk goes: enough to show, and garbage never needs to be passed on whole.
   */
  private stray(text: string, i: number, beforeArray: boolean, line: number, column: number, out: InputRecord[]): void {
    const nl = text.indexOf('\n', i);
    const raw = trimJsonEnd(text.slice(i, nl === -1 ? text.length : nl));
    const error = beforeArray
      ? `not a JSON array: it should start with [ (found ${JSON.stringify(String.fromCodePoint(text.codePointAt(i)!))} at column ${column})`
      : `unexpected text after the array's closing ] at column ${column}` +
        (line > this.closeLine ? '; if each line is a payload of its own, read the input as ndjson' : '');
    out.push({ line, raw, error, fatal: true });
    this.stop();
  }

  refuse(out: InputRecord[], error: string, code: NonNullable<InputRecord['code']>): void {
    out.push({ line: this.line, error, fatal: true, code });
    this.stop();
  }

  private fail(out: InputRecord[], line: number, error: string): void {
    out.push({ line, error, fatal: true });
    this.stop();
  }

  end(out: InputRecord[]): void {
    const phase = this.phase;
    if (phase !== BEFORE_ELEMENT && phase !== IN_ELEMENT) return;
    const error = `the input ends before the array opened on line ${this.openLine} is closed (no closing ])`;
    if (phase === IN_ELEMENT && this.keepText) {
      // The element may have been cut short by a truncated file, so it is reported, not sent.
      const raw = trimJsonEnd(this.parts.join(''));
      out.push({ line: this.elementLine, raw, error: `${error}; this element may be cut short`, fatal: true });
    } else {
      out.push({ line: this.line, error, fatal: true });
    }
    this.stop();
  }

  /** Ends the element whose text in the current chunk is text[from, to); false when it is not valid JSON. */
  private emit(text: string, from: number, to: number, out: InputRecord[]): boolean {
    this.count++;
    if (!this.keepText) return true;
    const tail = text.slice(from, to);
    let raw = tail;
    if (this.parts.length > 0) {
      if (this.partsLength + tail.length > this.maxSize) {
        out.push(tooLarge(this.elementLine, 'array element', this.maxSize));
        return false;
      }
      this.parts.push(tail);
      raw = this.parts.join('');
      this.parts = [];
      this.partsLength = 0;
    } else if (raw.length > this.maxSize) {
      out.push(tooLarge(this.elementLine, 'array element', this.maxSize));
      return false;
    }
    raw = trimJsonEnd(raw);
    const line = this.elementLine;
    try {
      out.push({ line, raw, value: parseJson(raw) });
      return true;
    } catch (err) {
      const error = describeParseError(err, raw, { line, column: this.elementColumn });
      out.push({ line, raw, error, fatal: true });
      return false;
    }
  }

  private stop(): void {
    this.phase = STOPPED;
    this.parts = [];
    this.partsLength = 0;
  }
}

/** Where an element should start, c (a comma, or ] after a comma) leaves it empty. */
function emptyElement(c: number, column: number): string {
  const what = c === COMMA ? 'an empty array element (two commas in a row?)' : 'a trailing comma before the closing ]';
  return `not valid JSON (${what} at column ${column})`;
}
