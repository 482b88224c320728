// `batchpost completion bash|zsh|fish`: each script is loaded in the real shell and asked what it completes, as a
// user's TAB would: flags of each command (every one of the option table), listed values of enumerated flags,
// files for file values and arguments, commands. zsh runs interactively in a pseudo-terminal (zsh/zpty), fish
// answers `complete -C`, bash calls the completion function with COMP_WORDS. The three shells are required (.ci/run
// installs them).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { INPUT_FORMATS, type CommandName } from '../src/options/table.js';
import { optionsOf } from '../src/options/values.js';
import { ROOT, runCli, tmpDir } from './helpers/cli.js';

type Shell = 'bash' | 'zsh' | 'fish';
const SHELLS: Shell[] = ['bash', 'zsh', 'fish'];
const COMMANDS: CommandName[] = ['run', 'serve', 'worker', 'report'];

let dir: string;
const scripts: Partial<Record<Shell, string>> = {};

beforeAll(async () => {
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'orders.ndjson'), '{}\n');
  fs.writeFileSync(path.join(dir, 'my results.ndjson'), '');
  for (const shell of SHELLS) {
    const r = await runCli(['completion', shell]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    scripts[shell] = path.join(dir, `completion.${shell}`);
    fs.writeFileSync(scripts[shell], r.stdout);
  }
});

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOME: dir },
  });
  if (r.error) throw new Error(`${command} could not run (.ci/run installs bash, zsh and fish): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** bash splits words at spaces and at "=" (COMP_WORDBREAKS); the word under the cursor is the last. */
function bashComplete(line: string): string[] {
  const words = line
    .split(/ /)
    .flatMap((w) => w.split(/(=)/))
    .filter((w, i, all) => w !== '' || i === all.length - 1);
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = run('bash', [
    '--norc',
    '--noprofile',
    '-c',
    `source '${scripts.bash}'; COMP_WORDS=(${quoted}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMP_LINE='${line}'; COMP_POINT=\${#COMP_LINE}; _batchpost; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ]);
  return out.split('\n').filter((l) => l !== '');
}

function zshComplete(line: string): string[] {
  const out = run('zsh', ['-f', path.join(ROOT, 'test/helpers/zsh-complete.zsh'), scripts.zsh!, line]);
  return [...out.matchAll(/<match>(.*?)<\/match>/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
}

function fishComplete(line: string): string[] {
  const out = run('fish', ['--no-config', '-c', `source '${scripts.fish}'; complete -C '${line}'`]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t')[0]!);
}

const complete = (shell: Shell, line: string): string[] =>
  ({ bash: bashComplete, zsh: zshComplete, fish: fishComplete })[shell](line);
/** zsh starts an interactive shell and runs compinit for each line: seconds each on a busy machine. */
const SHELL_TIMEOUT_MS = 120_000;
const sorted = (list: readonly string[]) => [...list].sort();

describe.each(SHELLS)('%s', (shell) => {
  test(
    '--con offers --concurrency (and --config); --conc completes to --concurrency alone',
    () => {
      expect(sorted(complete(shell, 'batchpost run --con'))).toEqual(['--concurrency', '--config']);
      expect(complete(shell, 'batchpost run --conc')).toEqual(['--concurrency']);
    },
    SHELL_TIMEOUT_MS,
  );

  test(
    '"--format " completes to its values, --progress to its modes (json among them), --input-format too',
    () => {
      expect(sorted(complete(shell, 'batchpost run --format '))).toEqual(['csv', 'json', 'ndjson', 'openai']);
      expect(sorted(complete(shell, 'batchpost run in.ndjson --progress '))).toEqual(
        sorted(['auto', 'bar', 'json', 'lines', 'none']),
      );
      expect(sorted(complete(shell, 'batchpost run --input-format '))).toEqual(sorted(INPUT_FORMATS));
    },
    SHELL_TIMEOUT_MS,
  );

  test(
    'files for file arguments and file values; nothing for free text such as --url',
    () => {
      expect(complete(shell, 'batchpost run ord')).toEqual(['orders.ndjson']);
      expect(complete(shell, 'batchpost run orders.ndjson --out my')).toEqual(['my results.ndjson']);
      expect(complete(shell, 'batchpost report my')).toEqual(['my results.ndjson']);
      expect(complete(shell, 'batchpost run orders.ndjson --url ')).toEqual([]);
    },
    SHELL_TIMEOUT_MS,
  );

  test(
    'commands, and the shells of `completion`',
    () => {
      expect(sorted(complete(shell, 'batchpost r'))).toEqual(['report', 'run']);
      expect(sorted(complete(shell, 'batchpost completion '))).toEqual(['bash', 'fish', 'zsh']);
    },
    SHELL_TIMEOUT_MS,
  );
});

describe.each(['bash', 'fish'] as const)('%s: every flag of the option table', (shell) => {
  test.each(COMMANDS)('batchpost %s --', (command) => {
    const offered = new Set(complete(shell, `batchpost ${command} --`));
    for (const o of optionsOf(command)) {
      const long = /--[\w-]+/.exec(o.spec.flags)![0];
      expect([long, offered.has(long)]).toEqual([long, true]);
    }
    expect(offered.size).toBe(optionsOf(command).length + 1); // and --help
  });
});

test('the zsh script offers every flag of the option table, with its help', () => {
  const text = fs.readFileSync(scripts.zsh!, 'utf8');
  for (const command of COMMANDS)
    for (const o of optionsOf(command)) expect(text).toContain(/--[\w-]+/.exec(o.spec.flags)![0]);
});

test('an unknown shell: exit 2 naming the choices', async () => {
  const r = await runCli(['completion', 'powershell']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/bash, zsh, fish/);
});
