// Loading csv-stringify and csv-parse as ES modules is a noticeable share of start-up (docs/benchmarks.md), which every
// run would pay; only `--format csv` and a CSV failures file need them. So they are required on first use, from the
// CommonJS builds the packages ship (the same code, one file each, loaded synchronously where the caller needs a row).
import { createRequire } from 'node:module';
import type { stringify as Stringify } from 'csv-stringify/sync';
import type { parse as Parse } from 'csv-parse/sync';

const require = createRequire(import.meta.url);

let stringify: typeof Stringify | undefined;
let parse: typeof Parse | undefined;

export const stringifyCsv: typeof Stringify = (...args) =>
  (stringify ??= (require('csv-stringify/sync') as { stringify: typeof Stringify }).stringify)(...args);

export const parseCsv = ((...args: Parameters<typeof Parse>) =>
  (parse ??= (require('csv-parse/sync') as { parse: typeof Parse }).parse)(...args)) as typeof Parse;
