// The zsh completion script: _arguments specs per command, made from the same model as bash's, with each flag's
// help as its description, listed values as choices and _files for paths.
import type { CompletionArgument, CompletionCommand, CompletionModel, CompletionOption } from './model.js';

/** Text inside a single-quoted _arguments spec: quotes closed and reopened, brackets and colons escaped. */
const quoted = (text: string): string => text.replace(/'/g, `'\\''`);
const described = (text: string): string => quoted(text.replace(/([[\]:\\])/g, '\\$1'));

function action(value: NonNullable<CompletionOption['value']> | CompletionArgument): string {
  const choices = value.choices;
  if (choices !== null) return `(${choices.join(' ')})`;
  return 'file' in value && !value.file ? ' ' : '_files';
}

function optionSpec(o: CompletionOption): string {
  const value = o.value === null ? '' : `:${described(o.value.name)}:${action(o.value)}`;
  const body = `[${described(o.help)}]${value}`;
  const exclusive = o.repeatable ? "'*'" : o.flags.length > 1 ? `'(${o.flags.join(' ')})'` : '';
  const names = o.flags.length > 1 ? `{${o.flags.join(',')}}` : o.flags[0]!;
  return `${exclusive}${names}'${body}'`;
}

function commandArm(cmd: CompletionCommand): string {
  const specs = [
    ...cmd.options.map(optionSpec),
    ...cmd.args.map((a, i) => `'${i + 1}:${described(a.name)}:${action(a)}'`),
  ];
  return `        ${cmd.name}) _arguments -s -S \\\n          ${specs.join(' \\\n          ')} ;;`;
}

export function zshScript(model: CompletionModel): string {
  const fn = `_${model.name}`;
  const commands = model.commands.map((c) => `    '${quoted(c.name)}:${quoted(c.help)}'`);
  return `#compdef ${model.name}
# zsh completion for ${model.name}, made by \`${model.name} completion zsh\` from its options.
# Load it now:          source <(${model.name} completion zsh)   (after compinit)
# Or for every shell:   ${model.name} completion zsh > "\${fpath[1]}/_${model.name}"

${fn}() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
${commands.join('\n')}
  )
  _arguments -C \\
    ${model.options.map(optionSpec).join(' \\\n    ')} \\
    '1: :->command' \\
    '*:: :->args'
  case $state in
    command) _describe -t commands '${model.name} command' commands ;;
    args)
      case $words[1] in
${model.commands.map(commandArm).join('\n')}
      esac ;;
  esac
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${model.name}
fi
`;
}
