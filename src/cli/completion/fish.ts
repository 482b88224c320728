// The fish completion script: one `complete` line per flag of each command, made from the same model as bash's;
// paths only where a value or an argument is a file.
import type { CompletionCommand, CompletionModel, CompletionOption } from './model.js';

const quoted = (text: string): string => `'${text.replace(/[\\']/g, '\\$&')}'`;

function flagWords(o: CompletionOption): string {
  return o.flags.map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`)).join(' ');
}

function valueWords(o: CompletionOption): string {
  if (o.value === null) return '';
  if (o.value.choices !== null) return ` -x -a ${quoted(o.value.choices.join(' '))}`;
  return o.value.file ? ' -r -F' : ' -x';
}

function commandLines(program: string, cmd: CompletionCommand): string[] {
  const when = `-n ${quoted(`__fish_seen_subcommand_from ${cmd.name}`)}`;
  const lines = cmd.options.map(
    (o) => `complete -c ${program} ${when} ${flagWords(o)}${valueWords(o)} -d ${quoted(o.help)}`,
  );
  const arg = cmd.args[0];
  if (arg !== undefined)
    lines.push(
      arg.choices === null
        ? `complete -c ${program} ${when} -F`
        : `complete -c ${program} ${when} -a ${quoted(arg.choices.join(' '))}`,
    );
  return lines;
}

export function fishScript(model: CompletionModel): string {
  const p = model.name;
  const top = `-n __fish_use_subcommand`;
  return [
    `# fish completion for ${p}, made by \`${p} completion fish\` from its options.`,
    `# Load it now:          ${p} completion fish | source`,
    `# Or for every shell:   ${p} completion fish > ~/.config/fish/completions/${p}.fish`,
    '',
    `complete -c ${p} -f`,
    ...model.commands.map((c) => `complete -c ${p} ${top} -a ${c.name} -d ${quoted(c.help)}`),
    ...model.options.map((o) => `complete -c ${p} ${top} ${flagWords(o)} -d ${quoted(o.help)}`),
    ...model.commands.flatMap((c) => commandLines(p, c)),
    '',
  ].join('\n');
}
