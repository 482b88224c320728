#!/usr/bin/env node
// batchpost's own benchmark: `npm run bench` (builds, then runs this file from the project root).
//
//   1. engine     runBatch (dist/src/index.js) with a no-op transport: batchpost's per-request cost without HTTP.
//   2. cli        `batchpost run` end to end against a local upstream (nginx, else the fixture server's /echo).
//   3. memory     the same CLI run on growing inputs, peak RSS each (only with MEMORY=1 or `-- --memory`).
//   4. profile    one CLI run under node --cpu-prof, samples grouped by kind of work (only with PROFILE=1).
//
// Sizes and knobs come from the environment; see bench/README.md. Plain ESM, no dependencies beyond node and dist/.
// Traffic goes to 127.0.0.1 only; every wait and every run is bounded; child servers and temp files are removed on
// exit, Ctrl-C included.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sharesText } from './profile.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const int = (name, fallback) => {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) die(`${name}=${raw}: expected a non-negative integer`);
  return n;
};

const ENGINE_N = int('ENGINE_N', 200_000);
const ENGINE_REPS = int('ENGINE_REPS', 3);
const N = int('N', 100_000);
const REPS = Math.max(1, int('REPS', 3));
const CONC = Math.max(1, int('CONC', 64));
const BATCHPOST_ARGS = (env.BATCHPOST_ARGS ?? '').split(/\s+/).filter(Boolean);
const UPSTREAM = env.UPSTREAM ?? 'auto'; // auto | nginx | fixture
const MEMORY = env.MEMORY === '1' || process.argv.includes('--memory');
const PROFILE = env.PROFILE === '1';
const MEMORY_SIZES = (env.MEMORY_SIZES ?? '30000,300000,1000000').split(',').map((s) => Number(s.trim()));
const RUN_TIMEOUT_S = int('RUN_TIMEOUT_S', 600); // any single run (engine or CLI) is killed past this
const NGINX_CONF = env.NGINX_CONF ?? path.join(root, '../shared/bench/peers/nginx-upstream.conf');
const SKIP = new Set((env.SKIP ?? '').split(',').filter(Boolean)); // e.g. SKIP=engine or SKIP=cli

for (const a of process.argv.slice(2)) if (a !== '--memory') die(`unknown argument ${a} (only --memory)`);
if (MEMORY_SIZES.some((n) => !Number.isInteger(n) || n <= 0))
  die(`MEMORY_SIZES=${env.MEMORY_SIZES}: expected sizes like 30000,300000`);
if (!['auto', 'nginx', 'fixture'].includes(UPSTREAM)) die(`UPSTREAM=${UPSTREAM}: expected auto, nginx or fixture`);

// ---------------------------------------------------------------------------------------------------------------
// Clean-up: every child is spawned in its own process group and killed by that group's id; the temp dir goes too.

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-bench-'));
const children = new Set();
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) killGroup(child, 'SIGKILL');
  children.clear();
  fs.rmSync(work, { recursive: true, force: true });
}
function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // it exited in between: nothing left to stop
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}

function die(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

/** Spawns a tracked child in its own process group (so its whole tree can be killed by one id). */
function start(cmd, args, options = {}) {
  const child = spawn(cmd, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmt1 = (n) => n.toFixed(1);
const mib = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
function table(headers, rows) {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(headers));
  for (const r of rows) console.log(line(r.map(String)));
}

// ---------------------------------------------------------------------------------------------------------------
// The machine

function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.availableParallelism());
  const git =
    spawnSync('git', ['-C', root, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  console.log(`batchpost bench  ${new Date().toISOString()}`);
  console.log(
    `machine: ${nproc} cpus (nproc), ${model}, ${mib(os.totalmem()).replace(' MiB', '')} MiB RAM, ${os.type()} ${os.release()}`,
  );
  console.log(`node ${process.version}, batchpost ${git}`);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Engine overhead with a no-op transport

class NoopTransport {
  send() {
    return Promise.resolve({
      status: 200,
      statusText: '',
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  }
  close() {
    return Promise.resolve();
  }
}

async function* payloads(n) {
  for (let i = 1; i <= n; i++) yield { data: i, note: `payload-${i}` };
}

// A full GC between reps (so each starts from the same heap) and to read what a finished run leaves retained.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const settle = async () => {
  gc();
  await sleep(10);
  gc();
};

async function engineRun(runBatch, n) {
  await settle();
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 50);
  const signal = AbortSignal.timeout(RUN_TIMEOUT_S * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = runBatch(payloads(n), {
    url: 'http://127.0.0.1:9/noop',
    concurrency: CONC,
    transport: new NoopTransport(),
    signal,
  });
  let count = 0;
  let ok = 0;
  for await (const result of run) {
    count++;
    if (result.ok) ok++;
  }
  const summary = await run.summary();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  await settle();
  const heapEnd = process.memoryUsage().heapUsed; // retained after the run and a full GC: grows across reps on a leak
  if (signal.aborted) die(`engine: run of ${n} did not finish within RUN_TIMEOUT_S=${RUN_TIMEOUT_S}s`);
  if (count !== n || ok !== n || summary.ok !== n) {
    die(
      `engine: expected ${n} ok results, got ${count} results, ${ok} ok (summary: ${JSON.stringify(summary.byError)})`,
    );
  }
  return { secs, rate: n / secs, cpuUs: (cpu.user + cpu.system) / n, peakHeap, heapEnd };
}

async function engine() {
  console.log(
    `\n## 1. engine: runBatch with a no-op transport (N=${fmtInt(ENGINE_N)}, concurrency ${CONC}, ${ENGINE_REPS} rep${ENGINE_REPS === 1 ? '' : 's'} + warm-up)`,
  );
  const { runBatch } = await import(pathToFileURL(path.join(root, 'dist/src/index.js')).href);
  await engineRun(runBatch, Math.min(ENGINE_N, 50_000)); // warm-up: JIT and pools, not reported
  const rows = [];
  const reps = [];
  for (let i = 1; i <= ENGINE_REPS; i++) {
    const r = await engineRun(runBatch, ENGINE_N);
    reps.push(r);
    rows.push([`rep ${i}`, fmtInt(r.rate), fmt1(r.cpuUs), mib(r.peakHeap), mib(r.heapEnd), fmt1(r.secs)]);
  }
  if (reps.length > 1) {
    rows.push([
      'median',
      fmtInt(median(reps.map((r) => r.rate))),
      fmt1(median(reps.map((r) => r.cpuUs))),
      mib(median(reps.map((r) => r.peakHeap))),
      mib(median(reps.map((r) => r.heapEnd))),
      fmt1(median(reps.map((r) => r.secs))),
    ]);
  }
  table(['', 'payloads/s', 'cpu µs/req', 'heap peak', 'heap after gc', 'secs'], rows);
  console.log(`process peak RSS so far: ${mib(process.resourceUsage().maxRSS * 1024)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Upstream: nginx (NGINX_CONF, see bench/README.md, on a temp prefix and a free port), else the fixture server's /echo.

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

async function startUpstream() {
  const useNginx = UPSTREAM === 'nginx' || (UPSTREAM === 'auto' && onPath('nginx') && fs.existsSync(NGINX_CONF));
  if (UPSTREAM === 'nginx' && !onPath('nginx')) die('UPSTREAM=nginx but nginx is not on PATH');
  if (useNginx) {
    const port = await freePort();
    const prefix = path.join(work, 'nginx');
    fs.mkdirSync(path.join(prefix, 'logs'), { recursive: true });
    const conf = fs
      .readFileSync(NGINX_CONF, 'utf8')
      .replaceAll('127.0.0.1:18080', `127.0.0.1:${port}`)
      .replaceAll('/tmp/bench-nginx', path.join(prefix, 'bench-nginx'));
    if (!conf.includes(`127.0.0.1:${port}`)) die(`${NGINX_CONF}: no "listen 127.0.0.1:18080" to rewrite`);
    const confFile = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(confFile, conf);
    const child = start('nginx', ['-c', confFile, '-p', prefix]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    for (let i = 0; i < 100; i++) {
      if (await canConnect(port))
        return { child, url: `http://127.0.0.1:${port}/process`, name: `nginx (${NGINX_CONF}, port ${port})` };
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    die(`nginx did not start listening on 127.0.0.1:${port} within 10 s: ${stderr.trim()}`);
  }
  const server = path.join(root, 'dist/fixtures/server.js');
  const child = start(process.execPath, [server, '--port', '0', '--host', '127.0.0.1']);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const url = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10_000);
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line).url);
      } catch {
        resolve(null);
      }
    });
    child.once('exit', () => (clearTimeout(timer), resolve(null)));
  });
  if (!url) die(`fixture server did not start within 10 s: ${stderr.trim()}`);
  child.stdout.resume();
  return { child, url: `${url}/echo`, name: `fixture server (dist/fixtures/server.js, ${url}/echo)` };
}

// ---------------------------------------------------------------------------------------------------------------
// The CLI, measured: wall time from spawn to exit here; CPU (user+sys) and peak RSS from /usr/bin/time when it is
// there, else sampled from /proc every 50 ms (then CPU misses at most the last 50 ms and RSS is VmHWM).

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

function makeInput(n) {
  const file = path.join(work, `in-${n}.ndjson`);
  if (fs.existsSync(file)) return file;
  const out = fs.openSync(file, 'w');
  const r = spawnSync(
    'awk',
    [
      '-v',
      `n=${n}`,
      'BEGIN { for (i = 1; i <= n; i++) printf "{\\"data\\":%d,\\"note\\":\\"payload-%d\\"}\\n", i, i }',
    ],
    {
      stdio: ['ignore', out, 'inherit'],
    },
  );
  fs.closeSync(out);
  if (r.status !== 0) die(`awk failed making ${file}`);
  return file;
}

function procSample(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
    const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return { ticks, rssKb: Number(hwm ?? 0) };
  } catch {
    return null;
  }
}

async function cliRun(input, n, url, nodeArgs = []) {
  const out = path.join(work, 'out.ndjson');
  fs.rmSync(out, { force: true });
  const timeFile = path.join(work, 'time.txt');
  const cliArgs = [
    path.join(root, 'bin/batchpost.js'),
    'run',
    input,
    '--url',
    url,
    '--out',
    out,
    '--concurrency',
    String(CONC),
    '--progress',
    'none',
    ...BATCHPOST_ARGS,
  ];
  const [cmd, args] = TIME
    ? [TIME, ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, ...nodeArgs, ...cliArgs]]
    : [process.execPath, [...nodeArgs, ...cliArgs]];
  const t0 = performance.now();
  const child = start(cmd, args, { env: { ...env, NO_COLOR: '1' } });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  let last = null;
  const hz = 100; // USER_HZ on Linux
  const sampler = TIME ? null : setInterval(() => (last = procSample(child.pid) ?? last), 50);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), RUN_TIMEOUT_S * 1000);
  const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  const secs = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  if (sampler) clearInterval(sampler);
  if (code !== 0) {
    die(
      `batchpost run exited with ${code ?? signal} after ${secs.toFixed(1)} s (${signal === 'SIGKILL' ? `RUN_TIMEOUT_S=${RUN_TIMEOUT_S}` : 'see below'}):\n` +
        `  ${cmd} ${args.join(' ')}\n${stderr.trim()}`,
    );
  }
  let cpuS;
  let rssKb;
  if (TIME) {
    const fields = fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
    cpuS = fields[1] + fields[2];
    rssKb = fields[3];
  } else {
    cpuS = (last?.ticks ?? 0) / hz;
    rssKb = last?.rssKb ?? 0;
  }
  const { lines, ok } = await countResults(out);
  if (lines !== n) die(`results file has ${fmtInt(lines)} lines, expected exactly ${fmtInt(n)} (${out})`);
  return { secs, rate: n / secs, cpuUs: (cpuS * 1e6) / n, rssBytes: rssKb * 1024, ok };
}

async function countResults(file) {
  if (!fs.existsSync(file)) return { lines: 0, ok: 0 };
  let lines = 0;
  let ok = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    if (line.includes('"ok":true')) ok++;
  }
  return { lines, ok };
}

async function cli(upstream) {
  const extra = BATCHPOST_ARGS.length ? ` ${BATCHPOST_ARGS.join(' ')}` : '';
  console.log(
    `\n## 2. cli: batchpost run, N=${fmtInt(N)} payloads, --concurrency ${CONC}${extra}, ${REPS} rep${REPS === 1 ? '' : 's'}`,
  );
  console.log(`upstream: ${upstream.name}; cpu and RSS ${TIME ? 'from /usr/bin/time' : 'sampled from /proc'}`);
  const input = makeInput(N);
  await cliRun(makeInput(Math.min(N, 2_000)), Math.min(N, 2_000), upstream.url); // warm-up: upstream, page cache
  const reps = [];
  const rows = [];
  for (let i = 1; i <= REPS; i++) {
    const r = await cliRun(input, N, upstream.url);
    reps.push(r);
    rows.push([`rep ${i}`, fmtInt(r.rate), fmt1(r.cpuUs), mib(r.rssBytes), fmt1(r.secs), fmtInt(r.ok)]);
  }
  if (reps.length > 1) {
    rows.push([
      'median',
      fmtInt(median(reps.map((r) => r.rate))),
      fmt1(median(reps.map((r) => r.cpuUs))),
      mib(median(reps.map((r) => r.rssBytes))),
      fmt1(median(reps.map((r) => r.secs))),
      fmtInt(median(reps.map((r) => r.ok))),
    ]);
  }
  table(['', 'payloads/s', 'cpu µs/req', 'peak RSS', 'secs', 'ok'], rows);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Memory with input size

async function memory(upstream) {
  const extra = BATCHPOST_ARGS.length ? ` ${BATCHPOST_ARGS.join(' ')}` : '';
  console.log(`\n## 3. memory: batchpost run, --concurrency ${CONC}${extra}, one run per size`);
  console.log(`upstream: ${upstream.name}`);
  const rows = [];
  const rss = new Map();
  for (const n of MEMORY_SIZES) {
    const input = makeInput(n);
    const r = await cliRun(input, n, upstream.url);
    fs.rmSync(input, { force: true });
    rss.set(n, r.rssBytes);
    rows.push([fmtInt(n), mib(r.rssBytes), fmtInt(r.rate), fmt1(r.cpuUs), fmt1(r.secs)]);
  }
  table(['payloads', 'peak RSS', 'payloads/s', 'cpu µs/req', 'secs'], rows);
  const sizes = [...rss.keys()];
  const ratio = (a, b) =>
    rss.has(a) && rss.has(b) ? `${fmtInt(b)}/${fmtInt(a)} peak RSS = ${(rss.get(b) / rss.get(a)).toFixed(2)}` : null;
  const ratios = [
    ratio(30_000, 300_000) ?? (sizes.length > 1 ? ratio(sizes[0], sizes[1]) : null),
    sizes.length > 2 ? ratio(sizes[0], sizes.at(-1)) : null,
  ].filter(Boolean);
  if (ratios.length) console.log(`${ratios.join(', ')}  (1.00 = flat; the input is streamed)`);
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Where the CPU goes (PROFILE=1): one run of N payloads under node --cpu-prof, its samples grouped by kind

async function profileRun(upstream) {
  console.log(`\n## 4. profile: batchpost run under node --cpu-prof, N=${fmtInt(N)}, --concurrency ${CONC}`);
  const dir = path.join(work, 'profiles');
  const r = await cliRun(makeInput(N), N, upstream.url, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  console.log(`${fmtInt(r.rate)} payloads/s under the profiler, ${fmt1(r.cpuUs)} µs CPU per request`);
  for (const file of fs.readdirSync(dir).sort()) {
    console.log(`thread ${file.split('.').at(-3)}, shares of its samples:`);
    console.log(sharesText(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))));
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(path.join(root, 'dist/src/index.js')))
    die('dist/ is missing: run `npm run build` (or `npm run bench`)');
  machine();
  const started = performance.now();
  if (!SKIP.has('engine') && ENGINE_N > 0 && ENGINE_REPS > 0) await engine();
  if (!SKIP.has('cli') || MEMORY || PROFILE) {
    const upstream = await startUpstream();
    try {
      if (!SKIP.has('cli') && N > 0) await cli(upstream);
      if (MEMORY) await memory(upstream);
      if (PROFILE) await profileRun(upstream);
    } finally {
      killGroup(upstream.child, 'SIGTERM');
      await Promise.race([new Promise((r) => upstream.child.once('exit', r)), sleep(3000)]);
    }
  }
  console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err) => {
    cleanup();
    die(err?.stack ?? String(err));
  },
);
