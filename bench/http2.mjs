#!/usr/bin/env node
// HTTP/2 beside HTTP/1.1 over TLS on loopback: `batchpost run --http2` against http2.createSecureServer (h2 only)
// and plain `batchpost run` against https.createServer, back to back, REPS times each, same payloads, certificates
// and answer. Prints requests per second of each and their ratio (medians). Build first (`npm run build`).
//
//   N=20000 CONC=64 REPS=3 node bench/http2.mjs
//
// Both servers live in one child process, so their CPU is not the CLI's; everything stays on 127.0.0.1; the
// temp dir and the child are removed on exit.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.N ?? 20_000);
const CONC = Number(process.env.CONC ?? 64);
const REPS = Number(process.env.REPS ?? 3);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-h2-bench-'));
let servers = null;
const cleanUp = () => {
  servers?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanUp);
process.on('SIGINT', () => process.exit(130));

const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench CA');
openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
const sign = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext'];
openssl('x509', '-req', '-in', 'server.csr', ...sign, '-out', 'server.pem');

const serverCode = `
const fs = require('node:fs'), http2 = require('node:http2'), https = require('node:https');
const tls = { key: fs.readFileSync(${JSON.stringify(path.join(dir, 'server.key'))}), cert: fs.readFileSync(${JSON.stringify(path.join(dir, 'server.pem'))}) };
const answer = (req, res) => { req.resume(); req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end('{"ok":true}'); }); };
const h2 = http2.createSecureServer({ ...tls, allowHTTP1: false, settings: { maxConcurrentStreams: 1000 } }, answer);
const h1 = https.createServer({ ...tls, keepAliveTimeout: 60000 }, answer);
h2.listen(0, '127.0.0.1', () => h1.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ h2: h2.address().port, h1: h1.address().port }))));
`;
servers = spawn(process.execPath, ['-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const ports = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('servers did not start in 10 s')), 10_000);
  servers.stdout.once('data', (d) => {
    clearTimeout(timer);
    resolve(JSON.parse(String(d)));
  });
});

const input = path.join(dir, 'in.ndjson');
fs.writeFileSync(
  input,
  Array.from({ length: N }, (_, i) => JSON.stringify({ id: i, sku: 'A-1', qty: 1 })).join('\n') + '\n',
);

function once(mode) {
  const url = `https://127.0.0.1:${mode === 'h2' ? ports.h2 : ports.h1}/orders`;
  const args = ['run', input, '--url', url, '--cacert', path.join(dir, 'ca.pem'), '--concurrency', String(CONC)].concat(
    ['--progress', 'none', '--threads', '0', '--out', path.join(dir, `out-${mode}.ndjson`), '--overwrite'],
  );
  if (mode === 'h2') args.push('--http2');
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(root, 'bin/batchpost.js'), ...args], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${mode} run failed (${r.status}): ${r.stderr}`);
  return N / seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rates = { h1: [], h2: [] };
for (let i = 0; i < REPS; i++) for (const mode of ['h1', 'h2']) rates[mode].push(once(mode));
const fmt = (x) => Math.round(x).toLocaleString('en-US');
console.log(`N=${N} CONC=${CONC} REPS=${REPS} node ${process.version}, ${os.cpus().length} cores`);
for (const mode of ['h1', 'h2'])
  console.log(
    `${mode === 'h2' ? 'HTTP/2  ' : 'HTTP/1.1'}  median ${fmt(median(rates[mode]))}/s  (runs: ${rates[mode].map(fmt).join(', ')})`,
  );
console.log(`ratio HTTP/2 : HTTP/1.1 = ${(median(rates.h2) / median(rates.h1)).toFixed(2)}`);
// The servers' child holds the event loop open; the exit handler removes it and the temp dir.
process.exit(0);
