// --save-responses DIR: the folder the answer bodies are streamed to (src/transport/undici.ts writes them, named by
// src/util/file-names.ts). batchpost marks a folder it writes to with MARKER, so that it can tell its own folder
// from a user's: files it did not write are never replaced, whatever the flags.
import fs from 'node:fs';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';

/** Written into DIR when batchpost starts writing there; a response file's name never starts with a dot. */
export const MARKER = '.batchpost-responses';

/**
 * Makes DIR ready before anything is sent: created when missing (with its parents), taken when empty. A folder
 * that already holds saved responses is reused only by a run that continues (`continues`: --resume, --retry-failed,
 * --rerun-where) or starts over (--overwrite); re-sent ids replace their files, the others stay. A folder holding
 * anything batchpost did not write is refused (OUTPUT_EXISTS), and so is a path that is not a folder.
 */
export function prepareResponsesDir(dir: string, options: { continues: boolean; overwrite: boolean }): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw notAFolder(dir);
    if (code !== 'ENOENT') throw cannotWrite(dir, err as Error);
    entries = [];
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (mkdirErr) {
      throw cannotWrite(dir, mkdirErr as Error);
    }
  }
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new BatchpostError(
      'OUTPUT_EXISTS',
      `--save-responses ${dir}: the folder holds files batchpost did not write, so it is not written into`,
      'Give --save-responses a new or empty folder.',
    );
  }
  if (entries.some((name) => name !== MARKER) && !options.continues && !options.overwrite) {
    throw new BatchpostError(
      'OUTPUT_EXISTS',
      `--save-responses ${dir}: the folder already holds saved responses`,
      'Add --resume to continue that run, --overwrite to replace the files of the ids sent again, or give a new folder.',
    );
  }
  try {
    fs.writeFileSync(path.join(dir, MARKER), 'Answer bodies saved by batchpost run --save-responses.\n');
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw cannotWrite(dir, err as Error);
  }
}

function notAFolder(dir: string): BatchpostError {
  return new BatchpostError('USAGE', `--save-responses ${dir}: not a folder`, 'Give --save-responses a folder path.');
}

function cannotWrite(dir: string, err: Error): BatchpostError {
  return new BatchpostError(
    'OUTPUT_FAILED',
    `--save-responses ${dir}: cannot write there: ${err.message}`,
    'Check that the folder can be created and written.',
    2,
  );
}
