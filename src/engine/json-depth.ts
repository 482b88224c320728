// A JSON answer nested deeper than MAX_JSON_DEPTH is kept as its text: JSON.parse takes any depth, but
// JSON.stringify (result lines, serve's answers, --transform's output) recurses and throws a RangeError on deep
// values, and a run must never stop on what a server sends. Real data nests a few dozen levels at most.

/** The deepest nesting of arrays and objects an answer may have to be kept as parsed JSON. */
export const MAX_JSON_DEPTH = 1000;

/**
 * True when `text` nests arrays or objects deeper than `max`. A value that deep needs at least 2 × (max + 1)
 * characters, so the answers of a fast run (short ones) are not scanned at all.
 */
export function nestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  if (text.length <= 2 * max + 1) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** The parsed JSON, or the text itself when it does not parse or nests deeper than MAX_JSON_DEPTH. */
export function parseJsonOrText(text: string): unknown {
  if (nestsDeeperThan(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
