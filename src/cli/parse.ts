// The value parsers live with the option table (src/options/parse.ts); the commands' own checks take them from here.
export { parseDuration, parsePositiveInt, type FailOn } from '../options/parse.js';

/** POSIX-shell quoting for the commands batchpost prints for the user to paste. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
