// The value parsers live with the option table (src/options/parse.ts); the commands' own checks take them from here.
export { parseDuration, parsePositiveInt, type FailOn } from '../options/parse.js';
