// Runs the built CLI as a user does: a child process with files, stdin, exit codes and signals.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/batchpost.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  stdin?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Kills the child if it runs longer (a test bound, not a timing assertion). */
  timeoutMs?: number;
}

export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const { child, done } = startCli(args, options);
  if (options.stdin === undefined) child.stdin!.end();
  return done;
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-test-'));
}

/** Writes payloads as NDJSON into a temp file and returns its path. */
export function ndjsonFile(dir: string, payloads: unknown[], name = 'in.ndjson'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, payloads.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return file;
}

export function parseLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export function readResults<T = Record<string, unknown>>(file: string): T[] {
  return parseLines<T>(fs.readFileSync(file, 'utf8'));
}

/** Waits until `predicate` holds, polling; rejects after `timeoutMs` (a bound, never an assertion on speed). */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Splits a POSIX shell command line into words (single quotes, double quotes, backslash escapes), so a command
 * the CLI prints for pasting can be run as printed. Throws on an unterminated quote or on shell syntax
 * (pipes, redirections, substitutions) that a plain argument list cannot express.
 */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) throw new Error(`shellWords: unterminated ' in ${command}`);
      word += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= command.length) throw new Error(`shellWords: unterminated " in ${command}`);
        const d = command[i]!;
        if (d === '"') break;
        if (d === '$' || d === '`') throw new Error(`shellWords: substitution in ${command}`);
        if (d === '\\' && i + 1 < command.length && '$`"\\\n'.includes(command[i + 1]!)) word += command[++i];
        else word += d;
      }
    } else if (c === '\\') {
      if (i + 1 >= command.length) throw new Error(`shellWords: trailing backslash in ${command}`);
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if ('|&;<>()$`*?['.includes(c) || ('#~'.includes(c) && !inWord)) {
      // Unquoted, these would be shell syntax, a glob, a comment or a home directory: not a literal argument.
      throw new Error(`shellWords: unquoted ${c} in ${command}`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** `n` payloads made by `f` from their 1-based position (default `{ n: i }`). */
export function payloads(n: number, f: (i: number) => object = (i) => ({ n: i })): object[] {
  return Array.from({ length: n }, (_, i) => f(i + 1));
}

/**
 * The two ways a run sends: from the main thread, and from sender threads (--threads). Tests of what threads must
 * keep exact (concurrency, pace, adaptive pace, per-key order, stops, crash and resume) run in both.
 */
export const THREAD_MODES: [name: string, args: string[]][] = [
  ['main thread', ['--threads', '0']],
  ['two sender threads', ['--threads', '2']],
];

/** A started CLI child with its stderr as it has arrived so far. */
export function withStderr<T extends { child: ChildProcess }>(started: T): T & { stderr: () => string } {
  let stderr = '';
  started.child.stderr!.on('data', (d: string) => (stderr += d));
  return { ...started, stderr: () => stderr };
}
