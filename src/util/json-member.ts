// The exact source text of one member of a JSON object's text: a request line's `body` is sent as it was written
// (number formatting, key order, escapes), as payloads are, rather than re-serialised from its parsed value.
import { stringEnd } from './exact-json.js';

/**
 * The text of member `name` of the object whose valid JSON text is `text` (the last one, as JSON.parse keeps the
 * last of duplicate keys), or undefined when it has none or the text is not an object.
 */
export function memberText(text: string, name: string): string | undefined {
  const quoted = `"${name}"`;
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  let found: string | undefined;
  for (i = skipSpace(text, i + 1); text.charCodeAt(i) === 0x22; i = skipSpace(text, i + 1)) {
    const keyEnd = stringEnd(text, i);
    const key = text.slice(i, keyEnd + 1);
    const start = skipSpace(text, skipSpace(text, keyEnd + 1) + 1); // past the colon
    const end = valueEnd(text, start);
    if (key === quoted || (key.includes('\\') && JSON.parse(key) === name)) found = text.slice(start, end);
    i = skipSpace(text, end);
    if (text.charCodeAt(i) !== 0x2c) break; // the closing brace
  }
  return found;
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Where the value starting at `i` ends (exclusive): a string, an object or array (strings inside skipped), a literal. */
function valueEnd(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      j = stringEnd(text, j);
      if (depth === 0) return j + 1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return j;
      if (--depth === 0) return j + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) return j;
  }
  return text.length;
}
