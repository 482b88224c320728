// Where report files go: checked before a run starts (an hour-long run must not end in "cannot write report"),
// written behind a temporary name and renamed into place, so a reader never sees half a file.
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';

export interface ReportTargets {
  html: string | null;
  junit: string | null;
  summary: string | null;
}

export function hasTargets(t: ReportTargets): boolean {
  return t.html !== null || t.junit !== null || t.summary !== null;
}

/**
 * Refuses report paths that would collide (with each other or with `others`, e.g. the input and --out), that
 * name a folder, or whose folder does not exist or is not writable.
 */
export function checkTargets(
  t: ReportTargets,
  flags: { html: string; junit: string; summary: string },
  others: Array<[string, string | null]>,
): void {
  const seen: Array<[string, string]> = others
    .filter((o): o is [string, string] => o[1] !== null && o[1] !== '-')
    .map(([f, p]) => [f, path.resolve(p)]);
  for (const [key, file] of Object.entries(t) as Array<[keyof ReportTargets, string | null]>) {
    if (file === null) continue;
    const flag = flags[key];
    if (file.trim() === '' || file === '-') throw usage(`${flag} "${file}": expected a file path`);
    const abs = path.resolve(file);
    const clash = seen.find(([, p]) => p === abs);
    if (clash) throw usage(`${flag} ${file}: the same file as ${clash[0]}`);
    seen.push([flag, abs]);
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(abs);
    } catch {
      // a new file: its folder must exist
    }
    if (stat?.isDirectory()) throw usage(`${flag} ${file}: is a folder; give a file path`);
    const dir = path.dirname(abs);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      // Found before anything ran, so a mistake in the command (docs/reports.md): exit 2, not OUTPUT_FAILED's 1.
      throw new BatchpostError(
        'OUTPUT_FAILED',
        `${flag} ${file}: cannot write in ${dir}`,
        'Check that the folder exists and is writable.',
        2,
      );
    }
  }
}

/** Writes `text` to `file` through `file.tmp-PID` and a rename. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await fs.promises.writeFile(tmp, text);
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.unlink(tmp).catch(() => {});
    throw err;
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
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
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
