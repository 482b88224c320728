// NDJSON: one JSON value per line. This is the hot path, so lines are found with indexOf on decoded chunks
// (native, no regex, no readline) and each record costs the line slice, its JSON.parse and the record object.

import { parseJson } from '../util/exact-json.js';
import { describeParseError } from './json-error.js';
import { firstNonSpace, tooLarge, trimJson } from './text.js';
import type { InputRecord, Splitter } from './types.js';

const PRETTY_HINT = '; the input looks like pretty-printed JSON: one value per line is needed (e.g. jq -c)';
const YAML_HINT =
  "; the input looks like YAML, which batchpost does not read: convert it to NDJSON first (e.g. yq -o=json -I=0 '.[]' FILE)";
/** A first line only YAML starts with: a document marker or directive, a list item, an unquoted `key:`. */
const YAML_START = /^(?:---|%YAML|- |[A-Za-z_][\w.-]*\s*:(?:\s|$))/;

export class NdjsonSplitter implements Splitter {
  /** A bad line never stops NDJSON (the next line is read as if nothing happened); a line over the limit does. */
  stopped = false;
  /** Lines completed so far, blank ones included, so that line numbers match the file. */
  private line: number;
  /** The line the input's first value starts on (after leading blank lines): where YAML gives itself away. */
  private readonly firstLine: number;
  /** Pieces of a line that has not met its newline yet; joined once, so a huge line costs linear time. */
  private partial: string[] = [];
  private partialLength = 0;

  constructor(
    linesBefore = 0,
    private readonly maxSize = Infinity,
  ) {
    this.line = linesBefore;
    this.firstLine = linesBefore + 1;
  }

  push(text: string, out: InputRecord[]): void {
    let start = 0;
    let nl = text.indexOf('\n');
    if (this.stopped) return;
    if (this.partial.length > 0) {
      if (nl === -1) {
        this.partial.push(text);
        this.partialLength += text.length;
        // Stopped before the line is held whole: joining it could exhaust memory or the longest string.
        if (this.partialLength > this.maxSize) this.stop(out);
        return;
      }
      this.partial.push(text.slice(0, nl));
      const whole = this.partial.join('');
      this.partial = [];
      this.take(whole, out);
      if (this.stopped) return;
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl !== -1) {
      this.take(text.slice(start, nl), out);
      if (this.stopped) return;
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) {
      this.partial.push(start === 0 ? text : text.slice(start));
      this.partialLength = text.length - start;
      if (this.partialLength > this.maxSize) this.stop(out);
    }
  }

  refuse(out: InputRecord[], error: string, code: NonNullable<InputRecord['code']>): void {
    out.push({ line: this.line + 1, error, fatal: true, code });
    this.partial = [];
    this.stopped = true;
  }

  private stop(out: InputRecord[]): void {
    out.push(tooLarge(this.line + 1, 'line', this.maxSize));
    this.partial = [];
    this.stopped = true;
  }

  end(out: InputRecord[]): void {
    if (this.partial.length === 0 || this.stopped) return;
    const last = this.partial.join('');
    this.partial = [];
    this.take(last, out);
  }

  private take(text: string, out: InputRecord[]): void {
    if (text.length > this.maxSize) return this.stop(out);
    const line = ++this.line;
    const raw = trimJson(text); // also drops the CR of a CRLF
    if (raw.length === 0) return;
    let value: unknown;
    try {
      value = parseJson(raw);
    } catch (err) {
      const column = firstNonSpace(text) + 1;
      let error = describeParseError(err, raw, { line, column });
      // A line holding only an opening bracket is almost always the first line of an indented document.
      if (raw === '{' || raw === '[') error += PRETTY_HINT;
      else if (line === this.firstLine && YAML_START.test(raw)) error += YAML_HINT;
      out.push({ line, raw, error });
      return;
    }
    out.push({ line, raw, value });
  }
}
