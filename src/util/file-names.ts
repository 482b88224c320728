// --save-responses names each body's file after its request id: `<stem>.<ext>`. The stem is the id
// percent-encoded (UTF-8, upper-case hex) except for `a-z`, `0-9`, `-` and `_`, so:
//   - no name holds a path separator, starts with a dot, or is `.`/`..`: nothing lands outside the folder;
//   - upper-case letters are encoded too (`A` → `%41`), so two ids never give names that differ only in case,
//     and a case-insensitive file system (macOS, Windows) cannot fold two files into one;
//   - `decodeURIComponent(stem)` gives the id back, and distinct ids give distinct stems;
//   - a stem longer than MAX_STEM bytes keeps its start and ends in `~` and a SHA-256 of the id (file names are
//     limited to 255 bytes), so it stays distinct.
// The extension comes from the answer's Content-Type (`bin` when unknown), and the first `.` in a name is always
// the one before it.
import { createHash } from 'node:crypto';

const MAX_STEM = 200;

/** The file name stem of request id `id`. */
export function fileStem(id: string): string {
  let stem = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    stem += /[a-z0-9_-]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (stem === '') return '%'; // an empty id: a lone `%` is what no other id gives
  if (stem.length <= MAX_STEM) return stem;
  const digest = createHash('sha256').update(id).digest('hex');
  return stem.slice(0, MAX_STEM - 65).replace(/%[0-9A-F]?$/, '') + '~' + digest;
}

const EXTENSIONS: Record<string, string> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/jsonl': 'jsonl',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/csv': 'csv',
  'text/markdown': 'md',
  'text/event-stream': 'txt',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/gzip': 'gz',
  'application/x-gzip': 'gz',
  'application/octet-stream': 'bin',
  'application/x-www-form-urlencoded': 'txt',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'video/mp4': 'mp4',
};

/** The extension for a Content-Type: known types by name, `+json`/`+xml` suffixes, else `bin`. */
export function extensionOf(contentType: string | string[] | undefined): string {
  const type = (typeof contentType === 'string' ? contentType : (contentType?.[0] ?? ''))
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const known = EXTENSIONS[type];
  if (known !== undefined) return known;
  if (type.endsWith('+json')) return 'json';
  if (type.endsWith('+xml')) return 'xml';
  return 'bin';
}

/** The file name of request `id`'s body, answered with `contentType`. */
export const responseFileName = (id: string, contentType: string | string[] | undefined): string =>
  `${fileStem(id)}.${extensionOf(contentType)}`;
