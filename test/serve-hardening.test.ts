// `batchpost serve` under hostile callers, as a real subprocess: dependency chains deep enough to overflow a
// recursive resolver, bodies nested thousands of levels deep, slow clients trickling headers and bodies, a
// SIGTERM while uploads and batches are stuck, header tricks in $batch items, dot segments from templates, secrets
// in query strings, invalid UTF-8, and redirects towards another origin. After each: the server is still up and
// its gauges are back to zero.
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { ndjsonFile, readResults, runCli, startCli, tmpDir, waitFor, type CliResult } from './helpers/cli.js';
import path from 'node:path';
import { resolveOptions } from '../src/engine/options.js';
import { startBatchServer } from '../src/server/server.js';

let fx: FixtureServer;
let other: FixtureServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [fx, other] = await Promise.all([startFixtureServer(), startFixtureServer()]);
});
afterAll(async () => {
  await Promise.all([fx.close(), other.close()]);
});
beforeEach(() => {
  fx.reset();
  other.reset();
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Serve {
  child: ChildProcess;
  url: string;
  port: number;
  done: Promise<CliResult>;
  stderr: () => string;
}

/** Starts `batchpost serve … --port 0` and resolves once its ready line names the URL (within 10 s). */
async function serve(args: string[]): Promise<Serve> {
  const { child, done } = startCli(['serve', '--port', '0', ...args], { timeoutMs: 120_000 });
  children.push(child);
  let seen = '';
  child.stderr!.on('data', (d: Buffer | string) => (seen += String(d)));
  await waitFor(() => /serving on (http:\/\/\S+)/.test(seen) || child.exitCode !== null, 10_000, 'the ready line');
  const m = /serving on (http:\/\/\S+)/.exec(seen);
  if (m === null) throw new Error(`serve did not start:\n${seen}`);
  return { child, url: m[1]!, port: Number(new URL(m[1]!).port), done, stderr: () => seen };
}

/** The parts of serve's answers these tests read: a refusal, a /batch answer, a $batch answer. */
interface Answer {
  error: { code: string; message: string };
  results: { status: number; error: { code: string; message: string } | null }[];
  responses: { id: string; status: number; body: { error: { code: string } } }[];
}

async function postRaw(url: string, body: string | Buffer, contentType = 'application/json') {
  const res = await request(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as Answer };
}

const post = (url: string, body: unknown) => postRaw(url, JSON.stringify(body));

/** The value of one unlabelled series of /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

async function expectIdle(url: string): Promise<void> {
  const health = await request(`${url}/healthz`);
  expect([health.statusCode, await health.body.json()]).toEqual([
    200,
    { status: 'ok', batchesInFlight: 0, itemsInFlight: 0 },
  ]);
  expect(await metric(url, 'batchpost_items_waiting')).toBe(0);
  expect(await metric(url, 'batchpost_items_in_flight')).toBe(0);
}

/** A $batch of `n` items, each depending on the one before; the first is answered 500 by the upstream. */
function chain(n: number) {
  return {
    requests: Array.from({ length: n }, (_, i) => ({
      id: String(i + 1),
      method: 'POST',
      url: i === 0 ? '/echo?status=500' : '/echo',
      body: { i },
      ...(i === 0 ? {} : { dependsOn: [String(i)] }),
    })),
  };
}

/** Opens a raw connection, writes `head`, then one byte of `trickle` every `everyMs` until the server closes it. */
function trickle(port: number, head: string, trickleText: string, everyMs: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let timer: NodeJS.Timeout | null = null;
  let i = 0;
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (i >= trickleText.length || socket.destroyed) return void clearInterval(timer!);
      socket.write(trickleText[i++]!);
    }, everyMs);
  });
  void closed.then(() => timer !== null && clearInterval(timer));
  return { closed, received: () => received, sent: () => i, destroy: () => socket.destroy() };
}

describe('serve hardening (the CLI as a subprocess)', () => {
  it('a dependsOn chain 5,000 deep is refused 400 DEPENDENCY_TOO_DEEP; one at the limit whose first item fails answers 424 all the way down', async () => {
    const s = await serve(['--url', `${fx.url}/echo`, '--max-items', '10000', '--retries', '0']);
    const deep = await post(`${s.url}/$batch`, chain(5000));
    expect(deep.status).toBe(400);
    expect(deep.json().error.code).toBe('DEPENDENCY_TOO_DEEP');
    expect(fx.requests).toHaveLength(0);

    const atLimit = await post(`${s.url}/$batch`, chain(1000));
    expect(atLimit.status).toBe(200);
    const responses = atLimit.json().responses;
    expect(responses[0]!.status).toBe(500);
    expect(responses.slice(1).every((r) => r.status === 424 && r.body.error.code === 'FAILED_DEPENDENCY')).toBe(true);
    expect(fx.requests).toHaveLength(1);
    await expectIdle(s.url);
    expect(s.child.exitCode).toBeNull();
  }, 60_000);

  it('bodies nested deeper than 1,000 levels are refused 400 BATCH_TOO_DEEP; /healthz answers while four 10 MB ones arrive', async () => {
    const s = await serve(['--url', `${fx.url}/echo`, '--max-bytes', '20mb']);
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const batch = await postRaw(`${s.url}/batch`, `[${nested(5000)}]`);
    expect([batch.status, batch.json().error.code]).toEqual([400, 'BATCH_TOO_DEEP']);
    const ndjson = await postRaw(`${s.url}/batch`, `{"a":1}\n${nested(5000)}\n`, 'application/x-ndjson');
    expect([ndjson.status, ndjson.json().error.code]).toEqual([400, 'BATCH_TOO_DEEP']);
    const item = await postRaw(
      `${s.url}/$batch`,
      `{"requests":[{"id":"1","method":"POST","url":"/echo","body":${nested(5000)}}]}`,
    );
    expect([item.status, item.json().error.code]).toEqual([400, 'BATCH_TOO_DEEP']);
    // Within the limit: sent as usual.
    const fine = await postRaw(`${s.url}/batch`, `[${nested(900)}]`);
    expect(fine.status).toBe(200);

    const huge = Buffer.from('['.repeat(10 * 1024 * 1024));
    const big = [1, 2, 3, 4].map(() => postRaw(`${s.url}/batch`, huge));
    const health = await request(`${s.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
    for (const r of await Promise.all(big)) expect([r.status, r.json().error.code]).toEqual([400, 'BATCH_TOO_DEEP']);
    await expectIdle(s.url);
    expect(s.stderr()).toMatch(/POST \/batch 400 in [\d.]+ms: BATCH_TOO_DEEP/);
  }, 90_000);

  it('headers that do not arrive within --request-timeout: 408 and the connection is closed', async () => {
    const s = await serve(['--url', `${fx.url}/echo`, '--request-timeout', '1s']);
    const slow = trickle(s.port, 'POST /batch HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(200), 100);
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(slow.sent()).toBeLessThan(150); // cut long before the headers were complete
  }, 60_000);

  it('a body that does not arrive within --request-timeout: 408 REQUEST_TIMEOUT, logged, nothing sent', async () => {
    const s = await serve(['--url', `${fx.url}/echo`, '--request-timeout', '1s']);
    const body = JSON.stringify([{ a: 'x'.repeat(300) }]);
    const head =
      'POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\n\r\n`;
    const slow = trickle(s.port, head, body, 100);
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(slow.received()).toMatch(/"code":"REQUEST_TIMEOUT"/);
    expect(slow.sent()).toBeLessThan(body.length);
    expect(fx.requests).toHaveLength(0);
    await waitFor(() => /POST \/batch 408 .*REQUEST_TIMEOUT/.test(s.stderr()), 5_000, 'the log line');
    await expectIdle(s.url);
  }, 60_000);

  it('SIGTERM waits at most --shutdown-timeout for slow uploads and stuck batches, then exits', async () => {
    const s = await serve(['--url', `${fx.url}/hang`, '--timeout', '60s', '--shutdown-timeout', '1s']);
    const stuck = post(`${s.url}/batch`, [{ a: 1 }]).catch(() => null);
    await waitFor(() => fx.requests.length === 1, 10_000, 'the item to reach the upstream');
    const body = JSON.stringify([{ a: 'x'.repeat(1000) }]);
    const head = `POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const slow = trickle(s.port, head, body, 100);
    await waitFor(() => slow.sent() > 3, 10_000, 'the upload to start');
    s.child.kill('SIGTERM');
    const exited = await Promise.race([s.done, new Promise<null>((r) => setTimeout(() => r(null), 15_000).unref())]);
    slow.destroy();
    await stuck;
    expect(exited).not.toBeNull();
    expect(exited!.code).toBe(130);
    expect(exited!.stderr).toMatch(/SIGTERM: stopping .*within 1s/);
    expect(exited!.stderr).toMatch(/shutdown timeout \(1s\) passed/);
  }, 60_000);

  describe('$batch item headers', () => {
    it('CONNECTION: x-foo (any case) drops X-Foo', async () => {
      const s = await serve(['--url', `${fx.url}/echo`]);
      const res = await post(`${s.url}/$batch`, {
        requests: [
          { id: '1', method: 'GET', url: '/echo', headers: { CONNECTION: 'x-foo', 'X-Foo': 'no', 'X-Bar': 'yes' } },
          { id: '2', method: 'GET', url: '/echo', headers: { cOnNeCtIoN: 'X-BAZ', 'x-baz': 'no' } },
        ],
      });
      expect(res.status).toBe(200);
      expect(fx.requests).toHaveLength(2);
      for (const r of fx.requests) {
        expect(r.headers['x-foo']).toBeUndefined();
        expect(r.headers['x-baz']).toBeUndefined();
      }
      expect(fx.requests.some((r) => r.headers['x-bar'] === 'yes')).toBe(true);
    });

    it.each([
      ['names that differ only in case', { 'X-Dup': '1', 'x-dup': '2' }, /X-Dup.*x-dup|x-dup.*X-Dup/],
      ['a control character', { 'X-Ctl': 'a\u0001b' }, /X-Ctl .*control character/],
      ['DEL', { 'X-Ctl': 'a\u007fb' }, /X-Ctl .*control character/],
    ])('%s: 400 INVALID_HEADER, nothing sent', async (_what, headers, message) => {
      const s = await serve(['--url', `${fx.url}/echo`]);
      const res = await post(`${s.url}/$batch`, { requests: [{ id: '1', method: 'GET', url: '/echo', headers }] });
      expect(res.status).toBe(400);
      expect(res.json().error.code).toBe('INVALID_HEADER');
      expect(res.json().error.message).toMatch(message);
      expect(fx.requests).toHaveLength(0);
      await expectIdle(s.url);
    });
  });

  it('a templated -H rendering a control character: TEMPLATE_ERROR for that item, never sent or retried', async () => {
    const s = await serve(['--url', `${fx.url}/echo`, '-X', 'GET', '-H', 'X-Tag: {{ tag }}']);
    const res = await post(`${s.url}/batch`, [{ tag: 'a\u0001b' }, { tag: 'fine' }]);
    expect(res.status).toBe(200);
    const results = res.json().results;
    expect(results[0]).toMatchObject({ error: { code: 'TEMPLATE_ERROR' } });
    expect(results[0]!.error!.message).toMatch(/X-Tag has a control character \(0x01\)/);
    expect(results[1]).toMatchObject({ status: 200, error: null });
    expect(fx.requests).toHaveLength(1);
    await expectIdle(s.url);
  });

  describe('a template value of "." or ".." never removes a path segment', () => {
    const template = (base: string) => `${base}/tenants/{{ t }}/orders/{{ id }}/items`;
    const payloads = [
      { t: '..', id: '1' },
      { t: 'acme', id: '.' },
      { t: 'a.b', id: '..x' },
    ];

    it('run: TEMPLATE_ERROR for the dot segments, the rest sent as is', async () => {
      const dir = tmpDir();
      const out = path.join(dir, 'out.ndjson');
      const result = await runCli(['run', ndjsonFile(dir, payloads), '--url', template(fx.url), '--out', out]);
      expect(result.code).toBe(1);
      const lines = readResults<{ id: string; error: { code: string; message: string } | null }>(out);
      const byId = Object.fromEntries(lines.map((l) => [l.id, l.error]));
      expect(byId['1']).toMatchObject({ code: 'TEMPLATE_ERROR' });
      expect(byId['1']!.message).toMatch(/\{\{ t \}\} .*"\.\."/);
      expect(byId['2']).toMatchObject({ code: 'TEMPLATE_ERROR' });
      expect(byId['3']).toMatchObject({ code: 'HTTP_404' }); // sent: the fixture server has no such route
      expect(fx.requests.map((r) => r.path)).toEqual(['/tenants/a.b/orders/..x/items']);
    });

    it('serve /batch: the same', async () => {
      const s = await serve(['--url', template(fx.url)]);
      const res = await post(`${s.url}/batch`, payloads);
      expect(res.status).toBe(200);
      const results = res.json().results as { error: { code: string } | null }[];
      expect(results.map((r) => r.error?.code)).toEqual(['TEMPLATE_ERROR', 'TEMPLATE_ERROR', 'HTTP_404']);
      expect(fx.requests.map((r) => r.path)).toEqual(['/tenants/a.b/orders/..x/items']);
      await expectIdle(s.url);
    });
  });

  it('the log lines redact secret query parameters of --url and of the callers', async () => {
    const s = await serve(['--url', `${fx.url}/echo?api_key=SEKRET1&x={{ a }}`]);
    await post(`${s.url}/batch?token=SEKRET2`, [{ a: 1 }]);
    await postRaw(`${s.url}/batch?access_token=SEKRET3`, 'not json');
    await post(`${s.url}/v1.0/$batch?sig=SEKRET4`, { requests: [{ id: '1', method: 'GET', url: '/echo' }] });
    // A refusal whose message quotes a caller's URL.
    await post(`${s.url}/$batch`, { requests: [{ id: '1', method: 'GET', url: 'http://[::1?token=SEKRET5' }] });
    await waitFor(() => (s.stderr().match(/\n/g) ?? []).length >= 5, 10_000, 'the log lines');
    s.child.kill('SIGTERM');
    const { stderr } = await s.done;
    expect(stderr).toMatch(/POST \/batch\?token=\[redacted\] 200/);
    expect(stderr).toMatch(/\$batch 400 .*INVALID_BATCH .*token=\[redacted\]/);
    expect(stderr).not.toMatch(/SEKRET/);
  });

  it('invalid UTF-8 in a batch body: 400 INPUT_INVALID_UTF8, nothing sent', async () => {
    const s = await serve(['--url', `${fx.url}/echo`]);
    const bad = Buffer.concat([Buffer.from('[{"a":"ok"},\n{"a":"'), Buffer.from([0xff]), Buffer.from('"}]')]);
    const json = await postRaw(`${s.url}/batch`, bad);
    expect([json.status, json.json().error.code]).toEqual([400, 'INPUT_INVALID_UTF8']);
    expect(json.json().error.message).toMatch(/line 2: .*0xff/);
    const nd = Buffer.concat([Buffer.from('{"a":"ok"}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    const ndjson = await postRaw(`${s.url}/batch`, nd, 'application/x-ndjson');
    expect([ndjson.status, ndjson.json().error.code]).toEqual([400, 'INPUT_INVALID_UTF8']);
    const odata = Buffer.concat([
      Buffer.from('{"requests":[{"id":"1","method":"POST","url":"/echo","body":{"a":"'),
      Buffer.from([0xfe]),
      Buffer.from('"}}]}'),
    ]);
    const batch = await postRaw(`${s.url}/$batch`, odata);
    expect([batch.status, batch.json().error.code]).toEqual([400, 'INPUT_INVALID_UTF8']);
    expect(fx.requests).toHaveLength(0);
    // Valid multi-byte text is sent byte for byte.
    const ok = await postRaw(`${s.url}/batch`, Buffer.from('[{"a":"é€😀"}]'));
    expect(ok.status).toBe(200);
    expect(fx.requests[0]!.body).toBe('{"a":"é€😀"}');
    await expectIdle(s.url);
  });

  it("-L follows redirects on --url's origin only: a redirect to another origin is the answer, never followed", async () => {
    const s = await serve(['--url', `${fx.url}/redirect?to={{ to }}`, '-L', '--retries', '0']);
    const res = await post(`${s.url}/batch`, [{ to: '/echo' }, { to: `${other.url}/echo` }]);
    expect(res.status).toBe(200);
    const results = res.json().results as { status: number; error: { code: string } | null }[];
    expect(results[0]).toMatchObject({ status: 200, error: null });
    expect(results[1]).toMatchObject({ status: 302, error: { code: 'HTTP_302' } });
    const odata = await post(`${s.url}/$batch`, {
      requests: [{ id: '1', method: 'GET', url: `/redirect?to=${encodeURIComponent(`${other.url}/echo`)}` }],
    });
    expect(odata.json().responses[0]!.status).toBe(302);
    expect(other.requests).toHaveLength(0);
    expect(fx.requests.map((r) => r.path).sort()).toEqual(['/echo', '/redirect', '/redirect', '/redirect']);
  });
});

describe('a bug while a batch is handled', () => {
  it('answers that batch 500 INTERNAL_ERROR and nothing else: the server, its gauges and other batches carry on', async () => {
    // A transport whose answers break the code that reads their headers: the one way to reach a bug from outside.
    const broken = {
      send: () =>
        Promise.resolve({
          status: 200,
          statusText: 'OK',
          body: '{}',
          headers: new Proxy<Record<string, string>>(
            {},
            {
              ownKeys() {
                throw new Error('headers cannot be listed');
              },
            },
          ),
        }),
      close: () => Promise.resolve(),
    };
    const lines: string[] = [];
    const server = await startBatchServer({
      run: resolveOptions({ url: `${fx.url}/echo`, retries: 0 }),
      maxItems: 100,
      maxBytes: 1 << 20,
      inherit: new Set(),
      host: '127.0.0.1',
      port: 0,
      transport: broken,
      log: (line) => lines.push(line),
    });
    try {
      const odata = await post(`${server.url}/$batch`, {
        requests: [
          { id: '1', method: 'GET', url: '/echo' },
          { id: '2', method: 'GET', url: '/echo', dependsOn: ['1'] },
        ],
      });
      expect([odata.status, odata.json().error.code]).toEqual([500, 'INTERNAL_ERROR']);
      expect(lines.join('\n')).toMatch(/\$batch 500 .*internal error: .*headers cannot be listed/);
      const batch = await post(`${server.url}/batch`, [{ a: 1 }]);
      expect(batch.status).toBe(200);
      await expectIdle(server.url);
    } finally {
      await server.abort();
    }
  });
});
