// The man page, made at build time (scripts/build-man.mjs) from the program's commands, the option table (every
// flag of every command, with its group, default and listed values) and the README's sections, so `man batchpost`
// says what --help and the README say.
import type { Command } from 'commander';
import { choicesOf } from '../../options/parse.js';
import { GROUPS, type CommandName } from '../../options/table.js';
import { optionsOf, type CommandOption } from '../../options/values.js';
import { escapeText, inline, markdownToRoff } from './roff.js';

export interface ManSources {
  program: Command;
  readme: string;
  version: string;
  /** The docs/ pages shipped with the package, for SEE ALSO. */
  docs: readonly string[];
}

/** README sections under "## Usage" that the page leaves out: the options are listed from the table instead. */
const LEFT_OUT = new Set(['Options']);
const GROUP_ORDER = Object.keys(GROUPS);
const TABLE_COMMANDS: ReadonlySet<string> = new Set<CommandName>(['run', 'serve', 'worker', 'report']);

const bold = (text: string) => `\\fB${escapeText(text)}\\fR`;
const italic = (text: string) => `\\fI${escapeText(text)}\\fR`;

function optionEntry(o: CommandOption): string[] {
  const flags = o.spec.flags.split(/,\s*/).map((f) => f.replace(/\s+<.*$/, ''));
  const value = /<([^>]+)>/.exec(o.spec.flags)?.[1];
  const tag = flags.map(bold).join(', ') + (value === undefined ? '' : ` ${italic(value)}`);
  const notes: string[] = [];
  const choices = choicesOf(o.spec.parse);
  if (choices !== null) notes.push(`One of: ${choices.join(', ')}.`);
  const fallback = Array.isArray(o.default) ? null : (o.default as string | undefined);
  if (fallback !== undefined && fallback !== null) notes.push(`Default: ${fallback}.`);
  if (o.required) notes.push('Required.');
  if (o.spec.repeatable && !/repeatable/i.test(o.help)) notes.push('Repeatable.');
  return ['.TP', tag, inline([`${o.help[0]!.toUpperCase()}${o.help.slice(1)}.`, ...notes].join(' '))];
}

function tableOptions(command: CommandName): string[] {
  const options = optionsOf(command);
  return GROUP_ORDER.flatMap((group) => {
    const inGroup = options.filter((o) => o.group === group);
    if (inGroup.length === 0) return [];
    return [
      '.PP',
      bold(GROUPS[group as keyof typeof GROUPS].replace(/:$/, '')),
      '.RS 4',
      ...inGroup.flatMap(optionEntry),
      '.RE',
    ];
  });
}

function commandSection(cmd: Command): string[] {
  const args = cmd.registeredArguments.flatMap((a) => ['.TP', italic(a.name()), inline(a.description)]);
  const options = TABLE_COMMANDS.has(cmd.name()) ? tableOptions(cmd.name() as CommandName) : [];
  return [`.SS ${bold(`batchpost ${cmd.name()}`)}`, inline(cmd.description()), ...args, ...options];
}

/** The text of a "## Title" section of the README, without its heading. */
function section(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start === -1) return '';
  const body = readme.slice(start + title.length + 5);
  const end = body.search(/\n## /);
  return end === -1 ? body : body.slice(0, end);
}

/** The README's opening paragraphs: after the title and the first example, before the first section. */
function introduction(readme: string): string {
  const beforeSections = readme.slice(0, readme.search(/\n## /));
  const afterExample = beforeSections.lastIndexOf('```\n');
  return afterExample === -1 ? '' : beforeSections.slice(afterExample + 4);
}

/** "### Title" subsections of Usage become sections of the page (EXIT CODES, SECRETS…); deeper ones subsections. */
function usageSections(readme: string): string[] {
  const usage = section(readme, 'Usage');
  const parts = usage.split(/\n(?=### )/);
  const examples = parts[0]!;
  const subsections = parts.slice(1).filter((p) => !LEFT_OUT.has(/^### (.*)/.exec(p)![1]!.trim()));
  const headings = (level: number, title: string) =>
    level <= 3 ? [`.SH ${escapeText(title.toUpperCase())}`] : [`.SS ${inline(title)}`];
  return [
    '.SH EXAMPLES',
    ...markdownToRoff(examples, headings),
    ...subsections.flatMap((s) => markdownToRoff(s, headings)),
  ];
}

export function manPage({ program, readme, version, docs }: ManSources): string {
  const synopsis = program.commands.flatMap((c) => [
    '.PP',
    `${bold(`batchpost ${c.name()}`)} ${escapeText(c.usage())}`,
  ]);
  const lines = [
    `.TH BATCHPOST 1 "" "batchpost ${escapeText(version)}" "User Commands"`,
    '.nh',
    '.ad l',
    '.SH NAME',
    `batchpost \\- ${escapeText(program.description())}`,
    '.SH SYNOPSIS',
    ...synopsis,
    '.SH DESCRIPTION',
    ...markdownToRoff(introduction(readme), () => []),
    '.SH COMMANDS',
    ...program.commands.flatMap(commandSection),
    ...usageSections(readme),
    '.SH SEE ALSO',
    inline(`The README and the docs of the package: ${docs.map((d) => `\`${d}\``).join(', ')}.`),
  ];
  return `${lines.join('\n')}\n`;
}
