// `batchpost completion bash|zsh|fish`: prints the shell's completion script, made from the program's commands
// and the option table each time, so it lists what this version of batchpost takes.
import { Argument, type Command } from 'commander';
import type { CommandHost } from '../io.js';
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { completionModel } from './model.js';
import { zshScript } from './zsh.js';

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;
type Shell = keyof typeof SCRIPTS;

export function addCompletionCommand(program: Command, host: CommandHost): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(Object.keys(SCRIPTS)))
    .addHelpText(
      'after',
      '\nInstall (see README.md):\n' +
        '  source <(batchpost completion bash)     # in ~/.bashrc\n' +
        '  source <(batchpost completion zsh)      # in ~/.zshrc, after compinit\n' +
        '  batchpost completion fish > ~/.config/fish/completions/batchpost.fish\n',
    )
    .action((shell: Shell) => {
      host.io.stdout.write(SCRIPTS[shell](completionModel(program)));
      host.exit(0);
    });
}
