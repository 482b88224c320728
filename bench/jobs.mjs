#!/usr/bin/env node
// Batch jobs (serve --jobs) end to end: a LINES-line batch (default 50,000) uploaded with the openai SDK, from
// create to completed, against the fixture server's /v1/chat/completions on loopback; wall time, lines/s and
// serve's peak RSS (VmHWM), with serve's own sender alone and with `batchpost worker`s beside it.
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379) and a build (npx tsc -p tsconfig.json).
// Knobs: LINES, CONCURRENCY (per sender, default 64), WORKERS (the worker counts to try, default 0,1,2). Every wait is bounded; children are killed on exit.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'bin/batchpost.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LINES = Number(process.env.LINES ?? 50_000);
const CONCURRENCY = process.env.CONCURRENCY ?? '64';
const WORKERS = (process.env.WORKERS ?? '0,1,2').split(',').map(Number);
const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));

function start(args, readyPattern) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 30 s: ${seen}`)), 30_000);
    const on = (d) => {
      seen += String(d);
      const m = readyPattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
}

const peakRssMb = (pid) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
};

async function once(workers) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-jobs-bench-'));
  const ns = `bench-${randomBytes(4).toString('hex')}`;
  const fx = await start([path.join(ROOT, 'dist/fixtures/server.js'), '--port', '0'], /"url":"([^"]+)"/);
  const upstream = fx.match[1];
  const serve = await start(
    [
      BIN,
      'serve',
      '--url',
      upstream,
      '--port',
      '0',
      '--jobs',
      REDIS_URL,
      '--jobs-namespace',
      ns,
      '--data-dir',
      path.join(dir, 'data'),
      '--concurrency',
      CONCURRENCY,
      '-q',
    ],
    /serving on (http:\/\/\S+)/,
  ).catch((e) => Promise.reject(e));
  const url = serve.match[1];
  for (let i = 0; i < workers; i++)
    await start([BIN, 'worker', '--queue', REDIS_URL, '--jobs-namespace', ns, '--concurrency', CONCURRENCY], /serving/);
  const input = path.join(dir, 'input.jsonl');
  const out = fs.createWriteStream(input);
  for (let i = 0; i < LINES; i++)
    out.write(
      JSON.stringify({
        custom_id: `r${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'm', messages: [{ role: 'user', content: `hello ${i}` }] },
      }) + '\n',
    );
  await new Promise((r) => out.end(r));
  const client = new OpenAI({ apiKey: process.env.BATCHPOST_API_KEY, baseURL: `${url}/v1`, maxRetries: 3 });
  const file = await client.files.create({ file: fs.createReadStream(input), purpose: 'batch' });
  const t0 = performance.now();
  let b = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  const deadline = Date.now() + 30 * 60_000;
  while (b.status !== 'completed' && Date.now() < deadline) {
    if (['failed', 'expired', 'cancelled'].includes(b.status)) throw new Error(`batch ${b.status}`);
    await new Promise((r) => setTimeout(r, 200));
    b = await client.batches.retrieve(b.id);
  }
  const seconds = (performance.now() - t0) / 1000;
  const rss = peakRssMb(serve.child.pid);
  const text = await (await client.files.content(b.output_file_id)).text();
  const lines = text.split('\n').filter(Boolean).length;
  for (const c of children) c.kill('SIGTERM');
  children.clear();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    senders: 1 + workers,
    lines,
    seconds: seconds.toFixed(1),
    linesPerSecond: Math.round(LINES / seconds),
    serveRssMb: rss,
    counts: b.request_counts,
  };
}

process.env.BATCHPOST_API_KEY ??= randomBytes(16).toString('hex');
for (const workers of WORKERS) console.log(JSON.stringify(await once(workers)));
process.exit(0);
