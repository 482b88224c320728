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
