// --config FILE (or $BATCHPOST_CONFIG): a command's options kept in a JSON or YAML file, keyed by their long names
// without the dashes ({"url": "…", "concurrency": 20, "header": ["X-Team: blue"]}), as curl's -K and k6's --config
// keep the long lines CI jobs repeat. A value becomes the text a flag would have carried, so it goes through the
// same parsers and fails with the same message; the file only fills what the command line did not say.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BatchpostError } from '../engine/errors.js';
import { OPTIONS, type CommandName } from '../options/table.js';
import { isSwitch, optionsOf, type CommandOption } from '../options/values.js';

export const CONFIG_ENV = 'BATCHPOST_CONFIG';

/** One option set by the file: commander's attribute name and the value as commander would hold it. */
export interface ConfigValue {
  name: string;
  value: string | string[] | boolean;
  repeatable: boolean;
}

const invalid = (message: string) => new BatchpostError('CONFIG_INVALID', message);

/** The file's options for `command`, checked key by key; `file` as the user named it, for messages. */
export function readConfig(file: string, command: CommandName): ConfigValue[] {
  const data = parseConfigText(file, readText(file));
  const keys = keysOf(command);
  return Object.entries(data).map(([key, value]) => {
    const option = keys.get(key);
    if (option === undefined) throw unknownKey(file, key, command, keys);
    return valueOf(file, key, value, option);
  });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw invalid(`${file}: cannot read the config file: ${why}`);
  }
}

/** `.json` is read as JSON (its messages name the position); anything else as YAML, which reads JSON too. */
function parseConfigText(file: string, text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const kind = path.extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML';
    throw invalid(`${file}: not valid ${kind}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw invalid(`${file}: expected one object of options, e.g. {"url": "https://…", "concurrency": 20}`);
  return data as Record<string, unknown>;
}

/** A key names an option as its long flag does, without the dashes; `--no-X` switches also answer to `X`. */
interface KeyedOption {
  option: CommandOption;
  /** The key is X of a `--no-X` switch: its value is the option's as it is (true: on). */
  positive: boolean;
}

function keysOf(command: CommandName): Map<string, KeyedOption> {
  const keys = new Map<string, KeyedOption>();
  for (const option of optionsOf(command)) {
    if (option.name === 'config') continue;
    const long = option.flag.slice(2);
    keys.set(long, { option, positive: false });
    if (long.startsWith('no-')) keys.set(long.slice(3), { option, positive: true });
  }
  return keys;
}

function valueOf(file: string, key: string, value: unknown, keyed: KeyedOption): ConfigValue {
  const { option, positive } = keyed;
  const at = `${file}: "${key}"`;
  const repeatable = option.spec.repeatable === true;
  if (isSwitch(option.spec)) {
    if (typeof value !== 'boolean') throw invalid(`${at}: expected true or false (${option.flag} is a switch)`);
    // commander holds a `--no-X` switch as X: false when given.
    const negated = option.flag.startsWith('--no-') && !positive;
    return { name: option.name, value: negated ? !value : value, repeatable };
  }
  if (Array.isArray(value)) {
    if (!repeatable) throw invalid(`${at}: expected one value (${option.flag} is given once), not a list`);
    return { name: option.name, value: value.map((v, i) => textOf(`${at}[${i}]`, v, option)), repeatable };
  }
  const text = textOf(at, value, option);
  return { name: option.name, value: repeatable ? [text] : text, repeatable };
}

function textOf(at: string, value: unknown, option: CommandOption): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  const kind = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value;
  throw invalid(`${at}: expected a string or a number for ${option.flag}, not ${kind}`);
}

function unknownKey(file: string, key: string, command: CommandName, keys: Map<string, KeyedOption>): Error {
  if (key === 'config') return invalid(`${file}: "config": a config file cannot name another one`);
  const elsewhere = Object.values(OPTIONS)
    .filter((spec) => /--([\w-]+)/.exec(spec.flags)?.[1] === key)
    .flatMap((spec) => Object.keys(spec.commands));
  if (elsewhere.length > 0)
    return invalid(`${file}: "${key}" is not an option of batchpost ${command} (it is one of ${elsewhere.join(', ')})`);
  const near = closest(key, [...keys.keys()]);
  const hint = near === null ? '' : ` (did you mean "${near}"?)`;
  return invalid(`${file}: unknown option "${key}"${hint}; keys are long option names without the dashes`);
}

/** The known key nearest to a misspelt one, when it is near enough to be what was meant. */
function closest(key: string, known: readonly string[]): string | null {
  const normal = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k === normal ? 0 : distance(normal, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(1, Math.floor(normal.length / 3)) ? best : null;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * What to do with an existing --out is one choice: made on the command line (a printed continue command adds
 * --resume or --retry-failed), it replaces the file's, so the two never conflict.
 */
const OUT_MODE = ['resume', 'retryFailed', 'rerunWhere', 'overwrite'];

/** The part of commander's Command the file's values are set through. */
export interface OptionHolder {
  getOptionValue(name: string): unknown;
  getOptionValueSource(name: string): string | undefined;
  setOptionValueWithSource(name: string, value: unknown, source: 'config'): unknown;
}

/**
 * Sets the file's values on `cmd` where the command line did not set the option; a repeatable option gets the
 * file's values first, then the command line's (a header typed replaces the file's header of the same name).
 */
export function applyConfig(cmd: OptionHolder, values: readonly ConfigValue[]): void {
  const typed = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const outModeTyped = OUT_MODE.some(typed);
  for (const { name, value, repeatable } of values) {
    if (outModeTyped && OUT_MODE.includes(name)) continue;
    if (!typed(name)) cmd.setOptionValueWithSource(name, value, 'config');
    else if (repeatable) {
      const given = cmd.getOptionValue(name) as string[];
      const kept = name === 'header' ? withoutTypedHeaders(value as string[], given) : (value as string[]);
      cmd.setOptionValueWithSource(name, [...kept, ...given], 'config');
    }
  }
}

/**
 * The file's headers less those the command line names: a repeated -H sends every value, so a typed header that
 * is to win over the file's must take its place, not join it.
 */
function withoutTypedHeaders(fromFile: readonly string[], typed: readonly string[]): string[] {
  const nameOf = (h: string) => (h.startsWith('@') ? null : h.slice(0, h.indexOf(':')).trim().toLowerCase());
  const names = new Set(typed.map(nameOf).filter((n) => n !== null && n !== ''));
  return fromFile.filter((h) => !names.has(nameOf(h) ?? ''));
}
