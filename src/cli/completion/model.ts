// What shell completion knows, read from the commander program (itself made from the option table): the commands,
// each one's flags, the values of enumerated flags (from their parsers) and which values and arguments are files.
// A flag added to the table appears in every completion script without a line here.
import type { Command, Option } from 'commander';
import { OPTIONS } from '../../options/table.js';
import { choicesOf } from '../../options/parse.js';

export interface CompletionOption {
  /** `-u`, `--url`: the short flag first when there is one. */
  flags: string[];
  help: string;
  /** What follows the flag; null for a switch. */
  value: { name: string; choices: readonly string[] | null; file: boolean } | null;
  repeatable: boolean;
}

export interface CompletionArgument {
  name: string;
  /** Its listed values, else a file. */
  choices: readonly string[] | null;
}

export interface CompletionCommand {
  name: string;
  help: string;
  options: CompletionOption[];
  args: CompletionArgument[];
}

export interface CompletionModel {
  name: string;
  commands: CompletionCommand[];
  /** The program's own flags (--help, --version). */
  options: CompletionOption[];
}

const HELP: CompletionOption = { flags: ['-h', '--help'], help: 'show help', value: null, repeatable: false };

/** A value whose name says file (`<file>`, `<file.html>`) completes to a path. */
const isFileValue = (name: string): boolean => /file/i.test(name);

function optionOf(option: Option): CompletionOption {
  const spec = (OPTIONS as Record<string, { parse?: unknown; repeatable?: boolean }>)[option.attributeName()];
  const name = /<([^>]+)>|\[([^\]]+)\]/.exec(option.flags);
  const valueName = name === null ? null : (name[1] ?? name[2])!;
  const choices = option.argChoices ?? choicesOf(spec?.parse);
  return {
    flags: [option.short, option.long].filter((f): f is string => f !== undefined),
    help: option.description,
    value: valueName === null ? null : { name: valueName, choices: choices ?? null, file: isFileValue(valueName) },
    repeatable: spec?.repeatable === true,
  };
}

export function completionModel(program: Command): CompletionModel {
  return {
    name: program.name(),
    commands: program.commands.map((cmd) => ({
      name: cmd.name(),
      help: cmd.description(),
      options: [...cmd.options.filter((o) => !o.hidden).map(optionOf), HELP],
      args: cmd.registeredArguments.map((a) => ({ name: a.name(), choices: a.argChoices ?? null })),
    })),
    options: [...program.options.map(optionOf), HELP],
  };
}
