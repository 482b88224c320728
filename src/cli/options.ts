// A command's commander options, made from the option table (src/options/table.ts): flags, help, defaults and
// --help groups, so a flag is declared in one place whichever commands take it.
import { Option, type Command } from 'commander';
import { GROUPS, type CommandName } from '../options/table.js';
import { optionsOf } from '../options/values.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const GROUP_ORDER = Object.keys(GROUPS);

/** Adds the options the table gives `command`, grouped in --help under GROUPS' headings, in their order. */
export function addOptions(cmd: Command, command: CommandName): Command {
  const options = optionsOf(command).sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
  for (const o of options) {
    const option = new Option(o.spec.flags, o.help).helpGroup(GROUPS[o.group]);
    if (o.required) option.makeOptionMandatory();
    if (o.spec.repeatable) option.argParser(collect);
    if (o.default !== undefined) option.default(typeof o.default === 'string' ? o.default : [...o.default]);
    cmd.addOption(option);
  }
  return cmd;
}

/** Help text closing a command's --help: its examples, one command a line. */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}\n`).join('')}`;
}
