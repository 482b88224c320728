// --http2: h2 negotiated by ALPN over TLS (directly, or end to end inside a forward proxy's CONNECT tunnel), the
// requests in flight as streams of one connection, HTTP/1.1 where the server does not offer h2; without it, an
// HTTP/2-only server is a handshake failure that says to add --http2. Servers are node's http2.createSecureServer
// (allowHTTP1: false, so only h2 gets in) and https.createServer, the proxy test/helpers/net.ts's forwardProxy; the
// CLI runs as a child process (build first) in run (with and without sender threads), serve and worker.
import fs from 'node:fs';
import path from 'node:path';
import { ndjsonFile, payloads, readResults, runCli, startCli, tmpDir, waitFor } from './helpers/cli.js';
import {
  forwardProxy,
  http2Server,
  httpsServer,
  makeCerts,
  postBatch,
  startServe,
  type Certs,
  type CountingServer,
} from './helpers/net.js';

interface Line {
  ok: boolean;
  response: { httpVersion?: string } | null;
  error: { code: string; message: string } | null;
}

let certs: Certs;
let h2only: CountingServer;
let h1only: CountingServer;

beforeAll(async () => {
  certs = makeCerts();
  h2only = await http2Server(certs, false);
  h1only = await httpsServer(certs);
});
afterAll(async () => {
  await Promise.all([h2only, h1only].map((s) => s?.close()));
  fs.rmSync(certs.dir, { recursive: true, force: true });
});
beforeEach(() => {
  h2only.hits.length = 0;
  h1only.hits.length = 0;
});

async function run(url: string, n: number, args: string[]) {
  const dir = tmpDir();
  const input = ndjsonFile(dir, payloads(n));
  const out = path.join(dir, 'out.ndjson');
  const r = await runCli(
    ['run', input, '--url', `${url}/orders`, '--out', out, '--progress', 'none', '--cacert', certs.ca, ...args],
    { timeoutMs: 60_000 },
  );
  return { ...r, lines: fs.existsSync(out) ? readResults<Line>(out) : [] };
}

test('--http2 against an HTTP/2-only server: every request arrives as HTTP/2, as streams of one connection', async () => {
  const before = h2only.connections;
  const r = await run(h2only.url, 40, ['--http2', '--concurrency', '8']);
  expect(r.code).toBe(0);
  expect(r.lines.filter((l) => l.ok)).toHaveLength(40);
  expect(h2only.hits).toHaveLength(40);
  expect(h2only.hits.every((h) => h.httpVersion === '2.0')).toBe(true);
  expect(h2only.connections - before).toBe(1);
});

test('without --http2, an HTTP/2-only server: TLS_HANDSHAKE_FAILED saying to add --http2; nothing reached it', async () => {
  const r = await run(h2only.url, 2, []);
  for (const l of r.lines) {
    expect(l.error!.code).toBe('TLS_HANDSHAKE_FAILED');
    expect(l.error!.message).toContain('add --http2');
    expect(l.error!.message).not.toContain('idempotency');
  }
  expect(r.lines).toHaveLength(2);
  expect(h2only.hits).toEqual([]);
});

test('--http2 against an HTTP/1.1-only server falls back to HTTP/1.1', async () => {
  const r = await run(h1only.url, 12, ['--http2', '--concurrency', '4']);
  expect(r.code).toBe(0);
  expect(h1only.hits).toHaveLength(12);
  expect(h1only.hits.every((h) => h.httpVersion === '1.1')).toBe(true);
});

test('--http2 with two sender threads: HTTP/2, one connection per thread at most', async () => {
  const before = h2only.connections;
  const r = await run(h2only.url, 30, ['--http2', '--threads', '2', '--concurrency', '8']);
  expect(r.code).toBe(0);
  expect(h2only.hits).toHaveLength(30);
  expect(h2only.hits.every((h) => h.httpVersion === '2.0')).toBe(true);
  expect(h2only.connections - before).toBeLessThanOrEqual(2);
});

test('--http2 through a forward proxy: HTTP/2 inside the CONNECT tunnel, streams of one connection', async () => {
  const proxy = await forwardProxy();
  try {
    const before = h2only.connections;
    const r = await run(h2only.url, 20, ['--http2', '--concurrency', '4', '--proxy', proxy.url]);
    expect(r.code).toBe(0);
    expect(r.lines.filter((l) => l.ok)).toHaveLength(20);
    expect(r.stderr).not.toMatch(/warning|HTTP\/1\.1/i);
    expect(h2only.hits).toHaveLength(20);
    expect(h2only.hits.every((h) => h.httpVersion === '2.0')).toBe(true);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${h2only.port}`]);
    expect(proxy.forwarded).toEqual([]);
    expect(h2only.connections - before).toBe(1);
  } finally {
    await proxy.close();
  }
});

test('--http2 through a forward proxy to an HTTP/1.1-only server falls back to HTTP/1.1 in the tunnel', async () => {
  const proxy = await forwardProxy();
  try {
    const r = await run(h1only.url, 8, ['--http2', '--concurrency', '4', '--proxy', proxy.url, '--threads', '2']);
    expect(r.code).toBe(0);
    expect(h1only.hits).toHaveLength(8);
    expect(h1only.hits.every((h) => h.httpVersion === '1.1')).toBe(true);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(proxy.tunnels.every((t) => t === `127.0.0.1:${h1only.port}`)).toBe(true);
  } finally {
    await proxy.close();
  }
});

test('serve --http2: its upstream calls are HTTP/2', async () => {
  const s = await startServe(['--url', `${h2only.url}/orders`, '--http2', '--cacert', certs.ca]);
  try {
    const answer = await postBatch(s.url, [{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(answer.results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(h2only.hits.map((h) => h.httpVersion)).toEqual(['2.0', '2.0', '2.0']);
  } finally {
    s.child.kill('SIGTERM');
    await s.done;
  }
});

test('worker: a run with --http2 is sent as HTTP/2 by its workers', async () => {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const queue = `net-h2-${process.pid}-${Date.now()}`;
  const worker = startCli(['worker', '--queue', redisUrl, '--queue-name', queue], { timeoutMs: 90_000 });
  let stderr = '';
  worker.child.stderr!.on('data', (d: Buffer | string) => (stderr += String(d)));
  try {
    await waitFor(() => /serving queue/.test(stderr), 15_000, 'the worker to start');
    const r = await run(h2only.url, 6, ['--http2', '--queue', redisUrl, '--queue-name', queue]);
    expect(r.code).toBe(0);
    expect(h2only.hits).toHaveLength(6);
    expect(h2only.hits.every((h) => h.httpVersion === '2.0')).toBe(true);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
});
