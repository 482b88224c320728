// batchpost serve, POST …/$batch (the OData JSON batch format of Microsoft Graph), in process over real HTTP:
// the Graph JS SDK's own BatchRequestContent / Client / BatchResponseContent against it, URL resolution and the
// origin rule, dependsOn (order, 424, unknown ids, cycles), bodies both ways (JSON, text, base64, byte for byte),
// headers (inheritance, precedence, hop-by-hop, CR/LF), every failure kind per item, and every bad batch.
import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  type BatchResponseBody,
} from '@microsoft/microsoft-graph-client';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { ERROR_CODES } from '../src/engine/errors.js';
import { resolveOptions, type RunOptions } from '../src/engine/options.js';
import { DEFAULT_INHERITED } from '../src/server/headers.js';
import { startBatchServer, type BatchServer } from '../src/server/server.js';

let fx: FixtureServer;
let other: FixtureServer;
const servers: BatchServer[] = [];

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
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.abort()));
});

async function serve(options: RunOptions, limits: { maxItems?: number } = {}): Promise<BatchServer> {
  const s = await startBatchServer({
    run: resolveOptions({ retryBaseDelayMs: 1, ...options }),
    maxItems: limits.maxItems ?? 1000,
    maxBytes: 1024 * 1024,
    inherit: new Set(DEFAULT_INHERITED),
    host: '127.0.0.1',
    port: 0,
  });
  servers.push(s);
  return s;
}

interface Item {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

interface ItemAnswer {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** The body of an item serve answered itself with an error. */
interface ItemErrorBody {
  error: { code: string; message: string };
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function odata(
  s: BatchServer,
  requests: Item[],
  path = '/$batch',
  headers?: Record<string, string>,
): Promise<Map<string, ItemAnswer>> {
  const res = await post(`${s.url}${path}`, JSON.stringify({ requests }), headers);
  expect([res.status, res.headers['content-type']]).toEqual([200, 'application/json']);
  const { responses } = JSON.parse(res.text) as { responses: ItemAnswer[] };
  expect(responses.map((r) => r.id)).toEqual(requests.map((r) => r.id)); // request order
  return new Map(responses.map((r) => [r.id, r]));
}

function expectRefused(
  res: { status: number; headers: Record<string, unknown>; text: string },
  status: number,
  code: string,
): string {
  expect([res.status, res.headers['content-type']]).toEqual([status, 'application/json']);
  const { error } = JSON.parse(res.text) as { error: { code: string; message: string } };
  expect(error.code).toBe(code);
  expect(code in ERROR_CODES).toBe(true);
  expect(fx.requests).toHaveLength(0);
  return error.message;
}

/** An item answered by serve itself: its status and error code, in a JSON body under Content-Type. */
function expectItemError(a: ItemAnswer | undefined, status: number, code: string): void {
  expect(a).toMatchObject({ status, headers: { 'Content-Type': 'application/json' }, body: { error: { code } } });
}

describe('the Microsoft Graph JS SDK, unchanged', () => {
  it('BatchRequestContent → Client.api("/$batch").post → BatchResponseContent', async () => {
    const s = await serve({ url: `${fx.url}/ignored-path` });
    // The SDK strips scheme and host from each request: items carry "/echo", resolved against --url's origin.
    const graph = 'https://graph.example.com';
    const json = (body: unknown) => ({
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    });
    const content = new BatchRequestContent([
      { id: '1', request: new Request(`${graph}/echo?step=1`, json({ name: 'Zoë' })) },
      { id: '2', request: new Request(`${graph}/users/42/orders`, json({ sku: 'A' })), dependsOn: ['1'] },
      { id: '3', request: new Request(`${graph}/status/404`), dependsOn: ['1'] },
      { id: '4', request: new Request(`${graph}/text`), dependsOn: ['1'] },
    ]);
    const client = Client.init({
      baseUrl: s.url,
      defaultVersion: 'v1.0',
      authProvider: (done) => done(null, 'unused-over-http'),
    });
    const raw = (await client
      .api('/$batch')
      .header('Accept-Language', 'fr-CH')
      .post(await content.getContent())) as BatchResponseBody;
    const answer = new BatchResponseContent(raw);

    const r1 = answer.getResponseById('1');
    expect(r1.status).toBe(200);
    const echo = (await r1.json()) as { path: string; query: unknown; body: unknown; headers: Record<string, string> };
    expect(echo).toMatchObject({ path: '/echo', query: { step: '1' }, body: { name: 'Zoë' } });
    // Inherited from the batch request. (The SDK itself sends Authorization only to Graph and its custom hosts,
    // which must be https: the inheritance of Authorization is tested without it, under "headers".)
    expect(echo.headers['accept-language']).toBe('fr-CH');
    expect(await answer.getResponseById('2').json()).toEqual({ user: '42', body: { sku: 'A' } });
    const r3 = answer.getResponseById('3');
    expect(r3.status).toBe(404);
    expect(await r3.json()).toEqual({ error: 'status 404' });
    const r4 = answer.getResponseById('4');
    expect([r4.status, r4.headers.get('content-type'), await r4.text()]).toEqual([
      200,
      'text/plain; charset=utf-8',
      'hello',
    ]);
    expect([...answer.getResponses().keys()].sort()).toEqual(['1', '2', '3', '4']);

    // dependsOn was honoured: 2, 3 and 4 started after 1 had been answered.
    const one = fx.requests.find((r) => r.path === '/echo')!;
    expect(fx.requests.filter((r) => r !== one).every((r) => r.startedAt >= one.endedAt!)).toBe(true);
  });

  it('a failed dependency reaches the SDK as a 424 response', async () => {
    const s = await serve({ url: fx.url });
    const content = new BatchRequestContent([
      { id: 'a', request: new Request('https://graph.example.com/status/500', { method: 'POST' }) },
      { id: 'b', request: new Request('https://graph.example.com/echo'), dependsOn: ['a'] },
    ]);
    const client = Client.init({ baseUrl: s.url, authProvider: (done) => done(null, 'x') });
    const raw = (await client.api('/$batch').post(await content.getContent())) as BatchResponseBody;
    const answer = new BatchResponseContent(raw);
    expect(answer.getResponseById('a').status).toBe(500);
    const b = answer.getResponseById('b');
    expect(b.status).toBe(424);
    expect(await b.json()).toMatchObject({ error: { code: 'FAILED_DEPENDENCY' } });
    expect(fx.requests.map((r) => r.path)).toEqual(['/status/500']);
  });
});

describe('URLs and the origin rule', () => {
  it('"/x" resolves against --url\'s origin, "x" against the batch endpoint\'s path, same-origin absolute URLs go', async () => {
    const s = await serve({ url: `${fx.url}/api/orders` });
    await odata(
      s,
      [
        { id: 'a', method: 'GET', url: '/echo?x=1' },
        { id: 'b', method: 'GET', url: 'relative' },
        { id: 'c', method: 'GET', url: `${fx.url}/text` },
      ],
      '/v1.0/$batch',
    );
    expect(fx.requests.map((r) => r.path).sort()).toEqual(['/echo', '/text', '/v1.0/relative']);
    fx.reset();
    await odata(s, [{ id: 'a', method: 'GET', url: 'echo' }]);
    expect(fx.requests.map((r) => r.path)).toEqual(['/echo']);
  });

  it('any other origin is refused with 403 for that item and never contacted; its neighbours go', async () => {
    const s = await serve({ url: `${fx.url}/api` });
    const host = new URL(other.url).host;
    const answers = await odata(s, [
      { id: 'ok', method: 'GET', url: '/echo' },
      { id: 'abs', method: 'POST', url: `${other.url}/echo`, body: { steal: true } },
      { id: 'proto-relative', method: 'GET', url: `//${host}/echo` },
      { id: 'backslash', method: 'GET', url: `/\\${host}/echo` },
      { id: 'scheme', method: 'GET', url: `https://${new URL(fx.url).host}/echo` },
      { id: 'file', method: 'GET', url: 'file:///etc/passwd' },
    ]);
    expect(answers.get('ok')!.status).toBe(200);
    for (const id of ['abs', 'proto-relative', 'backslash', 'scheme', 'file'])
      expectItemError(answers.get(id), 403, 'FORBIDDEN_ORIGIN');
    expect(other.requests).toHaveLength(0);
    expect(fx.requests).toHaveLength(1);
  });
});

describe('dependsOn', () => {
  it('runs a chain in order; a failed dependency answers 424 down the chain, which is never sent', async () => {
    const s = await serve({ url: fx.url });
    const answers = await odata(s, [
      { id: 'a', method: 'GET', url: '/echo?ms=100&n=a' },
      { id: 'b', method: 'GET', url: '/echo?n=b', dependsOn: ['A'] }, // ids match whatever their case
      { id: 'c', method: 'GET', url: '/status/500', dependsOn: ['b'] },
      { id: 'd', method: 'GET', url: '/echo?n=d', dependsOn: ['c'] },
      { id: 'e', method: 'GET', url: '/echo?n=e', dependsOn: ['d', 'a'] },
      { id: 'f', method: 'GET', url: `${other.url}/echo`, dependsOn: ['a'] },
      { id: 'g', method: 'GET', url: '/echo?n=g', dependsOn: ['f'] },
    ]);
    expect(['a', 'b', 'c'].map((id) => answers.get(id)!.status)).toEqual([200, 200, 500]);
    expectItemError(answers.get('d'), 424, 'FAILED_DEPENDENCY');
    expectItemError(answers.get('e'), 424, 'FAILED_DEPENDENCY');
    expectItemError(answers.get('f'), 403, 'FORBIDDEN_ORIGIN');
    expectItemError(answers.get('g'), 424, 'FAILED_DEPENDENCY');
    expect((answers.get('d')!.body as ItemErrorBody).error.message).toMatch(/"c".*answered 500/);
    const sent = fx.requests.map((r) => r.query.n ?? r.path);
    expect(sent).not.toContain('d');
    expect(sent).not.toContain('e');
    expect(sent).not.toContain('g');
    const at = (n: string) => fx.requests.find((r) => r.query.n === n)!;
    expect(at('b').startedAt).toBeGreaterThanOrEqual(at('a').endedAt!);
    // GET 500 is retried (idempotent): c was tried 3 times before it failed its dependents.
    expect(fx.requests.filter((r) => r.path === '/status/500')).toHaveLength(3);
  });

  it('items without dependencies go at once, side by side', async () => {
    const s = await serve({ url: fx.url });
    await odata(s, [
      { id: '1', method: 'GET', url: '/echo?ms=300' },
      { id: '2', method: 'GET', url: '/echo?ms=300' },
      { id: '3', method: 'GET', url: '/echo?ms=300' },
    ]);
    expect(fx.maxInFlight).toBe(3);
  });

  it.each([
    ['an unknown id', [{ id: '1', method: 'GET', url: '/echo', dependsOn: ['2'] }], 'UNKNOWN_DEPENDENCY'],
    ['itself', [{ id: '1', method: 'GET', url: '/echo', dependsOn: ['1'] }], 'DEPENDENCY_CYCLE'],
    [
      'a two-item cycle',
      [
        { id: '1', method: 'GET', url: '/echo', dependsOn: ['2'] },
        { id: '2', method: 'GET', url: '/echo', dependsOn: ['1'] },
      ],
      'DEPENDENCY_CYCLE',
    ],
    [
      'a three-item cycle behind a fine item',
      [
        { id: 'ok', method: 'GET', url: '/echo' },
        { id: 'x', method: 'GET', url: '/echo', dependsOn: ['z', 'ok'] },
        { id: 'y', method: 'GET', url: '/echo', dependsOn: ['x'] },
        { id: 'z', method: 'GET', url: '/echo', dependsOn: ['y'] },
      ],
      'DEPENDENCY_CYCLE',
    ],
  ])('depending on %s: 400, nothing sent', async (_what, requests, code) => {
    const s = await serve({ url: fx.url });
    const message = expectRefused(await post(`${s.url}/$batch`, JSON.stringify({ requests })), 400, code);
    expect(message).toMatch(/"\w+"/);
  });
});

/** An upstream that answers with the bytes and Content-Type it was sent (and records them). */
async function startMirror(): Promise<{
  url: string;
  seen: { type?: string; bytes: Buffer }[];
  close: () => Promise<void>;
}> {
  const seen: { type?: string; bytes: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      seen.push({ type: req.headers['content-type'], bytes });
      const url = new URL(req.url!, 'http://x');
      const status = Number(url.searchParams.get('status') ?? 200);
      const headers: Record<string, string> = {};
      const type = url.searchParams.get('type') ?? req.headers['content-type'];
      if (type && url.searchParams.get('notype') === null) headers['content-type'] = type;
      res.writeHead(status, headers);
      res.end(status === 204 ? undefined : bytes);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('bodies both ways', () => {
  let mirror: Awaited<ReturnType<typeof startMirror>>;
  beforeAll(async () => {
    mirror = await startMirror();
  });
  afterAll(async () => {
    await mirror.close();
  });
  beforeEach(() => void (mirror.seen.length = 0));

  it('JSON when the Content-Type is JSON or absent; text for text/*; base64 otherwise, byte for byte', async () => {
    const s = await serve({ url: mirror.url });
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3]);
    const answers = await odata(s, [
      { id: 'json', method: 'POST', url: '/', body: { a: 1, s: 'Zoë' } },
      {
        id: 'typed-json',
        method: 'PATCH',
        url: '/',
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: ['x'],
      },
      { id: 'text', method: 'POST', url: '/', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,"ü"\n' },
      {
        id: 'binary',
        method: 'PUT',
        url: '/',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: binary.toString('base64'),
      },
      {
        id: 'png',
        method: 'PUT',
        url: '/?type=image/png',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: 'iVBORw0KGgo=',
      },
    ]);
    const sent = new Map(mirror.seen.map((x) => [x.bytes.toString('latin1'), x]));
    expect(sent.get('{"a":1,"s":"ZoÃ«"}')?.type).toBe('application/json'); // JSON, as UTF-8 bytes
    expect(answers.get('json')).toMatchObject({
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: { a: 1, s: 'Zoë' },
    });
    expect(answers.get('typed-json')).toMatchObject({
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: ['x'],
    });
    expect(mirror.seen.find((x) => x.type === 'text/csv')!.bytes.toString('utf8')).toBe('a,b\n1,"ü"\n');
    expect(answers.get('text')).toMatchObject({ headers: { 'Content-Type': 'text/csv' }, body: 'a,b\n1,"ü"\n' });
    expect(
      mirror.seen
        .find((x) => x.type === 'application/octet-stream' && x.bytes.length === binary.length)!
        .bytes.equals(binary),
    ).toBe(true);
    expect(answers.get('binary')).toMatchObject({
      headers: { 'Content-Type': 'application/octet-stream' },
      body: binary.toString('base64'),
    });
    expect(answers.get('png')).toMatchObject({ headers: { 'Content-Type': 'image/png' }, body: 'iVBORw0KGgo=' });
  });

  it('an answer without Content-Type is JSON when it parses, base64 when not; 204 has no body; GET sends none', async () => {
    const s = await serve({ url: mirror.url });
    const answers = await odata(s, [
      { id: 'json', method: 'POST', url: '/?notype=1', body: { ok: 1 } },
      {
        id: 'bytes',
        method: 'POST',
        url: '/?notype=1',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from([1, 2, 255]).toString('base64'),
      },
      { id: 'empty', method: 'POST', url: '/?status=204', body: { x: 1 } },
      { id: 'get', method: 'GET', url: '/', body: { ignored: true } },
    ]);
    expect(answers.get('json')!.body).toEqual({ ok: 1 });
    expect(answers.get('bytes')!.body).toBe(Buffer.from([1, 2, 255]).toString('base64'));
    expect(answers.get('empty')!.status).toBe(204);
    expect(answers.get('empty')).not.toHaveProperty('body');
    expect(answers.get('get')).not.toHaveProperty('body');
    expect(mirror.seen.filter((x) => x.bytes.length === 0)).toHaveLength(1); // only the GET went without a body
  });

  it.each([
    ['a text body that is not a string', { 'content-type': 'text/plain' }, { not: 'text' }],
    ['a binary body that is not base64', { 'content-type': 'application/octet-stream' }, 'not base64!'],
  ])('%s: 400 INVALID_BATCH, nothing sent', async (_what, headers, body) => {
    const s = await serve({ url: mirror.url });
    const res = await post(
      `${s.url}/$batch`,
      JSON.stringify({ requests: [{ id: '1', method: 'POST', url: '/', headers, body }] }),
    );
    expectRefused(res, 400, 'INVALID_BATCH');
    expect(mirror.seen).toHaveLength(0);
  });
});

describe('headers', () => {
  it('item headers win over inherited ones; -H wins over both; hop-by-hop ones are dropped; answers name Content-Type so', async () => {
    const s = await serve({ url: fx.url, headers: { 'X-Api-Key': 'operator', 'Content-Type': 'text/plain' } });
    const answers = await odata(
      s,
      [
        {
          id: '1',
          method: 'POST',
          url: '/echo',
          body: { a: 1 },
          headers: {
            Authorization: 'Bearer item',
            'X-Api-Key': 'item',
            'X-Item': 'yes',
            Connection: 'close, X-Secret',
            'X-Secret': 'hop',
            'Keep-Alive': 'timeout=1',
            'Transfer-Encoding': 'chunked',
            TE: 'trailers',
            Upgrade: 'h2c',
            Host: 'evil.example',
            'Content-Length': '999',
          },
        },
        { id: '2', method: 'GET', url: '/headers' },
      ],
      '/$batch',
      {
        'content-type': 'application/json',
        authorization: 'Bearer caller',
        'accept-language': 'de',
        'x-other': 'not inherited',
      },
    );
    const h = (answers.get('1')!.body as { headers: Record<string, string> }).headers;
    expect([h.authorization, h['x-api-key'], h['x-item'], h['accept-language'], h['content-type']]).toEqual([
      'Bearer item',
      'operator',
      'yes',
      'de',
      'application/json', // -H Content-Type is for /batch payloads; a $batch item's body decides its own
    ]);
    expect([h['x-secret'], h['keep-alive'], h.te, h.upgrade, h['x-other'], h['transfer-encoding']]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(h.host).toBe(new URL(fx.url).host);
    expect(h['content-length']).toBe('7');
    const two = answers.get('2')!;
    expect(Object.keys(two.headers)).toEqual(expect.arrayContaining(['Content-Type', 'X-Test', 'Ratelimit-Remaining']));
    expect(
      Object.keys(two.headers).some((k) => /^(connection|keep-alive|transfer-encoding|content-length)$/i.test(k)),
    ).toBe(false);
  });

  it.each([
    ['a CR/LF in a value', { 'X-A': 'one\r\nX-Injected: two' }],
    ['a LF in a value', { 'X-A': 'one\nX-Injected: two' }],
    ['a name that is not a token', { 'X A': 'v' }],
  ])('%s: 400 INVALID_HEADER, nothing sent', async (_what, headers) => {
    const s = await serve({ url: fx.url });
    const res = await post(
      `${s.url}/$batch`,
      JSON.stringify({
        requests: [
          { id: '1', method: 'GET', url: '/echo', headers },
          { id: '2', method: 'GET', url: '/echo' },
        ],
      }),
    );
    expect(expectRefused(res, 400, 'INVALID_HEADER')).toMatch(/requests\[0\]/);
  });
});

describe('every failure kind answers its own item; the batch is 200', () => {
  it("504 on timeout, 502 on reset, upstream statuses as they are, retries by each item's own method", async () => {
    const s = await serve({ url: fx.url, timeoutMs: 300 });
    const answers = await odata(s, [
      { id: 'timeout', method: 'POST', url: '/hang' },
      { id: 'reset', method: 'POST', url: '/reset' },
      { id: 'post-500', method: 'POST', url: '/flaky/p500' },
      { id: 'get-500', method: 'GET', url: '/flaky/g500' },
      { id: 'keyed-500', method: 'POST', url: '/flaky/k500', headers: { 'Idempotency-Key': 'abc' } },
      { id: 'post-503', method: 'POST', url: '/flaky/p503?code=503&retryAfter=0' },
      { id: 'fine', method: 'GET', url: '/echo' },
    ]);
    expectItemError(answers.get('timeout'), 504, 'TIMEOUT');
    expectItemError(answers.get('reset'), 502, 'ECONNRESET');
    expect(answers.get('post-500')).toMatchObject({ status: 500, body: { error: 'flaky' } });
    expect(answers.get('get-500')).toMatchObject({ status: 200, body: { ok: true, attempt: 2 } });
    expect(answers.get('keyed-500')).toMatchObject({ status: 200, body: { attempt: 2 } });
    expect(answers.get('post-503')).toMatchObject({ status: 200, body: { attempt: 2 } });
    expect(answers.get('fine')!.status).toBe(200);
    expect(fx.requests.filter((r) => r.path === '/hang')).toHaveLength(1); // POST: a timeout is not retried
    expect(fx.requests.filter((r) => r.key === 'p500')).toHaveLength(1);
  });

  it('502 ECONNREFUSED when the upstream is down', async () => {
    const s = await serve({ url: `http://127.0.0.1:${await freePort()}`, retries: 1 });
    const answers = await odata(s, [{ id: '1', method: 'GET', url: '/x' }]);
    expectItemError(answers.get('1'), 502, 'ECONNREFUSED');
    expect((answers.get('1')!.body as ItemErrorBody).error.message).toMatch(/gave up after 2 attempts/);
  });

  it("a templated -H that cannot be rendered on an item's body: 400 TEMPLATE_ERROR for that item only", async () => {
    const s = await serve({ url: fx.url, headers: { 'X-Tenant': '{{ tenant }}' } });
    const answers = await odata(s, [
      { id: '1', method: 'POST', url: '/echo', body: { tenant: 't1' } },
      { id: '2', method: 'POST', url: '/echo', body: { other: 1 } },
    ]);
    expect((answers.get('1')!.body as { headers: Record<string, string> }).headers['x-tenant']).toBe('t1');
    expectItemError(answers.get('2'), 400, 'TEMPLATE_ERROR');
    expect(fx.requests).toHaveLength(1);
  });
});

describe('a bad $batch is refused whole, nothing sent', () => {
  const one = { id: '1', method: 'GET', url: '/echo' };
  it.each([
    ['an array', [one]],
    ['no requests', {}],
    ['requests not an array', { requests: one }],
    ['an item that is not an object', { requests: [one, 'x'] }],
    ['a missing id', { requests: [{ method: 'GET', url: '/echo' }] }],
    ['a numeric id', { requests: [{ ...one, id: 1 }] }],
    ['an empty id', { requests: [{ ...one, id: '' }] }],
    [
      'ids differing only in case',
      {
        requests: [
          { ...one, id: 'Abc' },
          { ...one, id: 'aBC' },
        ],
      },
    ],
    ['a method that is not one', { requests: [{ ...one, method: 'GE T' }] }],
    ['CONNECT', { requests: [{ ...one, method: 'CONNECT' }] }],
    ['a missing url', { requests: [{ id: '1', method: 'GET' }] }],
    ['headers that are not an object', { requests: [{ ...one, headers: ['a'] }] }],
    ['a header value that is an object', { requests: [{ ...one, headers: { a: { b: 1 } } }] }],
    ['dependsOn that is not an array', { requests: [{ ...one, dependsOn: '1' }] }],
  ])('%s: 400 INVALID_BATCH', async (_what, doc) => {
    const s = await serve({ url: fx.url });
    expectRefused(await post(`${s.url}/$batch`, JSON.stringify(doc)), 400, 'INVALID_BATCH');
  });

  it('bad JSON: 400 INPUT_INVALID_JSON; wrong media type: 415; too many items: 413', async () => {
    const s = await serve({ url: fx.url }, { maxItems: 2 });
    expectRefused(await post(`${s.url}/$batch`, '{"requests":['), 400, 'INPUT_INVALID_JSON');
    expectRefused(
      await post(`${s.url}/$batch`, JSON.stringify({ requests: [one] }), { 'content-type': 'application/x-ndjson' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const three = { requests: ['a', 'b', 'c'].map((id) => ({ ...one, id })) };
    expectRefused(await post(`${s.url}/$batch`, JSON.stringify(three)), 413, 'TOO_MANY_ITEMS');
  });

  it('an empty batch is an empty answer', async () => {
    const s = await serve({ url: fx.url });
    const res = await post(`${s.url}/$batch`, '{"requests":[]}');
    expect([res.status, JSON.parse(res.text)]).toEqual([200, { responses: [] }]);
  });
});
