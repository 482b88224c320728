#!/usr/bin/env node
// Sustained load on `batchpost serve` (dist/): a local upstream answering small JSON at once, one serve process in
// front of it, and CLIENTS callers each POSTing a batch of BATCH small JSON payloads to /batch as soon as its
// previous answer is in, for DURATION_S seconds. Reports items/s through serve, batches/s, failed items or batches,
// and serve's RSS (sampled every second, and the kernel's peak, VmHWM). Nothing is asserted: figures go to
// docs/benchmarks.md.
//
//   node bench/serve-load.mjs                       # 90 s, 8 callers, 100 payloads per batch
//   DURATION_S=30 node bench/serve-load.mjs
//   SERVE_ARGS='--concurrency 128' node bench/serve-load.mjs
//
// Plain ESM; needs `npx tsc -p tsconfig.json` first (bin/batchpost.js runs dist/). Loopback only; every wait is
// bounded; the child processes are killed by their ids on exit, Ctrl-C included.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const int = (name, fallback) => {
  const n = Number(env[name] ?? fallback);
  if (!Number.isInteger(n) || n <= 0) die(`${name}=${env[name]}: expected a positive integer`);
  return n;
};
const DURATION_S = int('DURATION_S', 90);
const CLIENTS = int('CLIENTS', 8);
const BATCH = int('BATCH', 100);
const SERVE_ARGS = (env.SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);
// Another build to measure, e.g. a copy of an earlier dist/ with its bin/ (BATCHPOST=/tmp/old/bin/batchpost.js).
const BATCHPOST = env.BATCHPOST ?? path.join(root, 'bin/batchpost.js');

const children = new Set();
function die(message) {
  process.stderr.write(`serve-load: ${message}\n`);
  cleanup();
  process.exit(2);
}
function cleanup() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => die(`${s}: stopped`));

// The upstream: node:http answering {"ok":true} at once, in a process of its own.
const UPSTREAM = `
const http = require('node:http');
const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port));
`;

/** Spawns a child and resolves with the first line matching `pattern` on the given stream (10 s at most). */
function startChild(args, stream, pattern) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return new Promise((resolve) => {
    const timer = setTimeout(() => die(`${args.join(' ')} did not start within 10 s`), 10_000);
    const early = (code) => die(`${args.join(' ')} exited (${code}) before it was ready`);
    child.once('exit', early);
    const lines = readline.createInterface({ input: child[stream] });
    lines.on('line', (line) => {
      const m = pattern.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      child.off('exit', early);
      lines.removeAllListeners('line');
      child[stream].resume();
      resolve({ child, match: m[1] });
    });
  });
}

function rssOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

const mib = (n) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

const upstream = await startChild(['-e', UPSTREAM], 'stdout', /^(http:\/\/\S+)$/);
const serve = await startChild(
  [
    BATCHPOST,
    'serve',
    '--url',
    `${upstream.match}/orders`,
    '--port',
    '0',
    '--quiet',
    '--max-items',
    String(Math.max(1000, BATCH)),
    ...SERVE_ARGS,
  ],
  'stderr',
  /serving on (http:\/\/\S+)/,
);
serve.child.once('exit', (code) => {
  if (!stopping) die(`serve exited (${code}) during the load`);
});
let stopping = false;

const batchBody = JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ sku: `A-${i}`, qty: (i % 7) + 1 })));
const pool = new Pool(serve.match, { connections: CLIENTS, pipelining: 1 });
const totals = { batches: 0, items: 0, okItems: 0, failedBatches: 0 };
const samples = [];
const sampler = setInterval(() => samples.push(rssOf(serve.child.pid).rss), 1000);

const t0 = performance.now();
const end = t0 + DURATION_S * 1000;
async function caller() {
  while (performance.now() < end) {
    try {
      const res = await pool.request({
        path: '/batch',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: batchBody,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        totals.failedBatches++;
        continue;
      }
      const summary = JSON.parse(text).summary;
      totals.batches++;
      totals.items += summary.total;
      totals.okItems += summary.ok;
    } catch {
      totals.failedBatches++;
    }
  }
}
await Promise.all(Array.from({ length: CLIENTS }, caller));
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
const { peak } = rssOf(serve.child.pid);
stopping = true;
await pool.close();

const valid = samples.filter((n) => !Number.isNaN(n));
const at = (f) => valid[Math.min(valid.length - 1, Math.floor(valid.length * f))];
console.log(
  `serve-load: ${DURATION_S} s, ${CLIENTS} callers, ${BATCH} payloads per batch, serve ${SERVE_ARGS.join(' ') || '(defaults)'}`,
);
console.log(`  items/s        ${Math.round(totals.items / seconds).toLocaleString('en-US')}`);
console.log(`  batches/s      ${(totals.batches / seconds).toFixed(1)}`);
console.log(
  `  items          ${totals.items} (${totals.items - totals.okItems} failed), ${totals.failedBatches} failed batches`,
);
console.log(
  `  serve RSS      peak ${mib(peak)}; at 10% / 50% / end of the run: ${[0.1, 0.5, 1].map((f) => mib(at(f))).join(' / ')}`,
);
serve.child.kill('SIGTERM');
await new Promise((resolve) => {
  const timer = setTimeout(resolve, 10_000);
  serve.child.once('exit', () => (clearTimeout(timer), resolve()));
});
cleanup();
