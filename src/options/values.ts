// The option table read per command: the options a command takes, commander's text parsed into values, the
// library's RunOptions those give, the library's defaults, and which RunOptions travel to senders.
import type { RunOptions } from '../engine/options.js';
import { OPTIONS, type CommandName, type Group, type OptionSpec } from './table.js';
import type { FlagsOf, OptionName, SenderKey, TableDefaults, TableRunOption, ValuesOf } from './types.js';

const ENTRIES = Object.entries(OPTIONS) as [OptionName, OptionSpec][];

/** One option as one command takes it. */
export interface CommandOption {
  name: OptionName;
  spec: OptionSpec;
  /** The long flag, as messages name it. */
  flag: string;
  help: string;
  group: Group;
  /** Commander's default, as typed; switches have none. */
  default: string | readonly string[] | undefined;
  required: boolean;
}

export const isSwitch = (spec: OptionSpec): boolean => !spec.flags.includes('<');

const flagOf = (spec: OptionSpec): string => /--[\w-]+/.exec(spec.flags)![0];

/** The options `command` takes, in table order. */
export function optionsOf(command: CommandName): CommandOption[] {
  const list: CommandOption[] = [];
  for (const [name, spec] of ENTRIES) {
    const use = spec.commands[command];
    if (use === undefined) continue;
    const own = use === true ? {} : use;
    const fallback = typeof spec.default === 'boolean' ? undefined : spec.default;
    list.push({
      name,
      spec,
      flag: flagOf(spec),
      help: own.help ?? spec.help,
      group: own.group ?? spec.group,
      default: own.default === null ? undefined : (own.default ?? fallback),
      required: own.required ?? spec.required ?? false,
    });
  }
  return list;
}

function parse(spec: OptionSpec, text: unknown, flag: string): unknown {
  return spec.parse === undefined ? text : (spec.parse as (text: unknown, flag: string) => unknown)(text, flag);
}

/** Each option of `command` parsed (in table order, so the first bad one is reported); a switch not given: its default. */
export function parseFlags<C extends CommandName>(command: C, flags: FlagsOf<C>): ValuesOf<C> {
  const texts = flags as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  for (const o of optionsOf(command)) {
    const text = texts[o.name];
    values[o.name] = text !== undefined ? parse(o.spec, text, o.flag) : isSwitch(o.spec) ? o.spec.default : undefined;
  }
  return values as ValuesOf<C>;
}

/** The RunOptions the values of `command` give: each option with a RunOptions field, when it has a value. */
export function runOptionsOf<C extends CommandName>(command: C, values: ValuesOf<C>): RunOptions {
  const given = values as Record<string, unknown>;
  const options: Record<string, unknown> = {};
  for (const o of optionsOf(command)) {
    const value = given[o.name];
    if (o.spec.runOption !== undefined && value !== undefined) options[o.spec.runOption] = value;
  }
  return options as unknown as RunOptions;
}

/** The RunOptions a command's flags give (each command names its runs itself). */
export const toRunOptions = <C extends CommandName>(command: C, flags: FlagsOf<C>): RunOptions =>
  runOptionsOf(command, parseFlags(command, flags));

/** The RunOptions fields the table fills. */
export const TABLE_RUN_OPTIONS: readonly TableRunOption[] = ENTRIES.flatMap(([, spec]) =>
  spec.runOption === undefined ? [] : [spec.runOption as TableRunOption],
);

/** The RunOptions fields sender threads and workers get (SenderConfig). */
export const SENDER_KEYS: readonly SenderKey[] = ENTRIES.flatMap(([, spec]) =>
  spec.sender && spec.runOption !== undefined ? [spec.runOption as SenderKey] : [],
);

/**
 * The library's defaults for the fields the table fills: the command line's default parsed (a switch: its value
 * when absent). Fresh objects each call: a run's options are its own.
 */
export function tableDefaults(): TableDefaults {
  const defaults: Record<string, unknown> = {};
  for (const [, spec] of ENTRIES) {
    if (spec.runOption === undefined || spec.default === undefined) continue;
    defaults[spec.runOption] = isSwitch(spec) ? spec.default : parse(spec, spec.default, flagOf(spec));
  }
  return defaults as TableDefaults;
}
