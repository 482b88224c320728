// The files a run writes besides --out (--failed and the reports) follow --out's rule: an existing file is never
// replaced by surprise. A report is replaced only when it is one batchpost wrote and the command says so
// (--overwrite, or a continuation that rewrites the run's reports); --failed lists payloads, which look like any
// input, so only the command's word counts for it.
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';

export type WrittenKind = 'failed' | 'html' | 'junit' | 'summary';

/** What the first bytes of a report batchpost wrote look like, by kind. */
const OWN_HEAD: Record<Exclude<WrittenKind, 'failed'>, RegExp> = {
  html: /<meta name="generator" content="batchpost[ "]/,
  junit: /<testsuites name="batchpost"/,
  summary: /^\s*\{\s*"batchpost"\s*:/,
};
const PEEK_BYTES = 4096;

export interface ReplaceOptions {
  /** --overwrite was given. */
  overwrite: boolean;
  /** --resume, --retry-failed or --rerun-where: the run goes on with the files of the one before. */
  continuing: boolean;
}

/** Throws OUTPUT_EXISTS when writing `file` (for `flag`) would replace a file the user did not say may go. */
export function assertReplaceable(flag: string, file: string | null, kind: WrittenKind, o: ReplaceOptions): void {
  if (file === null || file === '-' || !isNonEmptyFile(file)) return;
  if (kind !== 'failed' && !OWN_HEAD[kind].test(peek(file))) {
    throw new BatchpostError(
      'OUTPUT_EXISTS',
      `${flag} ${file} exists and is not a report batchpost wrote, so it is not replaced`,
      `Give ${flag} a new file, or remove that one first if it really is to go.`,
    );
  }
  if (o.overwrite || o.continuing) return;
  throw new BatchpostError(
    'OUTPUT_EXISTS',
    `${flag} ${file} already exists`,
    `Add --overwrite to replace it, or give ${flag} a new file.`,
  );
}

function isNonEmptyFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && stat.size > 0;
  } catch {
    return false;
  }
}

function peek(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(PEEK_BYTES);
      return buf.toString('utf8', 0, fs.readSync(fd, buf, 0, PEEK_BYTES, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return ''; // unreadable: nothing shows it is batchpost's
  }
}
