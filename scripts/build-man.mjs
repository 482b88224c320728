#!/usr/bin/env node
// Writes man/batchpost.1 (or the file given) from the built program (dist/), the option table and README.md:
// `npm run build` runs it after tsc, so the page is made offline from a clean clone and never drifts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { buildProgram } = await import(path.join(root, 'dist/src/cli/main.js'));
const { manPage } = await import(path.join(root, 'dist/src/cli/man/page.js'));

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const quiet = { write: () => true };
const io = { stdin: process.stdin, stdout: quiet, stderr: quiet, signals: process, env: {} };
const program = buildProgram({ argv: [], io, exit: () => {} });
const docs = fs
  .readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => `docs/${f}`);
const page = manPage({
  program,
  readme: fs.readFileSync(path.join(root, 'README.md'), 'utf8'),
  version: pkg.version,
  docs,
});

const out = path.resolve(process.argv[2] ?? path.join(root, 'man/batchpost.1'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, page);
