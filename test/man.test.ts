// The man page: made by the build (scripts/build-man.mjs) from the option table and the README, it renders with
// groff without a warning, lists every option of every command with its listed values, carries the README's
// sections, and is shipped in the package where `man batchpost` finds it after `npm install -g`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { choicesOf } from '../src/options/parse.js';
import type { CommandName } from '../src/options/table.js';
import { optionsOf } from '../src/options/values.js';
import { ROOT, tmpDir } from './helpers/cli.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  man: string[];
  files: string[];
  scripts: Record<string, string>;
};

function run(command: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${command} could not run (.ci/run installs groff): ${r.error.message}`);
  expect({ command, status: r.status, stderr: r.stderr }).toEqual({ command, status: 0, stderr: r.stderr });
  return r;
}

let page: string;
let text: string;

beforeAll(() => {
  page = path.join(tmpDir(), 'batchpost.1');
  run(process.execPath, [path.join(ROOT, 'scripts/build-man.mjs'), page]);
  // -P-cbou: grotty without overstriking or escape sequences, so the text is plain; hyphens and minus signs as "-".
  text = run('groff', ['-man', '-Tutf8', '-P-cbou', page]).stdout.replace(/[\u2010\u2212]/g, '-');
});

test('renders with groff -man -Tutf8 without a warning (all warnings on)', () => {
  const r = run('groff', ['-man', '-Tutf8', '-ww', '-z', page]);
  expect(r.stderr).toBe('');
});

/** The COMMANDS entry of one command, its lines joined (a value list may wrap). */
function commandEntry(command: string): string {
  const commands = text.slice(text.indexOf('\nCOMMANDS\n'), text.indexOf('\nEXAMPLES\n'));
  const start = commands.indexOf(`\n   batchpost ${command}\n`);
  expect(start).toBeGreaterThan(-1);
  const rest = commands.slice(start + 1);
  const end = rest.slice(1).search(/\n {3}batchpost \w+\n/);
  return (end === -1 ? rest : rest.slice(0, end + 1)).replace(/\s+/g, ' ');
}

test.each<CommandName>(['run', 'serve', 'worker', 'report'])('lists every option of %s with its values', (command) => {
  const entry = commandEntry(command);
  for (const o of optionsOf(command)) {
    expect([o.flag, entry.includes(`${o.flag} `)]).toEqual([o.flag, true]);
    const choices = choicesOf(o.spec.parse);
    if (choices !== null) expect(entry).toContain(`One of: ${choices.join(', ')}.`);
  }
});

test("names, synopsis and the README's sections", () => {
  for (const heading of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXAMPLES', 'EXIT CODES', 'SEE ALSO'])
    expect(text).toMatch(new RegExp(`^${heading}$`, 'm'));
  expect(text).toMatch(/batchpost run \[options\] <input>/);
  expect(text).toContain('batchpost completion');
  expect(text).toMatch(/^CONFIG FILES$/m);
});

test('npm run build makes it; package.json ships it as the man page', () => {
  expect(pkg.scripts.build).toMatch(/node scripts\/build-man\.mjs/);
  expect(pkg.man).toEqual(['./man/batchpost.1']);
  expect(pkg.files).toEqual(expect.arrayContaining(['man', 'LICENSE']));
});

test('npm pack includes the page and the LICENSE', () => {
  // The build's own output, as `npm run build` writes it.
  run(process.execPath, [path.join(ROOT, 'scripts/build-man.mjs')]);
  const r = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
  const [packed] = JSON.parse(r.stdout) as [{ files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['man/batchpost.1', 'LICENSE']));
});
