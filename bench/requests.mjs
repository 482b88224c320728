#!/usr/bin/env node
// Request lines beside plain payloads, and gzip input's memory: `node bench/requests.mjs` after a build
// (`npx tsc -p tsconfig.json`), from the project root.
//
//   1. throughput  `batchpost run` on N plain payloads ({"data":i,"note":"payload-i"} to --url .../echo), then on
//                  the same N as request lines ({"custom_id":"r-i","method":"POST","url":"/echo","body":{…}} with
//                  --input-format requests), alternating, REPS each: payloads/s, CPU µs per request, peak RSS.
//   2. gzip memory (GZ_MB > 0) a gzip input of GZ_MB MiB uncompressed (payloads of ~10 KiB), run against /slow?ms=0
//                  (a small answer), beside the same input uncompressed: peak RSS of each, and of --dry-run.
//
// Upstream: the fixture server (dist/fixtures/server.js) on a free loopback port. Env: N (default 50000), REPS (3),
// CONC (64), GZ_MB (0: skip part 2; 1024 for the figure in docs/benchmarks.md).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const int = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const N = int('N', 50_000);
const REPS = int('REPS', 3);
const CONC = int('CONC', 64);
const GZ_MB = int('GZ_MB', 0);
const RUN_TIMEOUT_S = int('RUN_TIMEOUT_S', 1200);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-bench-requests-'));
let server = null;
const cleanup = () => {
  if (server) server.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(process.execPath, [path.join(root, 'dist/fixtures/server.js'), '--port', '0']);
    server.stdout.setEncoding('utf8').once('data', (d) => resolve(JSON.parse(d.split('\n')[0]).url));
    server.once('exit', (c) => reject(new Error(`fixture server exited ${c}`)));
  });
}

function writeLines(file, n, line) {
  const fd = fs.openSync(file, 'w');
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    chunk += line(i) + '\n';
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  return file;
}

/** One CLI run under /usr/bin/time: wall seconds, CPU seconds, peak RSS in MiB. */
function timed(args) {
  const timeFile = path.join(work, 'time.txt');
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%U %S %M', '-o', timeFile, process.execPath, path.join(root, 'bin/batchpost.js'), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: RUN_TIMEOUT_S * 1000, encoding: 'utf8' },
  );
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`batchpost ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  const [user, sys, rssKb] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { secs, cpu: user + sys, rssMiB: rssKb / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function throughput(url) {
  const plain = writeLines(path.join(work, 'plain.ndjson'), N, (i) => `{"data":${i},"note":"payload-${i}"}`);
  const lines = writeLines(
    path.join(work, 'requests.jsonl'),
    N,
    (i) => `{"custom_id":"r-${i}","method":"POST","url":"/echo","body":{"data":${i},"note":"payload-${i}"}}`,
  );
  const out = path.join(work, 'out.ndjson');
  const common = ['--out', out, '--overwrite', '--concurrency', String(CONC), '--progress', 'none'];
  const cases = {
    plain: [plain, '--url', `${url}/echo`, ...common],
    requests: [lines, '--input-format', 'requests', '--url', url, ...common],
  };
  timed(['run', ...cases.plain]); // warm-up: page cache, the server's JIT
  const runs = { plain: [], requests: [] };
  for (let rep = 0; rep < REPS; rep++)
    for (const [name, args] of Object.entries(cases)) runs[name].push(timed(['run', ...args]));
  console.log(`\n## throughput: N=${N}, --concurrency ${CONC}, fixture /echo upstream, median of ${REPS}`);
  console.log('| input | payloads/s | CPU µs / request | peak RSS |\n|---|---:|---:|---:|');
  for (const [name, rs] of Object.entries(runs)) {
    const rate = median(rs.map((r) => N / r.secs));
    const cpu = median(rs.map((r) => (r.cpu * 1e6) / N));
    console.log(
      `| ${name} | ${Math.round(rate).toLocaleString('en')} | ${cpu.toFixed(1)} | ${median(rs.map((r) => r.rssMiB)).toFixed(0)} MiB |`,
    );
  }
}

async function gzipMemory(url) {
  const pad = 'x'.repeat(10_000);
  const n = Math.ceil((GZ_MB * 1024 * 1024) / (pad.length + 40));
  const file = writeLines(path.join(work, 'big.ndjson'), n, (i) => `{"data":${i},"pad":"${pad}"}`);
  const size = fs.statSync(file).size;
  const gz = `${file}.gz`;
  const z = spawnSync('sh', ['-c', `gzip -1 -c '${file}' > '${gz}'`]);
  if (z.status !== 0) throw new Error('gzip failed');
  const args = (input) => [
    'run',
    input,
    '--url',
    `${url}/slow?ms=0`,
    '--out',
    path.join(work, 'big-out.ndjson'),
    '--overwrite',
    '--concurrency',
    String(CONC),
    '--progress',
    'none',
  ];
  console.log(
    `\n## gzip input: ${n.toLocaleString('en')} payloads, ${(size / 2 ** 20).toFixed(0)} MiB uncompressed, ${(fs.statSync(gz).size / 2 ** 20).toFixed(1)} MiB gzip`,
  );
  console.log('| input | command | seconds | peak RSS |\n|---|---|---:|---:|');
  for (const [name, input] of [
    ['gzip', gz],
    ['plain', file],
  ]) {
    const run = timed(args(input));
    console.log(`| ${name} | run | ${run.secs.toFixed(1)} | ${run.rssMiB.toFixed(0)} MiB |`);
    const dry = timed(['run', input, '--url', `${url}/slow`, '--dry-run']);
    console.log(`| ${name} | --dry-run | ${dry.secs.toFixed(1)} | ${dry.rssMiB.toFixed(0)} MiB |`);
  }
}

const url = await startServer();
console.log(`# bench/requests.mjs — ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
if (N > 0) await throughput(url);
if (GZ_MB > 0) await gzipMemory(url);
process.exit(0);
