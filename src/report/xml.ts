// XML text and attribute escaping for the JUnit file. Characters XML 1.0 cannot hold at all (most control
// characters, lone surrogates, U+FFFE/U+FFFF) become U+FFFD: an id or a server's message may contain anything.

// Control characters are what these two look for.
/* eslint-disable no-control-regex */
const NEEDS_WORK = /[&<>"'\u0000-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;
const INVALID =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/* eslint-enable no-control-regex */
const TEXT_SPECIAL = /[&<>]/g;
const ATTR_SPECIAL = /[&<>"'\t\n\r]/g;
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** Element content. */
export function xmlText(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s.replace(INVALID, '\uFFFD').replace(TEXT_SPECIAL, (c) => ENTITIES[c]!);
}

/** An attribute value (for double quotes); tabs and line breaks kept as character references. */
export function xmlAttr(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s.replace(INVALID, '\uFFFD').replace(ATTR_SPECIAL, (c) => ENTITIES[c]!);
}
