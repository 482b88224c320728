import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';

let server: FixtureServer;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The system error code behind a failed fetch (undici wraps it in `cause`). */
async function fetchErrorCode(url: string, init?: RequestInit): Promise<string> {
  try {
    const res = await fetch(url, init);
    await res.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? (err as Error).name;
  }
  throw new Error(`expected ${url} to fail`);
}

describe('startFixtureServer', () => {
  test('listens on 127.0.0.1 at a real port and reports it without a trailing slash', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  test('honours an explicit port', async () => {
    const port = await freePort();
    const other = await startFixtureServer({ port });
    try {
      expect(other.port).toBe(port);
      expect((await fetch(`${other.url}/text`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('/echo', () => {
  test('echoes method, path, query, headers and the parsed JSON body', async () => {
    const res = await fetch(`${server.url}/echo?a=1&b=two`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-custom': 'yes' },
      body: JSON.stringify({ n: 1, s: 'x' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ method: 'PUT', path: '/echo', query: { a: '1', b: 'two' }, body: { n: 1, s: 'x' } });
    expect((body.headers as Record<string, string>)['x-custom']).toBe('yes');

    expect(server.requests).toHaveLength(1);
    const seen = server.requests[0]!;
    expect(seen).toMatchObject({ method: 'PUT', path: '/echo', query: { a: '1', b: 'two' }, key: null });
    expect(seen.body).toBe('{"n":1,"s":"x"}');
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.endedAt).not.toBeNull();
    expect(seen.endedAt!).toBeGreaterThanOrEqual(seen.startedAt);
  });

  test('echoes a non-JSON body as text and an empty body as null', async () => {
    const text = (await (await fetch(`${server.url}/echo`, { method: 'POST', body: 'not json' })).json()) as {
      body: unknown;
    };
    expect(text.body).toBe('not json');
    const empty = (await (await fetch(`${server.url}/echo`)).json()) as { body: unknown; method: string };
    expect(empty).toMatchObject({ body: null, method: 'GET' });
  });

  test('?status=N answers that status with the echo', async () => {
    const res = await fetch(`${server.url}/echo?status=422`, { method: 'POST', body: '[1,2]' });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ body: [1, 2], query: { status: '422' } });
  });

  test('?ms=N delays the answer', async () => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/echo?ms=150`);
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    const seen = server.requests[0]!;
    expect(seen.endedAt! - seen.startedAt).toBeGreaterThanOrEqual(140);
  });
});

describe('/status/:code', () => {
  test('answers the status with a JSON error', async () => {
    const res = await fetch(`${server.url}/status/503`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await res.json()).toEqual({ error: 'status 503' });
  });

  test('?retryAfter= adds Retry-After, seconds or the raw string', async () => {
    const secs = await fetch(`${server.url}/status/429?retryAfter=2`);
    expect(secs.status).toBe(429);
    expect(secs.headers.get('retry-after')).toBe('2');
    const date = 'Wed, 21 Oct 2015 07:28:00 GMT';
    const raw = await fetch(`${server.url}/status/503?retryAfter=${encodeURIComponent(date)}`);
    expect(raw.headers.get('retry-after')).toBe(date);
  });

  test('?text=1 answers text/plain', async () => {
    const res = await fetch(`${server.url}/status/500?text=1`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('status 500');
  });

  test('a malformed code is a 400, not a crash', async () => {
    expect((await fetch(`${server.url}/status/abc`)).status).toBe(400);
    expect((await fetch(`${server.url}/status/99`)).status).toBe(400);
    expect((await fetch(`${server.url}/status/200`)).status).toBe(200);
  });
});

describe('/flaky/:key', () => {
  test('fails the first request per key (500 by default), then succeeds with the attempt number', async () => {
    const first = await fetch(`${server.url}/flaky/a`, { method: 'POST' });
    expect(first.status).toBe(500);
    expect(await first.json()).toEqual({ error: 'flaky' });
    const second = await fetch(`${server.url}/flaky/a`, { method: 'POST' });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ ok: true, attempt: 2 });
    expect(server.requests.map((r) => r.key)).toEqual(['a', 'a']);
  });

  test('?fail=N&code=C&retryAfter=S tune it, and keys count independently', async () => {
    const url = (key: string): string => `${server.url}/flaky/${key}?fail=2&code=503&retryAfter=1`;
    const a1 = await fetch(url('x'));
    expect(a1.status).toBe(503);
    expect(a1.headers.get('retry-after')).toBe('1');
    await a1.text();
    expect((await fetch(url('y'))).status).toBe(503); // y counts from its own first request
    expect((await fetch(url('x'))).status).toBe(503);
    const a3 = await fetch(url('x'));
    expect(a3.status).toBe(200);
    expect(a3.headers.get('retry-after')).toBeNull();
    expect(await a3.json()).toEqual({ ok: true, attempt: 3 });
    expect((await fetch(url('y'))).status).toBe(503);
    expect((await fetch(url('y'))).status).toBe(200);
  });

  test('?fail=0 never fails', async () => {
    expect((await fetch(`${server.url}/flaky/z?fail=0`)).status).toBe(200);
  });

  test('reset() clears the per-key counts and the request log', async () => {
    expect((await fetch(`${server.url}/flaky/k`)).status).toBe(500);
    expect((await fetch(`${server.url}/flaky/k`)).status).toBe(200);
    const log = server.requests;
    server.reset();
    expect(server.requests).toHaveLength(0);
    expect(log).toBe(server.requests); // the same array, cleared in place
    expect((await fetch(`${server.url}/flaky/k`)).status).toBe(500);
  });
});

describe('/slow and in-flight counting', () => {
  test('waits ?ms then answers {ok:true}', async () => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/slow?ms=120`);
    expect(await res.json()).toEqual({ ok: true });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  test('waits 100 ms by default', async () => {
    const t0 = performance.now();
    await (await fetch(`${server.url}/slow`)).text();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
  });

  test('maxInFlight counts parallel requests exactly', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    try {
      const get = (): Promise<number> =>
        new Promise((resolve, reject) => {
          httpRequest(`${server.url}/slow?ms=300`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
            .on('error', reject)
            .end();
        });
      const statuses = await Promise.all(Array.from({ length: 6 }, get));
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      expect(server.maxInFlight).toBe(6);
      expect(server.inFlight).toBe(0);
      expect(server.requests).toHaveLength(6);
    } finally {
      agent.destroy();
    }
  });

  test('sequential requests never overlap; reset() clears maxInFlight', async () => {
    await Promise.all([fetch(`${server.url}/slow?ms=50`), fetch(`${server.url}/slow?ms=50`)]);
    expect(server.maxInFlight).toBe(2);
    server.reset();
    expect(server.maxInFlight).toBe(0);
    for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/slow?ms=20`)).text();
    expect(server.maxInFlight).toBe(1);
    expect(server.inFlight).toBe(0);
  });

  test('inFlight is visible while requests are being handled', async () => {
    const pending = Promise.all([fetch(`${server.url}/slow?ms=300`), fetch(`${server.url}/echo?ms=300`)]);
    await waitFor(() => server.inFlight === 2);
    expect(server.requests.every((r) => r.endedAt === null)).toBe(true);
    await pending;
    await waitFor(() => server.inFlight === 0);
    expect(server.maxInFlight).toBe(2);
  });

  test('requests open across reset() do not count after it', async () => {
    const ac = new AbortController();
    const hung = fetch(`${server.url}/hang`, { signal: ac.signal }).catch(() => 'aborted');
    await waitFor(() => server.inFlight === 1);
    server.reset();
    expect(server.inFlight).toBe(0);
    ac.abort();
    await hung;
    await (await fetch(`${server.url}/text`)).text();
    expect(server.inFlight).toBe(0);
    expect(server.maxInFlight).toBe(1);
  });
});

describe('/hang', () => {
  test('never answers; a client abort ends it on the server', async () => {
    const ac = new AbortController();
    const hung = fetch(`${server.url}/hang`, { method: 'POST', body: '{"h":1}', signal: ac.signal });
    await waitFor(() => server.requests.length === 1 && server.requests[0]!.body === '{"h":1}');
    await new Promise((r) => setTimeout(r, 100));
    expect(server.inFlight).toBe(1);
    expect(server.requests[0]!.endedAt).toBeNull();
    ac.abort();
    await expect(hung).rejects.toThrow();
    await waitFor(() => server.inFlight === 0);
    expect(server.requests[0]!.endedAt).not.toBeNull();
  });
});

describe('/reset', () => {
  test('resets the connection after reading the body', async () => {
    const code = await fetchErrorCode(`${server.url}/reset`, { method: 'POST', body: '{"r":1}' });
    expect(code).toBe('ECONNRESET');
    expect(server.requests[0]!.body).toBe('{"r":1}');
    await waitFor(() => server.inFlight === 0);
    // The server is still fine afterwards.
    expect((await fetch(`${server.url}/text`)).status).toBe(200);
  });

  test('?after=N&key=K resets only the first N requests for that key', async () => {
    const url = (key: string): string => `${server.url}/reset?after=2&key=${key}`;
    expect(await fetchErrorCode(url('a'))).toBe('ECONNRESET');
    expect(await fetchErrorCode(url('b'))).toBe('ECONNRESET');
    expect(await fetchErrorCode(url('a'))).toBe('ECONNRESET');
    const ok = await fetch(url('a'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    expect(server.requests.map((r) => r.key)).toEqual(['a', 'b', 'a', 'a']);
    server.reset();
    expect(await fetchErrorCode(url('a'))).toBe('ECONNRESET');
  });
});

describe('small routes', () => {
  test('/text answers text/plain hello', async () => {
    const res = await fetch(`${server.url}/text`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('hello');
  });

  test('/headers sends X-Test and RateLimit-Remaining', async () => {
    const res = await fetch(`${server.url}/headers`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-test')).toBe('1');
    expect(res.headers.get('ratelimit-remaining')).toBe('5');
    expect(await res.json()).toEqual({ ok: true });
  });

  test('/users/:id/orders answers the id and the parsed body', async () => {
    const res = await fetch(`${server.url}/users/u%2042/orders`, { method: 'POST', body: '{"item":3}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: 'u 42', body: { item: 3 } });
  });

  test('anything else is a JSON 404', async () => {
    for (const path of ['/', '/nope', '/users/1', '/echo/extra', '/flaky/']) {
      const res = await fetch(`${server.url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.json()).toEqual({ error: 'not found' });
    }
  });
});

describe('connections', () => {
  test('keeps connections alive so clients reuse them', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          httpRequest(`${server.url}/echo`, { agent, method: 'POST' }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
            .on('error', reject)
            .end('{"i":1}');
        });
        expect(status).toBe(200);
      }
      expect(server.requests).toHaveLength(3);
      expect(server.connections).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  test('a client that aborts mid-body does not crash the server', async () => {
    const req = httpRequest(`${server.url}/echo`, { method: 'POST', headers: { 'content-length': '1000' } });
    req.on('error', () => {});
    req.write('{"partial":');
    await waitFor(() => server.inFlight === 1);
    req.destroy();
    await waitFor(() => server.inFlight === 0);
    expect((await fetch(`${server.url}/text`)).status).toBe(200);
  });
});

describe('close()', () => {
  test('closes promptly with a hung request open, and is idempotent', async () => {
    const own = await startFixtureServer();
    const hung = fetch(`${own.url}/hang`).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => own.inFlight === 1);
    const t0 = performance.now();
    await own.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await hung).toBe('failed');
    await own.close(); // a second close resolves too
    expect(await fetchErrorCode(`${own.url}/text`)).toBe('ECONNREFUSED');
  });

  test('closes promptly with a long delay pending', async () => {
    const own = await startFixtureServer();
    const slow = fetch(`${own.url}/slow?ms=50000`).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => own.inFlight === 1);
    const t0 = performance.now();
    await own.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await slow).toBe('failed');
  });
});

describe('freePort', () => {
  test('gives a port where connections are refused', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await fetchErrorCode(`http://127.0.0.1:${port}/echo`)).toBe('ECONNREFUSED');
  });
});

describe('as a script', () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    // Node 20 cannot run TypeScript; transpile the one dependency-free file to a temporary ES module.
    dir = mkdtempSync(join(tmpdir(), 'fixture-server-'));
    const source = readFileSync(new URL('../fixtures/server.ts', import.meta.url), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    script = join(dir, 'server.mjs');
    writeFileSync(script, outputText);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('prints its url as one JSON line, serves, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [script, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = createInterface({ input: child.stdout });
      const [first] = (await once(lines, 'line')) as [string];
      expect(JSON.parse(first)).toEqual({ url: `http://127.0.0.1:${port}` });
      expect(await (await fetch(`http://127.0.0.1:${port}/text`)).text()).toBe('hello');
      const hung = fetch(`http://127.0.0.1:${port}/hang`).catch(() => 'failed');
      await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGTERM');
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(await hung).toBe('failed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('rejects a bad --port with exit code 2', async () => {
    const child = spawn(process.execPath, [script, '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage/);
  });
});
