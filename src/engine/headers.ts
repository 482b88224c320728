// Header names are case-insensitive, but a headers object (from --header, a template, a $batch item) keeps them as
// written: a lookup must compare lower-cased names.

/**
 * The value of header `name` (given in lower case) in `headers`, whatever case its name is written in; a header
 * given more than once, its values joined with ", " as HTTP reads them.
 */
export function headerValue(headers: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() !== name) continue;
    const v = headers[k]!;
    return Array.isArray(v) ? v.join(', ') : v;
  }
  return undefined;
}

/** Whether `headers` has header `name` (given in lower case), whatever case its name is written in. */
export function hasHeader(headers: Readonly<Record<string, string | string[]>>, name: string): boolean {
  return headerValue(headers, name) !== undefined;
}

/**
 * The first control character in a header value but the tab, or null. CR, LF and NUL could smuggle a header; the
 * others no HTTP client sends (undici throws on them), so a value holding one is refused before it is sent.
 */
export function controlCharacter(value: string): number | null {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return c;
  }
  return null;
}

/** The message for a header value holding control character `c`. */
export function controlCharacterMessage(name: string, c: number): string {
  return `header ${name} has a control character (0x${c.toString(16).padStart(2, '0')}) in its value; line breaks, NUL and other control characters are refused`;
}
