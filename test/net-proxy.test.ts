// Proxies as curl users expect them: HTTP_PROXY / HTTPS_PROXY / NO_PROXY (and lower case) honoured by default,
// --proxy overriding them, --noproxy adding exemptions; https targets through a CONNECT tunnel, plain http ones as
// absolute-form requests; credentials in the proxy URL used and never printed. A real forward proxy on loopback
// counts what it carries. Also: a failed DNS lookup names the host. The CLI runs as a child process (build first).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { resolveOptions } from '../src/engine/options.js';
import { transportConfigOf } from '../src/transport/config.js';
import { exempts, proxyFor } from '../src/transport/proxy.js';
import { ndjsonFile, payloads, readResults, runCli, startCli, tmpDir, waitFor } from './helpers/cli.js';
import {
  forwardProxy,
  httpServer,
  httpsServer,
  makeCerts,
  postBatch,
  startServe,
  type Certs,
  type CountingServer,
  type ForwardProxy,
} from './helpers/net.js';

interface Line {
  ok: boolean;
  attempts: number;
  error: { code: string; message: string } | null;
}

/** No proxy settings of the machine running the tests leak into these runs. */
const CLEAN = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '' };

let certs: Certs;
let plain: CountingServer;
let secure: CountingServer;
let proxy: ForwardProxy;
let locked: ForwardProxy;
let deadProxy: string;

beforeAll(async () => {
  certs = makeCerts();
  plain = await httpServer();
  secure = await httpsServer(certs);
  proxy = await forwardProxy();
  locked = await forwardProxy('alice:s3cret-pw');
  const spare = net.createServer();
  await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
  deadProxy = `http://127.0.0.1:${(spare.address() as net.AddressInfo).port}`;
  await new Promise((resolve) => spare.close(resolve));
});
afterAll(async () => {
  await Promise.all([plain, secure, proxy, locked].map((s) => s?.close()));
  fs.rmSync(certs.dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const s of [plain, secure]) s.hits.length = 0;
  for (const p of [proxy, locked]) {
    p.forwarded.length = 0;
    p.tunnels.length = 0;
    p.auth.length = 0;
  }
});

async function run(url: string, n: number, args: string[], env: Record<string, string> = {}) {
  const dir = tmpDir();
  const input = ndjsonFile(dir, payloads(n));
  const out = path.join(dir, 'out.ndjson');
  const r = await runCli(['run', input, '--url', `${url}/orders`, '--out', out, '--progress', 'none', ...args], {
    env: { ...CLEAN, ...env },
    timeoutMs: 60_000,
  });
  return { ...r, lines: fs.existsSync(out) ? readResults<Line>(out) : [] };
}

describe('the environment, as curl reads it', () => {
  test('HTTP_PROXY: plain http requests go to the proxy in absolute form, no tunnel', async () => {
    const r = await run(plain.url, 5, [], { HTTP_PROXY: proxy.url });
    expect(r.code).toBe(0);
    expect(proxy.forwarded).toHaveLength(5);
    expect(proxy.forwarded[0]).toBe(`POST ${plain.url}/orders`);
    expect(proxy.tunnels).toEqual([]);
    expect(plain.hits).toHaveLength(5);
  });

  test('https_proxy (lower case): https requests go through a CONNECT tunnel to the host', async () => {
    const r = await run(secure.url, 5, ['--cacert', certs.ca, '--concurrency', '2'], { https_proxy: proxy.url });
    expect(r.code).toBe(0);
    expect(secure.hits).toHaveLength(5);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.length).toBeLessThanOrEqual(2);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`127.0.0.1:${secure.port}`]));
    expect(proxy.forwarded).toEqual([]);
  });

  test('NO_PROXY exempts the host; --noproxy adds exemptions to it', async () => {
    const a = await run(plain.url, 3, [], { HTTP_PROXY: deadProxy, NO_PROXY: 'example.com, 127.0.0.1' });
    expect(a.code).toBe(0);
    const b = await run(plain.url, 3, ['--noproxy', '127.0.0.0/8'], { HTTP_PROXY: proxy.url, NO_PROXY: 'example.com' });
    expect(b.code).toBe(0);
    expect(proxy.forwarded).toEqual([]);
    expect(plain.hits).toHaveLength(6);
  });
});

describe('--proxy', () => {
  test('overrides the environment; --proxy "" turns proxies off', async () => {
    const a = await run(plain.url, 3, ['--proxy', proxy.url], { HTTP_PROXY: deadProxy });
    expect(a.code).toBe(0);
    expect(proxy.forwarded).toHaveLength(3);
    const b = await run(plain.url, 3, ['--proxy', ''], { HTTP_PROXY: deadProxy });
    expect(b.code).toBe(0);
    expect(plain.hits).toHaveLength(6);
  });

  test('credentials in the URL reach the proxy and are never printed; missing ones: PROXY_AUTH_REQUIRED', async () => {
    const withAuth = locked.url.replace('http://', 'http://alice:s3cret-pw@');
    const ok = await run(plain.url, 3, ['--proxy', withAuth]);
    expect(ok.code).toBe(0);
    expect(locked.forwarded).toHaveLength(3);
    expect(locked.auth[0]).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
    const tunnel = await run(secure.url, 2, ['--cacert', certs.ca], { HTTPS_PROXY: withAuth });
    expect(tunnel.code).toBe(0);
    expect(locked.tunnels.length).toBeGreaterThanOrEqual(1);
    const bad = await run(plain.url, 2, ['--proxy', locked.url.replace('http://', 'http://alice:wrong-pw@')]);
    expect(bad.lines.map((l) => l.error?.code)).toEqual(['PROXY_AUTH_REQUIRED', 'PROXY_AUTH_REQUIRED']);
    const badTunnel = await run(secure.url, 1, ['--cacert', certs.ca, '--proxy', locked.url]);
    expect(badTunnel.lines[0]!.error!.code).toBe('PROXY_AUTH_REQUIRED');
    // Stopped early: the message repeats the command line, with the proxy's password hidden.
    const stopped = await run(plain.url, 40, ['--proxy', withAuth.replace('s3cret-pw', 'wrong-pw2')]);
    expect(stopped.stderr).toContain('(PROXY_AUTH_REQUIRED)');
    expect(stopped.stderr).toContain('--proxy');
    for (const r of [ok, tunnel, bad, badTunnel, stopped]) {
      const printed = r.stdout + r.stderr + JSON.stringify(r.lines);
      expect(printed).not.toMatch(/s3cret-pw|wrong-pw/);
    }
  });

  test('a proxy URL that is not http(s): USAGE', async () => {
    const r = await run(plain.url, 1, ['--proxy', 'socks5://127.0.0.1:1080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HTTP proxies');
  });
});

describe('threads, serve and worker use the same choice', () => {
  test('--threads 2 with HTTP_PROXY', async () => {
    const r = await run(plain.url, 8, ['--threads', '2'], { HTTP_PROXY: proxy.url });
    expect(r.code).toBe(0);
    expect(proxy.forwarded).toHaveLength(8);
  });

  test("serve: its upstream calls go through its environment's proxy", async () => {
    const s = await startServe(['--url', `${plain.url}/orders`], { ...CLEAN, HTTP_PROXY: proxy.url });
    try {
      const answer = await postBatch(s.url, [{ a: 1 }, { a: 2 }]);
      expect(answer.results.map((r) => r.ok)).toEqual([true, true]);
      expect(proxy.forwarded).toHaveLength(2);
    } finally {
      s.child.kill('SIGTERM');
      await s.done;
    }
  });

  test("worker: its own machine's environment proxy, and the run's --proxy when given", async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const queue = `net-proxy-${process.pid}-${Date.now()}`;
    const worker = startCli(['worker', '--queue', redisUrl, '--queue-name', queue], {
      env: { ...CLEAN, HTTP_PROXY: proxy.url },
      timeoutMs: 90_000,
    });
    let stderr = '';
    worker.child.stderr!.on('data', (d: Buffer | string) => (stderr += String(d)));
    try {
      await waitFor(() => /serving queue/.test(stderr), 15_000, 'the worker to start');
      const queued = ['--queue', redisUrl, '--queue-name', queue];
      // The run's own environment names a dead proxy: the worker's, not the run's, is used.
      const a = await run(plain.url, 4, queued, { HTTP_PROXY: deadProxy });
      expect(a.code).toBe(0);
      expect(proxy.forwarded).toHaveLength(4);
      const b = await run(plain.url, 3, [
        ...queued,
        '--proxy',
        locked.url.replace('http://', 'http://alice:s3cret-pw@'),
      ]);
      expect(b.code).toBe(0);
      expect(locked.forwarded).toHaveLength(3);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.done;
    }
  });
});

test('a host name that does not resolve: ENOTFOUND naming the host', async () => {
  const r = await run('http://no-such-host.invalid', 1, []);
  expect(r.lines[0]!.error!.code).toBe('ENOTFOUND');
  expect(r.lines[0]!.error!.message).toMatch(/no-such-host\.invalid: host name/);
});

describe('the proxy choice, as curl makes it', () => {
  const choose = (url: string, p: Parameters<typeof proxyFor>[1]) => proxyFor(new URL(url), p);
  const env = { http: 'http://p-http:1', https: 'http://p-https:2' };

  test("each scheme its environment proxy; --proxy for both; '' for none", () => {
    expect(choose('http://a.example/x', { env })).toBe('http://p-http:1');
    expect(choose('https://a.example/x', { env })).toBe('http://p-https:2');
    expect(choose('https://a.example/x', { url: 'http://mine:3', env })).toBe('http://mine:3');
    expect(choose('https://a.example/x', { url: '', env })).toBeNull();
    expect(choose('https://a.example/x', undefined)).toBeNull();
  });

  test('NO_PROXY entries: names with their subdomains, host:port, IPs, CIDR ranges, *', () => {
    const ex = (list: string, url: string) => exempts(list, new URL(url));
    expect(ex('example.com', 'https://api.example.com/')).toBe(true);
    expect(ex('.example.com', 'https://example.com/')).toBe(true);
    expect(ex('*.example.com', 'https://a.b.example.com/')).toBe(true);
    expect(ex('example.com', 'https://notexample.com/')).toBe(false);
    expect(ex('example.com:8443', 'https://example.com:8443/')).toBe(true);
    expect(ex('example.com:8443', 'https://example.com/')).toBe(false);
    expect(ex('10.0.0.0/8, 192.168.1.1', 'http://10.20.30.40/')).toBe(true);
    expect(ex('10.0.0.0/8 192.168.1.1', 'http://192.168.1.1:81/')).toBe(true);
    expect(ex('10.0.0.0/8', 'http://11.0.0.1/')).toBe(false);
    expect(ex('::1', 'http://[::1]:8080/')).toBe(true);
    expect(ex('*', 'http://anything/')).toBe(true);
    expect(ex('', 'http://anything/')).toBe(false);
  });

  test('NO_PROXY applies to --proxy too; --noproxy adds to it', () => {
    const config = transportConfigOf(
      resolveOptions({ url: 'http://h/', proxy: 'http://mine:3', noProxy: 'b.example' }),
      {
        NO_PROXY: 'a.example',
      },
    );
    expect(choose('http://a.example/', config.proxy)).toBeNull();
    expect(choose('http://b.example/', config.proxy)).toBeNull();
    expect(choose('http://c.example/', config.proxy)).toBe('http://mine:3');
  });
});
