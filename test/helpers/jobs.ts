// serve --jobs as a user runs it: a child process on a real Redis (REDIS_URL, else 127.0.0.1:6379) with a
// namespace of its own per test, the fixture server as its upstream, and the official openai SDK as the client.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startCli, tmpDir, type CliResult } from './cli.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const API_KEY = 'test-key-' + randomBytes(12).toString('hex');

export interface Serve {
  url: string;
  child: ChildProcess;
  done: Promise<CliResult>;
  client: OpenAI;
  stderr(): string;
}

export interface JobsSetup {
  namespace: string;
  dataDir: string;
  keyFile: string;
}

export function jobsSetup(): JobsSetup {
  const dir = tmpDir();
  const keyFile = path.join(dir, 'api.key');
  fs.writeFileSync(keyFile, API_KEY + '\n');
  return { namespace: `t-${randomBytes(6).toString('hex')}`, dataDir: path.join(dir, 'data'), keyFile };
}

/** Starts serve --jobs and resolves once its ready line names its URL (within 20 s). */
export function startServe(
  setup: JobsSetup,
  upstream: string,
  extra: string[] = [],
  redisUrl = REDIS_URL,
  env?: Record<string, string>,
): Promise<Serve> {
  const args = ['serve', '--url', upstream, '--port', '0', '--jobs', redisUrl, '--jobs-namespace', setup.namespace];
  args.push('--data-dir', setup.dataDir, '--api-key-file', setup.keyFile, ...extra);
  const { child, done } = startCli(args, { timeoutMs: 180_000, env });
  let seen = '';
  child.stderr!.on('data', (d: Buffer | string) => (seen += String(d)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 20 s; stderr:\n${seen}`)), 20_000);
    const check = (): void => {
      const m = /serving on (http:\/\/\S+)/.exec(seen);
      if (m === null) return;
      clearTimeout(timer);
      child.stderr!.off('data', check);
      const url = m[1]!;
      const client = new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 });
      resolve({ url, child, done, client, stderr: () => seen });
    };
    child.stderr!.on('data', check);
    child.on('exit', () => reject(new Error(`serve exited before its ready line; stderr:\n${seen}`)));
  });
}

export function chatLine(customId: string, content: string, model = 'test-model'): string {
  return JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content }] },
  });
}

export function writeInput(setup: JobsSetup, lines: string[], name = 'input.jsonl'): string {
  const file = path.join(path.dirname(setup.dataDir), name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Polls the batch until `done` says so (every 100 ms, at most `timeoutMs`). */
export async function pollBatch(
  client: OpenAI,
  id: string,
  done: (b: OpenAI.Batches.Batch) => boolean,
  timeoutMs = 60_000,
): Promise<OpenAI.Batches.Batch> {
  const end = Date.now() + timeoutMs;
  let last: OpenAI.Batches.Batch | null = null;
  while (Date.now() < end) {
    try {
      last = await client.batches.retrieve(id);
      if (done(last)) return last;
    } catch {
      // serve restarting, or Redis away: poll again
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`batch ${id} not done within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

export interface OutLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string | null; body: unknown } | null;
  error: { code: string; message: string } | null;
}

export async function fileLines(client: OpenAI, id: string | null | undefined): Promise<OutLine[]> {
  if (id === null || id === undefined) return [];
  const text = await (await client.files.content(id)).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as OutLine);
}

export async function stopServe(s: Serve | null): Promise<void> {
  if (s === null || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  await s.done;
}
