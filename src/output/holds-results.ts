// --overwrite replaces a file only when it is batchpost's own: results in any of its formats (or nothing at
// all). Anything else a user names by mistake (the payloads, a report, a spreadsheet) is left alone.
import fs from 'node:fs';
import { CSV_COLUMNS } from './csv-sink.js';
import { gunzipHead, isGzipPath } from './gzip-file.js';

// A result line's head is short; a first line longer than this is judged by its start alone.
const PEEK_BYTES = 64 * 1024;
const NDJSON_HEAD = /^\{"id":"(?:[^"\\]|\\.)*","ok":(?:true|false)[,}]/;
const OPENAI_HEAD = /^\{"id":"batch_req_[0-9a-f]*","custom_id":"/;
const JSON_ENTRY_HEAD = /^"(?:[^"\\]|\\.)*":\{"ok":(?:true|false)[,}]/;
const CSV_HEADER = CSV_COLUMNS.join(',');

/** Whether the regular file at `path` is empty or starts like a results file batchpost writes. */
export function holdsResults(path: string): boolean {
  let head: string;
  try {
    head = peek(path);
  } catch {
    return false; // unreadable: nothing shows it is batchpost's
  }
  if (head.trim() === '') return true;
  const [first = '', second = ''] = head.split('\n');
  const line = first.replace(/\r$/, '');
  if (line === CSV_HEADER) return true;
  if (line === '{}') return true;
  if (line === '{') return JSON_ENTRY_HEAD.test(second);
  return NDJSON_HEAD.test(line) || OPENAI_HEAD.test(line);
}

function peek(path: string): string {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.alloc(PEEK_BYTES);
    const n = fs.readSync(fd, buf, 0, PEEK_BYTES, 0);
    // A .gz that is not gzip reads as '', which holds nothing: judged by its bytes instead, like any other file.
    if (isGzipPath(path) && n > 0 && buf[0] === 0x1f)
      return gunzipHead(buf.subarray(0, n)) || buf.toString('utf8', 0, n);
    return buf.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}
