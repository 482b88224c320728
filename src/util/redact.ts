// Secrets never reach any output: header values whose name says credential, URL passwords and query parameters
// named like one, wherever batchpost shows them (reports, result error messages, usage errors, dry runs, the
// commands it prints for continuing a run, serve logs). The one place that decides what counts as a secret.

const SECRET_NAME = /authorization|cookie|token|secret|key|password|passw|pwd|auth|session|credential|signature|^sig$/i;
export const REDACTED = '[redacted]';

/** Names of the headers --auth-command printed (lower case): secret whatever they are called. */
const secretNames = new Set<string>();

/** Header names like Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Session-Id: their values are secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || (secretNames.size > 0 && secretNames.has(name.toLowerCase()));
}

/** A header name whose values are secret from now on in this process, whatever it is called. */
export function markSecretName(name: string): void {
  secretNames.add(name.toLowerCase());
}

/** Header name → value (or values), with secret values replaced. */
export function redactHeaders<V extends string | string[]>(headers: Record<string, V>): Record<string, V | string> {
  const out: Record<string, V | string> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretName(name) ? REDACTED : value;
  return out;
}

/**
 * One "Name: value" header as given to -H (`@FILE` stays: it names a file, not a secret). Text without a colon is
 * not a header, but may still be one mistyped ("Authorization Bearer …"): past its first word it is hidden.
 */
export function redactHeaderArg(header: string, mark = REDACTED): string {
  const i = header.indexOf(':');
  if (i <= 0) {
    const word = /^\S*/.exec(header)![0];
    return isSecretName(header) && word !== header ? `${word} ${mark}` : header;
  }
  return isSecretName(header.slice(0, i).trim()) ? `${header.slice(0, i)}: ${mark}` : header;
}

// A value runs to the next & or #, or to whitespace or the end less any punctuation that ends a sentence
// ("…?token=abc: no answer" keeps its colon). A value already redacted is taken whole, so redacting twice changes
// nothing.
const QUERY_PARAM = /([?&;])([^=&#\s]*)=(\[redacted\]|<hidden>|[^&#\s]*?)(?=[&#]|[:;,.)\]]*(?:\s|$))/g;
// `user:password@` keeps the user; a lone `token@` is all secret.
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(:[^/@\s]*)?@/gi;

/**
 * Any URLs inside `text` (a URL itself, or an error message naming one): the password of `user:pass@` and the
 * values of query parameters named like secrets (`?api_key=…`, `&token=…`) are replaced. Templates stay as is.
 */
export function redactUrls(text: string, mark = REDACTED): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text
    .replace(USERINFO, (_m, scheme: string, user: string, pass?: string) =>
      pass === undefined ? `${scheme}${mark}@` : `${scheme}${user}:${mark}@`,
    )
    .replace(QUERY_PARAM, (m, sep: string, name: string) =>
      isSecretName(safeDecode(name)) ? `${sep}${name}=${mark}` : m,
    );
}

// In a message that echoes what was typed: a credential scheme's token, a quoted "Name: value" header, and the
// value of `--option=value` (an option batchpost did not understand may well be a secret given by mistake).
const SCHEME_TOKEN = /\b(Bearer|Basic|Digest)\s+(?!\[redacted\])[^\s'"]+/g;
const QUOTED_HEADER = /(['"])([\w-]+)\s*:[^'"\n]*\1/g;
const OPTION_VALUE = /(^|[\s'"])(--[\w-]+)=[^\s'"]+/g;

/**
 * A message that may echo a command line's words (a usage error, an unknown option): URLs, credential tokens,
 * secret headers and `--option=value` values are replaced.
 */
export function redactText(text: string, mark = REDACTED): string {
  return redactUrls(text, mark)
    .replace(SCHEME_TOKEN, (_m, scheme: string) => `${scheme} ${mark}`)
    .replace(QUOTED_HEADER, (m, q: string, name: string) => (isSecretName(name) ? `${q}${name}: ${mark}${q}` : m))
    .replace(OPTION_VALUE, (_m, before: string, option: string) => `${before}${option}=${mark}`);
}

/**
 * A JSON value (a response body) with the values of object keys named like secrets replaced, to any depth, and
 * URLs in strings redacted. Bodies often echo what they were sent (headers, tokens).
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrls(value);
  if (value === null || typeof value !== 'object' || depth > 20) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? REDACTED : redactValue(v, depth + 1);
  return out;
}

/**
 * A command line as argv (without "batchpost"), with header values and URLs redacted: `-H "Authorization: …"`,
 * `--header=…`, `-HCookie:…`, `--url …` / `-u …` / `--url=…`. `mark` replaces each secret.
 */
export function redactArgv(argv: readonly string[], mark = REDACTED): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-H' || a === '--header') && i + 1 < argv.length) {
      out.push(a, redactHeaderArg(argv[++i]!, mark));
    } else if (a.startsWith('--header=')) {
      out.push(`--header=${redactHeaderArg(a.slice('--header='.length), mark)}`);
    } else if (a.startsWith('-H') && !a.startsWith('--')) {
      out.push(`-H${redactHeaderArg(a.slice(2), mark)}`);
    } else {
      out.push(redactUrls(a, mark));
    }
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
