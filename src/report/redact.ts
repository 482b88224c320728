// Secrets never reach a report: header values whose name says credential, URL passwords and query parameters
// named like one, in the run's parameters, its command line and the error messages a report lists.

const SECRET_NAME = /authorization|cookie|token|secret|key|password|passw|pwd|auth|session|credential|signature|^sig$/i;
export const REDACTED = '[redacted]';

function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Header name → value, with secret values replaced. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretName(name) ? REDACTED : value;
  return out;
}

/** One "Name: value" header as given to -H. */
function redactHeaderArg(header: string): string {
  const i = header.indexOf(':');
  if (i <= 0) return header;
  return isSecretName(header.slice(0, i).trim()) ? `${header.slice(0, i)}: ${REDACTED}` : header;
}

// A value runs to the next & or #, or to whitespace or the end less any punctuation that ends a sentence
// ("…?token=abc: no answer" keeps its colon).
const QUERY_PARAM = /([?&;])([^=&#\s]*)=([^&#\s]*?)(?=[&#]|[:;,.)\]]*(?:\s|$))/g;
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):([^/@\s]*)@/gi;

/**
 * Any URLs inside `text` (a URL itself, or an error message naming one): the password of `user:pass@` and the
 * values of query parameters named like secrets (`?api_key=…`, `&token=…`) are replaced. Templates stay as is.
 */
export function redactUrls(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text
    .replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(QUERY_PARAM, (m, sep: string, name: string) =>
      isSecretName(safeDecode(name)) ? `${sep}${name}=${REDACTED}` : m,
    );
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
 * `--header=…`, `-HCookie:…`, `--url …` / `-u …` / `--url=…`.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-H' || a === '--header') && i + 1 < argv.length) {
      out.push(a, redactHeaderArg(argv[++i]!));
    } else if (a.startsWith('--header=')) {
      out.push(`--header=${redactHeaderArg(a.slice('--header='.length))}`);
    } else if (a.startsWith('-H') && !a.startsWith('--')) {
      out.push(`-H${redactHeaderArg(a.slice(2))}`);
    } else {
      out.push(redactUrls(a));
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
