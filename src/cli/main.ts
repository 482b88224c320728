// The batchpost command line: commander parses, each command lives in its own file. Usage errors exit 2 with a
// line naming the option; a BatchpostError prints its message, code and hint, never a stack trace.
import { Command, CommanderError } from 'commander';
import { BatchpostError } from '../engine/errors.js';
import { EXIT } from './exit.js';
import { addReportCommand } from './report.js';
import { addRunOptions, type RunFlags } from './run-options.js';
import { runCommand } from './run.js';
import { addServeCommand } from './serve.js';
import { addWorkerCommand } from './worker.js';

const VERSION = '0.1.0';

export function buildProgram(argv: readonly string[], exit: (code: number) => void): Command {
  const program = new Command('batchpost')
    .description('Send a file of JSON payloads as HTTP requests, many at a time, and write one result per request.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`batchpost: ${text.replace(/^error: /, '')}`) })
    .showSuggestionAfterError();
  addRunOptions(
    program
      .command('run')
      .description('send every payload of a JSON/NDJSON file (or - for stdin) and record one result per request')
      .argument('<input>', 'file of payloads (NDJSON or a JSON array), or - for stdin'),
  ).action(async (input: string, flags: RunFlags) => exit(await runCommand(input, flags, argv)));
  addReportCommand(program, exit);
  addServeCommand(program, exit);
  addWorkerCommand(program, exit);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(argv, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.OK;
      return EXIT.INPUT;
    }
    if (err instanceof BatchpostError) {
      process.stderr.write(`batchpost: ${err.message} [${err.code}]\n${err.hint ? `  ${err.hint}\n` : ''}`);
      return EXIT.INPUT;
    }
    if (err instanceof RangeError) {
      process.stderr.write(`batchpost: ${err.message} [USAGE]\n`);
      return EXIT.INPUT;
    }
    process.stderr.write(`batchpost: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
}

process.exit(await main(process.argv.slice(2)));
