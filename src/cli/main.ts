// The batchpost command line: commander parses, each command lives in its own file and gets the process's streams
// and signals handed to it (io.ts), so the whole program also runs inside a test. Usage errors exit 2 with a line
// naming the option; a BatchpostError prints its message, code and hint, never a stack trace, and exits as the
// error table says; anything else is a bug: exit 1 with its stack. bin/batchpost.js exits with main's code.
import { Command, CommanderError, type Option } from 'commander';
import type { CommandName } from '../options/table.js';
import { addCompletionCommand } from './completion/index.js';
import { applyConfig, CONFIG_ENV, readConfig } from './config-file.js';
import { describeError } from './errors.js';
import { EXIT } from './exit.js';
import { processIO, type CliIO, type CommandHost } from './io.js';
import { addReportCommand } from './report.js';
import { addRunOptions, type RunFlags } from './run-options.js';
import { runCommand } from './run.js';
import { addServeCommand } from './serve.js';
import { isCurlDataFlag, usageHint } from './usage-hints.js';
import { packageVersion } from './version.js';
import { addWorkerCommand } from './worker.js';
import { redactText } from '../util/redact.js';

/**
 * Commander checks required options before unknown ones, so `--ur x` would be reported as "--url not specified"
 * and its "Did you mean --url?" never shown: an unknown option is the real mistake and is reported first. curl's
 * -d/--data get no "Did you mean" (it would name an unrelated flag): main's hint says what to do instead.
 * `missingMandatoryOptionValue` and `unknownOption` are commander's own error methods (commander 14).
 */
interface CommanderErrors {
  missingMandatoryOptionValue(option: Option): void;
  unknownOption(flag: string): void;
}
const commander = Command.prototype as unknown as CommanderErrors;

/** Where a command finds its config file: the environment, and what to do once a file was read. */
interface ConfigSource {
  env: CliIO['env'];
  /** The file came from $BATCHPOST_CONFIG, not --config. */
  usedFromEnv(file: string): void;
}

class BatchpostCommand extends Command implements CommanderErrors {
  private unknownSeen: string[] = [];
  configSource: ConfigSource | null = null;

  override createCommand(name?: string): Command {
    const cmd = new BatchpostCommand(name);
    cmd.configSource = this.configSource;
    return cmd;
  }

  override parseOptions(argv: string[]): ReturnType<Command['parseOptions']> {
    const parsed = super.parseOptions(argv);
    this.unknownSeen = parsed.unknown;
    // Before commander checks required options: --url may come from the file.
    if (!parsed.unknown.some((a) => a === '-h' || a === '--help')) this.readConfigFile();
    return parsed;
  }

  /** --config, else $BATCHPOST_CONFIG, for the commands taking --config. */
  private readConfigFile(): void {
    const source = this.configSource;
    if (source === null || !this.options.some((o) => o.long === '--config')) return;
    const typed = this.getOptionValue('config') as string | undefined;
    const file = typed ?? (source.env[CONFIG_ENV] || undefined);
    if (file === undefined) return;
    applyConfig(this, readConfig(file, this.name() as CommandName));
    if (typed === undefined) source.usedFromEnv(file);
  }

  missingMandatoryOptionValue(option: Option): void {
    const unknown = this.unknownSeen[0];
    if (unknown !== undefined && unknown.startsWith('-') && unknown !== '-' && unknown !== '--')
      return this.unknownOption(unknown);
    commander.missingMandatoryOptionValue.call(this, option);
  }

  unknownOption(flag: string): void {
    if (!isCurlDataFlag(flag)) return commander.unknownOption.call(this, flag);
    this.error(`error: unknown option '${flag}'`, { code: 'commander.unknownOption' });
  }
}

export function buildProgram(outer: CommandHost): Command {
  const { io } = outer;
  // The words a command repeats in the commands it prints: a config file named by the environment is added, so
  // a printed command works where the variable is not set.
  const argv = [...outer.argv];
  const host: CommandHost = { argv, io, exit: (code) => outer.exit(code) };
  const program = new BatchpostCommand('batchpost');
  program.configSource = { env: io.env, usedFromEnv: (file) => argv.push('--config', file) };
  program
    .description('Send a file of JSON payloads as HTTP requests, many at a time, and write one result per request.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => (io.stdout.isTTY === true && io.stdout.columns) || 80,
      getErrHelpWidth: () => (io.stderr.isTTY === true && io.stderr.columns) || 80,
      outputError: (text, write) => write(`batchpost: ${redactText(text.replace(/^error: /, ''))}`),
    })
    .showSuggestionAfterError();
  addRunOptions(
    program
      .command('run')
      .description('send every payload of a JSON/NDJSON file (or - for stdin) and record one result per request')
      .argument('<input>', 'file of payloads (NDJSON or a JSON array), or - for stdin'),
  ).action(async (input: string, flags: RunFlags) => host.exit(await runCommand(input, flags, host)));
  addReportCommand(program, host);
  addServeCommand(program, host);
  addWorkerCommand(program, host);
  addCompletionCommand(program, host);
  return program;
}

/** Runs the command line `argv` (the words after "batchpost") and returns its exit code; never exits itself. */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram({ argv, io, exit: (c) => (code = c) });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.OK;
      const hint = usageHint(err.code, argv);
      if (hint !== undefined) io.stderr.write(`  ${redactText(hint)}\n`);
      return EXIT.INPUT;
    }
    const { text, exitCode } = describeError(err);
    io.stderr.write(text);
    return exitCode;
  }
}
