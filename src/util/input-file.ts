import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';

/** Refuses a path that is missing or a directory, naming what was expected there (INPUT_NOT_FOUND). */
export function requireFile(file: string, what: string, hint: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new BatchpostError('INPUT_NOT_FOUND', `${file}: no such file`, hint);
  }
  if (stat.isDirectory()) throw new BatchpostError('INPUT_NOT_FOUND', `${file}: is a directory, not ${what}`);
}
