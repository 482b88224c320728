// Where report files go: checked before a run starts (an hour-long run must not end in "cannot write report"),
// written behind a temporary name and renamed into place, so a reader never sees half a file; a FIFO, a device or
// /dev/stdout is written in place instead (renaming over it would replace it with a regular file).
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';
import { resultChunks } from '../output/gzip-file.js';
import {
  assertDistinctPaths,
  assertWritablePath,
  isSpecialFile,
  realPathOfNew,
  type NamedPath,
} from '../output/paths.js';

export interface ReportTargets {
  html: string | null;
  junit: string | null;
  summary: string | null;
}

export function hasTargets(t: ReportTargets): boolean {
  return t.html !== null || t.junit !== null || t.summary !== null;
}

/**
 * Refuses report paths that would collide (with each other or with `others`, e.g. the input and --out, compared
 * by the file they name, so a symlink or hard link counts), that name a folder, or whose folder does not exist or
 * is not writable. `-` is stdout, for --summary only.
 */
export function checkTargets(
  t: ReportTargets,
  flags: { html: string; junit: string; summary: string },
  others: NamedPath[],
): void {
  const named: NamedPath[] = [...others];
  for (const [key, file] of Object.entries(t) as Array<[keyof ReportTargets, string | null]>) {
    if (file === null) continue;
    const flag = flags[key];
    if (file.trim() === '' || (file === '-' && key !== 'summary'))
      throw usage(`${flag} "${file}": expected a file path`);
    named.push([flag, file]);
  }
  assertDistinctPaths(named);
  for (const [flag, file] of named.slice(others.length)) {
    // Found before anything ran, so a mistake in the command (docs/reports.md): exit 2, not OUTPUT_FAILED's 1.
    if (file !== null && file !== '-') assertWritablePath(flag, file);
  }
}

/**
 * Writes `text` to `file`: a regular (or new) file through `file.tmp-PID` and a rename, so a reader never sees
 * half of it; anything else (a FIFO, /dev/stdout, a device) in place, since renaming over it would replace it.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const target = await openReportFile(file);
  try {
    await target.handle.writeFile(text);
  } catch (err) {
    await target.discard();
    throw err;
  }
  await target.commit();
}

/** Writes `text` to a stream (`--summary -`: stdout); rejects when the stream cannot take it (EPIPE). */
export function writeToStream(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    stream.once('error', failed);
    stream.write(text, (err) => {
      stream.off('error', failed);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** A report file being written: commit() puts it in place, discard() leaves the target as it was. */
export interface ReportFile {
  handle: fs.promises.FileHandle;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

export async function openReportFile(file: string): Promise<ReportFile> {
  if (writesInPlace(file)) {
    // Appended: /dev/stdout may lead to a file a shell opened, which is not cut short.
    const handle = await fs.promises.open(file, 'a');
    return { handle, commit: () => handle.close(), discard: () => handle.close().catch(() => {}) };
  }
  // The real path: a symlink to a report stays a symlink, and its target gets the new text.
  const real = existingRealPath(file) ?? realPathOfNew(file);
  const tmp = `${real}.tmp-${process.pid}`;
  const handle = await fs.promises.open(tmp, 'w');
  const discard = async () => {
    await handle.close().catch(() => {});
    await fs.promises.unlink(tmp).catch(() => {});
  };
  const commit = async () => {
    try {
      await handle.close();
      await fs.promises.rename(tmp, real);
    } catch (err) {
      await discard();
      throw err;
    }
  };
  return { handle, commit, discard };
}

/** Whether `file` is written in place (a FIFO, a device, /dev/stdout) rather than through a temporary file. */
export function writesInPlace(file: string): boolean {
  return isSpecialFile(file) || STANDARD_STREAM.test(path.resolve(file));
}

/** The paths of a process's own descriptors: whatever they lead to is written through them, never replaced. */
const STANDARD_STREAM = /^\/(?:dev\/(?:stdout|stderr|fd\/\d+)|proc\/(?:self|\d+)\/fd\/\d+)$/;

function existingRealPath(file: string): string | null {
  try {
    return fs.realpathSync(file);
  } catch {
    return null;
  }
}

/** The results file as a relative URL from the report's folder (for links to its lines). */
export function relativeHref(fromFile: string, toFile: string): string {
  const rel = path.relative(path.dirname(path.resolve(fromFile)), path.resolve(toFile));
  return rel.split(path.sep).map(encodeURIComponent).join('/');
}

/** Lines in a file (newline bytes, plus one for a last line without its newline), streamed. */
export async function countLines(file: string): Promise<number> {
  let lines = 0;
  let last = 10;
  try {
    for await (const chunk of resultChunks(file, { tornAt: null })) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (chunk.length > 0) last = chunk[chunk.length - 1]!;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  return last === 10 ? lines : lines + 1;
}

/** `orders.ndjson` → `batchpost.orders`: a JUnit classname without the dots that Jenkins reads as packages. */
export function junitClassname(file: string | null): string {
  if (file === null || file === '-') return 'batchpost.stdin';
  const stem = path.basename(file).replace(/\.[^.]*$/, '') || 'results';
  return `batchpost.${stem.replace(/[^\w-]+/g, '_')}`;
}

function usage(message: string): BatchpostError {
  return new BatchpostError('USAGE', message);
}
