// The files a run is told to write (--out, --failed, the reports) must never be its input nor one another: a
// results file opened for writing over the payloads being read leaves nothing of either. Paths are compared by
// what they name (device and inode for an existing file, the real folder for a new one), so a symlink, a hard
// link or `./x` versus `x` is caught as the same file.
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';

/** A flag and the path given to it; a null path is not given, `-` is a standard stream and names no file. */
export type NamedPath = [flag: string, file: string | null];

/**
 * What a path names: an existing file's device and inode, or the real path a new file would get. Null for a
 * device (/dev/null, a terminal): it holds nothing, so two outputs may well share one.
 */
function identity(file: string): string | null {
  try {
    const stat = fs.statSync(file);
    if (stat.isCharacterDevice()) return null;
    return `inode:${stat.dev}:${stat.ino}`;
  } catch {
    return `path:${realPathOfNew(file)}`;
  }
}

/** The real path `file` would be created at: its folder resolved through symlinks, or as given when missing. */
export function realPathOfNew(file: string): string {
  const abs = path.resolve(file);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

/**
 * Throws USAGE naming both flags when two of `paths` are the same file. The first entry may be the input (a
 * file only read): it must not be written by any other.
 */
export function assertDistinctPaths(paths: readonly NamedPath[]): void {
  const seen: Array<[string, string, string]> = [];
  for (const [flag, file] of paths) {
    if (file === null || file === '-') continue;
    const id = identity(file);
    if (id === null) continue;
    const clash = seen.find(([, , other]) => other === id);
    if (clash) {
      const [otherFlag, otherFile] = clash;
      throw new BatchpostError(
        'USAGE',
        otherFlag === 'the input'
          ? `${flag} ${file}: that is the input file ${otherFile}; write it elsewhere`
          : `${flag} ${file}: the same file as ${otherFlag} ${otherFile}`,
        'Give every output its own file, and none of them the input.',
      );
    }
    seen.push([flag, file, id]);
  }
}

/**
 * Throws before anything is sent when `file` cannot be written: a folder, an existing file without write
 * permission, or a new file in a folder that is missing or not writable. Exit 2: a mistake in the command.
 */
export function assertWritablePath(flag: string, file: string): void {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(file);
  } catch {
    // a new file: its folder must exist and be writable
  }
  if (stat?.isDirectory()) throw new BatchpostError('USAGE', `${flag} ${file}: is a folder; give a file path`);
  const where = stat === null ? path.dirname(realPathOfNew(file)) : file;
  try {
    fs.accessSync(where, fs.constants.W_OK);
  } catch {
    throw new BatchpostError(
      'OUTPUT_FAILED',
      stat === null ? `${flag} ${file}: cannot write in ${where}` : `${flag} ${file}: the file is not writable`,
      'Check that the folder exists and is writable.',
      2,
    );
  }
}

/** Whether `file` exists and is not a regular file (a FIFO, a device, a socket): written in place, never replaced. */
export function isSpecialFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return !stat.isFile() && !stat.isDirectory();
  } catch {
    return false;
  }
}
