// The bash completion script: one function that finds the command among the words typed, then completes its
// flags, the values of the flag before the cursor (listed values, a path, or nothing for free text) and its
// arguments (listed values or paths).
import type { CompletionArgument, CompletionCommand, CompletionModel, CompletionOption } from './model.js';

const words = (list: readonly string[]): string => list.join(' ');

/** The case arms completing the value of the flag before the cursor; free text (a URL, a number) gets nothing. */
function valueArms(options: readonly CompletionOption[]): string[] {
  const arms: string[] = [];
  const free: string[] = [];
  for (const o of options) {
    if (o.value === null) continue;
    const pattern = o.flags.join('|');
    if (o.value.choices !== null)
      arms.push(`        ${pattern}) _batchpost_words "${words(o.value.choices)}"; return ;;`);
    else if (o.value.file) arms.push(`        ${pattern}) _batchpost_files; return ;;`);
    else free.push(pattern);
  }
  if (free.length > 0) arms.push(`        ${free.join('|')}) return ;;`);
  return arms;
}

function argumentLine(args: readonly CompletionArgument[]): string {
  const choices = args[0]?.choices ?? null;
  if (args.length === 0) return '      return ;;';
  return choices === null ? '      _batchpost_files ;;' : `      _batchpost_words "${words(choices)}" ;;`;
}

function commandArm(cmd: CompletionCommand): string {
  const flags = cmd.options.flatMap((o) => o.flags);
  return [
    `    ${cmd.name})`,
    '      case "$prev" in',
    ...valueArms(cmd.options),
    '      esac',
    `      if [[ $cur == -* ]]; then _batchpost_words "${words(flags)}"; return; fi`,
    argumentLine(cmd.args),
  ].join('\n');
}

export function bashScript(model: CompletionModel): string {
  const fn = `_${model.name}`;
  const names = model.commands.map((c) => c.name);
  return `# bash completion for ${model.name}, made by \`${model.name} completion bash\` from its options.
# Load it now:          source <(${model.name} completion bash)
# Or for every shell:   ${model.name} completion bash > ~/.local/share/bash-completion/completions/${model.name}

_batchpost_words() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }
_batchpost_files() { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); }

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # --flag=value: bash splits at "=", so the flag is the word before it.
  if [[ $cur == = ]]; then prev="\${COMP_WORDS[COMP_CWORD-1]}"; cur=""; fi
  if [[ $prev == = ]] && (( COMP_CWORD > 1 )); then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      ${names.join('|')}) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  COMPREPLY=()
  case "$cmd" in
${model.commands.map(commandArm).join('\n')}
    *)
      if [[ $cur == -* ]]; then _batchpost_words "${words(model.options.flatMap((o) => o.flags))}"
      else _batchpost_words "${words(names)}"; fi ;;
  esac
}
complete -F ${fn} ${model.name}
`;
}
