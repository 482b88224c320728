// batchpost serve, POST /batch and the operations endpoints, in process over real HTTP against the fixture
// upstream: payloads sent as run sends them, results in run's line format (JSON in input order, or NDJSON as each
// completes with a final summary line), every failure kind isolated to its item, every refusal of a bad batch
// (with nothing sent), header inheritance, /healthz and /metrics. The CLI and SIGTERM are in serve-cli.test.ts,
// the OData $batch endpoint in serve-odata.test.ts.
import { expect } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { request } from 'undici';
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { ERROR_CODES } from '../src/engine/errors.js';
import { resolveOptions, type RunOptions } from '../src/engine/options.js';
import { DEFAULT_INHERITED } from '../src/server/headers.js';
import { startBatchServer, type BatchServer } from '../src/server/server.js';
import { parseJson, type EchoAnswer } from './helpers/json.js';

let fx: FixtureServer;
const servers: BatchServer[] = [];
let logs: string[] = [];

beforeAll(async () => {
  fx = await startFixtureServer();
});
afterAll(async () => {
  await fx.close();
});
beforeEach(() => {
  fx.reset();
  logs = [];
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.abort()));
});

interface Limits {
  maxItems?: number;
  maxBytes?: number;
  inherit?: string[];
}

/** A serve instance on a free port; run options as the library takes them (fast retries by default). */
async function serve(options: RunOptions, limits: Limits = {}): Promise<BatchServer> {
  const s = await startBatchServer({
    run: resolveOptions({ retryBaseDelayMs: 1, ...options }),
    maxItems: limits.maxItems ?? 1000,
    maxBytes: limits.maxBytes ?? 1024 * 1024,
    inherit: new Set([...DEFAULT_INHERITED, ...(limits.inherit ?? [])]),
    host: '127.0.0.1',
    port: 0,
    log: (line) => logs.push(line),
  });
  servers.push(s);
  return s;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Answer> {
  const res = await request(url, { method: 'POST', headers, body, headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function get(url: string, method: 'GET' | 'POST' = 'GET'): Promise<Answer> {
  const res = await request(url, { method });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

interface ResultLine<Body = unknown> {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  durationMs: number;
  /** /echo's answer in the tests that look into it. */
  response: EchoAnswer<Body>;
  error: { code: string; message: string } | null;
  startedAt?: number;
  headers?: Record<string, string>;
}

interface BatchSummary {
  total: number;
  ok: number;
  failed: number;
  durationMs: number;
}

interface JsonAnswer<Body = unknown> {
  results: ResultLine<Body>[];
  summary: BatchSummary;
}

/** A line of an NDJSON answer: a result, or the closing summary. */
type StreamLine = Partial<ResultLine> & { summary?: BatchSummary };

async function batch<Body = unknown>(
  s: BatchServer,
  payloads: unknown[] | string,
  headers?: Record<string, string>,
): Promise<JsonAnswer<Body>> {
  const res = await post(`${s.url}/batch`, typeof payloads === 'string' ? payloads : JSON.stringify(payloads), headers);
  expect([res.status, res.headers['content-type']]).toEqual([200, 'application/json']);
  return parseJson<JsonAnswer<Body>>(res.text);
}

/** A refusal: the status, the JSON error body with a code from the table, and nothing sent upstream. */
function expectRefused(res: Answer, status: number, code: string): string {
  expect([res.status, res.headers['content-type']]).toEqual([status, 'application/json']);
  const body = JSON.parse(res.text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(code in ERROR_CODES).toBe(true);
  expect(body.error.message.length).toBeGreaterThan(10);
  expect(fx.requests).toHaveLength(0);
  return body.error.message;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('POST /batch: each payload sent as run sends it', () => {
  it('answers {"results":[…]} in input order, in run\'s line format, with a summary; bodies go byte for byte', async () => {
    const s = await serve({ url: `${fx.url}/echo` });
    const raw = ['{"b": 2 , "a":1}', '{"name":"Zoë","list":[1, 2.50]}', '"just a string"'];
    const answer = await batch(s, `[ ${raw.join(' ,\n ')} ]`);
    expect(answer.results.map((r) => r.id)).toEqual(['1', '2', '3']);
    for (const [i, r] of answer.results.entries()) {
      expect(Object.keys(r)).toEqual([
        'id',
        'ok',
        'status',
        'attempts',
        'durationMs',
        'response',
        'error',
        'startedAt',
      ]);
      expect(r).toMatchObject({ ok: true, status: 200, attempts: 1, error: null });
      expect(r.response.body).toEqual(JSON.parse(raw[i]!));
    }
    expect(fx.requests.map((r) => r.body).sort()).toEqual([...raw].sort());
    expect(fx.requests.every((r) => r.method === 'POST' && r.headers['content-type'] === 'application/json')).toBe(
      true,
    );
    expect(answer.summary).toMatchObject({ total: 3, ok: 3, failed: 0 });
    expect(typeof answer.summary.durationMs).toBe('number');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/POST \/batch 200 in .*: 3 items, 3 ok, 0 failed/);
  });

  it('applies --url templates, --body, -H templates, --id-field, --method and --transform like run', async () => {
    const s = await serve({
      url: `${fx.url}/users/{{ user }}/orders`,
      method: 'PUT',
      body: 'order',
      headers: { 'X-Tenant': '{{ tenant }}' },
      idField: 'ref',
      transform: '{user: body.user, sku: body.body.sku}',
    });
    const payloads = [
      { ref: 'r-1', user: 'ann', tenant: 't1', order: { sku: 'A' } },
      { ref: 'r-2', user: 'b/o b', tenant: 't2', order: { sku: 'B' } },
    ];
    const answer = await batch(s, payloads);
    expect(answer.results.map((r) => [r.id, r.ok, r.response])).toEqual([
      ['r-1', true, { user: 'ann', sku: 'A' }],
      ['r-2', true, { user: 'b/o b', sku: 'B' }],
    ]);
    const seen = [...fx.requests].sort((a, b) => a.path.localeCompare(b.path));
    expect(seen.map((r) => [r.method, r.path, r.headers['x-tenant'], r.body])).toEqual([
      ['PUT', '/users/ann/orders', 't1', '{"sku":"A"}'],
      ['PUT', '/users/b%2Fo%20b/orders', 't2', '{"sku":"B"}'],
    ]);
  });

  it('takes NDJSON (Content-Type application/x-ndjson), blank lines skipped', async () => {
    const s = await serve({ url: `${fx.url}/echo` });
    const answer = await batch<{ n: number }>(s, '{"n":1}\n\n{"n":2}\r\n{"n":3}', {
      'content-type': 'application/x-ndjson',
    });
    expect(answer.results.map((r) => [r.id, r.response.body.n])).toEqual([
      ['1', 1],
      ['2', 2],
      ['3', 3],
    ]);
  });

  it('an empty array is an empty answer, nothing sent', async () => {
    const s = await serve({ url: `${fx.url}/echo` });
    const answer = await batch(s, []);
    expect(answer).toEqual({ results: [], summary: { total: 0, ok: 0, failed: 0, durationMs: expect.any(Number) } });
    expect(fx.requests).toHaveLength(0);
  });

  it('the JSON answer keeps input order whatever the completion order', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms={{ ms }}` });
    const answer = await batch(s, [{ ms: 600 }, { ms: 300 }, { ms: 0 }]);
    expect(answer.results.map((r) => [r.id, r.response.query.ms])).toEqual([
      ['1', '600'],
      ['2', '300'],
      ['3', '0'],
    ]);
    // Completion order really was the other way round (the fixture saw them end so).
    const ends = fx.requests.map((r) => [r.query.ms, r.endedAt!] as const).sort((a, b) => a[1] - b[1]);
    expect(ends.map(([ms]) => ms)).toEqual(['0', '300', '600']);
  });
});

describe('POST /batch with Accept: application/x-ndjson', () => {
  /** Reads an NDJSON answer line by line, calling `onLine` as each arrives. */
  function stream(
    url: string,
    body: string,
    onLine: (line: string) => void,
  ): Promise<{ status: number; type: string | undefined; lines: string[] }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${url}/batch`,
        { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } },
        (res) => {
          const lines: string[] = [];
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            buf += d;
            let nl: number;
            while ((nl = buf.indexOf('\n')) !== -1) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              lines.push(line);
              onLine(line);
            }
          });
          res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], lines }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('streams each result as it completes (the slowest never holds back the others), then a summary line', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms={{ ms }}` });
    let slowInFlightWhenFastArrived: boolean | null = null;
    const received: string[] = [];
    const answer = await stream(s.url, JSON.stringify([{ ms: 3000 }, { ms: 0 }, { ms: 10 }]), (line) => {
      received.push(line);
      if (received.length === 2) {
        // Both fast results are here: the slow request is still being answered by the upstream.
        const slow = fx.requests.find((r) => r.query.ms === '3000');
        slowInFlightWhenFastArrived = slow !== undefined && slow.endedAt === null;
      }
    });
    expect([answer.status, answer.type]).toEqual([200, 'application/x-ndjson']);
    expect(slowInFlightWhenFastArrived).toBe(true);
    const lines = answer.lines.map((l) => parseJson<StreamLine>(l));
    expect(lines).toHaveLength(4);
    expect(
      lines
        .slice(0, 2)
        .map((l) => l.id)
        .sort(),
    ).toEqual(['2', '3']);
    expect(lines[2]).toMatchObject({ id: '1', ok: true, status: 200 });
    expect(lines[3]).toEqual({ summary: { total: 3, ok: 3, failed: 0, durationMs: expect.any(Number) } });
    expect(lines[3]!.summary!.durationMs).toBeGreaterThanOrEqual(2900);
  });

  it('failures stream too, and the summary counts them', async () => {
    const s = await serve({ url: `${fx.url}/status/{{ code }}` });
    const answer = await stream(s.url, JSON.stringify([{ code: 201 }, { code: 404 }, {}]), () => {});
    const lines = answer.lines.map((l) => parseJson<StreamLine>(l));
    const results = lines.slice(0, 3) as ResultLine[];
    const byId = Object.fromEntries(results.map((l) => [l.id, l.error?.code ?? null] as const));
    expect(byId).toEqual({ '1': null, '2': 'HTTP_404', '3': 'TEMPLATE_ERROR' });
    expect(lines[3]).toEqual({ summary: { total: 3, ok: 1, failed: 2, durationMs: expect.any(Number) } });
  });
});

describe('POST /batch: every failure kind stays with its item; the batch is 200', () => {
  it('neighbours: 500, 201, 404 and a template error in one batch', async () => {
    const s = await serve({ url: `${fx.url}/status/{{ code }}` });
    const answer = await batch(s, [{ code: 500 }, { code: 201 }, { code: 404 }, { nocode: true }]);
    expect(answer.results.map((r) => [r.id, r.ok, r.status, r.attempts, r.error?.code ?? null])).toEqual([
      ['1', false, 500, 1, 'HTTP_500'],
      ['2', true, 201, 1, null],
      ['3', false, 404, 1, 'HTTP_404'],
      ['4', false, null, 0, 'TEMPLATE_ERROR'],
    ]);
    expect(answer.results[0]!.response).toEqual({ error: 'status 500' }); // a failed answer keeps its body
    expect(answer.results[0]!.error!.message).toMatch(/not retried: POST without an idempotency key/);
    expect(answer.summary).toMatchObject({ total: 4, ok: 1, failed: 3 });
    expect(fx.requests).toHaveLength(3);
  });

  it('timeout: TIMEOUT, not retried for POST', async () => {
    const s = await serve({ url: `${fx.url}/hang`, timeoutMs: 300, retries: 2 });
    const [r] = (await batch(s, [{ a: 1 }])).results;
    expect(r).toMatchObject({ ok: false, status: null, attempts: 1, error: { code: 'TIMEOUT' } });
    expect(fx.requests).toHaveLength(1);
  });

  it('connection refused: ECONNREFUSED after the retries (nothing was sent, so always retried)', async () => {
    const port = await freePort();
    const s = await serve({ url: `http://127.0.0.1:${port}/x`, retries: 2 });
    const [r] = (await batch(s, [{ a: 1 }])).results;
    expect(r).toMatchObject({ ok: false, status: null, attempts: 3, error: { code: 'ECONNREFUSED' } });
  });

  it('connection reset: ECONNRESET, not retried for POST; retried with --retry-unsafe', async () => {
    const s = await serve({ url: `${fx.url}/reset?key={{ k }}&after=1` });
    const [r] = (await batch(s, [{ k: 'a' }])).results;
    expect(r).toMatchObject({ ok: false, status: null, attempts: 1, error: { code: 'ECONNRESET' } });
    const unsafe = await serve({ url: `${fx.url}/reset?key={{ k }}&after=1`, retryUnsafe: true });
    const [again] = (await batch(unsafe, [{ k: 'b' }])).results;
    expect(again).toMatchObject({ ok: true, status: 200, attempts: 2 });
  });

  it('503 and 429 with Retry-After are retried whatever the method; 500 is retried for PUT', async () => {
    const s = await serve({ url: `${fx.url}/flaky/{{ key }}?code={{ code }}&retryAfter=0` });
    const answer = await batch(s, [
      { key: 'k503', code: 503 },
      { key: 'k429', code: 429 },
    ]);
    expect(answer.results.map((r) => [r.ok, r.attempts])).toEqual([
      [true, 2],
      [true, 2],
    ]);
    const put = await serve({ url: `${fx.url}/flaky/{{ key }}`, method: 'PUT' });
    const [r] = (await batch(put, [{ key: 'k500' }])).results;
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(fx.requests.filter((q) => q.key === 'k500')).toHaveLength(2);
  });

  it('--expect turns a 2xx that misses it into EXPECTATION_FAILED', async () => {
    const s = await serve({ url: `${fx.url}/echo`, expect: 'body.body.ok' });
    const answer = await batch(s, [{ ok: true }, { ok: false }]);
    expect(answer.results.map((r) => r.error?.code ?? null)).toEqual([null, 'EXPECTATION_FAILED']);
  });
});

describe('POST /batch: headers', () => {
  it("items inherit the caller's Authorization and allowlisted headers; -H wins; hop-by-hop and others never pass", async () => {
    const s = await serve(
      { url: `${fx.url}/echo`, headers: { 'X-Api-Key': 'operator' } },
      { inherit: ['x-tenant', 'x-hop'] },
    );
    const body = '[{"n":1}]';
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${s.url}/batch`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(body.length),
            authorization: 'Bearer caller',
            'accept-language': 'fr',
            'x-tenant': 'acme',
            'x-api-key': 'caller-key',
            cookie: 'session=1',
            'x-other': 'no',
            'idempotency-key': 'batch-key',
            connection: 'keep-alive, X-Hop',
            'x-hop': 'hop-by-hop for this message',
          },
        },
        (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(res).toBe(200);
    const h = fx.requests[0]!.headers;
    expect([h.authorization, h['accept-language'], h['x-tenant'], h['x-api-key']]).toEqual([
      'Bearer caller',
      'fr',
      'acme',
      'operator',
    ]);
    expect([h.cookie, h['x-other'], h['idempotency-key'], h['x-hop']]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(h.connection).toBe('keep-alive'); // the upstream connection's own, not the caller's
  });

  it("an Authorization set with -H is not replaced by the caller's", async () => {
    const s = await serve({ url: `${fx.url}/echo`, headers: { Authorization: 'Bearer operator' } });
    await batch(s, [{ n: 1 }], { 'content-type': 'application/json', authorization: 'Bearer caller' });
    expect(fx.requests[0]!.headers.authorization).toBe('Bearer operator');
  });

  it("--idempotency-key: one key per item, derived from the batch's own Idempotency-Key, so a replay repeats them", async () => {
    const s = await serve({ url: `${fx.url}/flaky/{{ k }}`, idempotencyKey: true });
    const headers = { 'content-type': 'application/json', 'idempotency-key': 'replay-me' };
    const first = await batch(s, [{ k: 'a' }, { k: 'b' }], headers);
    // POST with a key is safe to retry: the flaky 500 is retried.
    expect(first.results.map((r) => [r.ok, r.attempts])).toEqual([
      [true, 2],
      [true, 2],
    ]);
    const keyOf = (k: string) => [
      ...new Set(fx.requests.filter((r) => r.key === k).map((r) => r.headers['idempotency-key'])),
    ];
    const [a, b] = [keyOf('a'), keyOf('b')];
    expect(a).toHaveLength(1); // the same key on every attempt
    expect(a[0]).not.toEqual(b[0]);
    fx.reset();
    await batch(s, [{ k: 'a' }, { k: 'b' }], headers);
    expect([keyOf('a'), keyOf('b')]).toEqual([a, b]);
    fx.reset();
    await batch(s, [{ k: 'a' }]); // no caller key: a fresh one per batch
    expect(keyOf('a')).not.toEqual(a);
  });
});

describe('POST /batch: a bad batch is refused whole, with a JSON error and nothing sent', () => {
  let s: BatchServer;
  beforeEach(async () => {
    s = await serve({ url: `${fx.url}/echo` }, { maxItems: 3, maxBytes: 200 });
  });

  it.each([
    ['text/plain', 'UNSUPPORTED_MEDIA_TYPE', 415],
    ['application/x-www-form-urlencoded', 'UNSUPPORTED_MEDIA_TYPE', 415],
    ['application/json; charset=iso-8859-1', 'UNSUPPORTED_MEDIA_TYPE', 415],
  ])('Content-Type %s: %s', async (type, code, status) => {
    expectRefused(await post(`${s.url}/batch`, '[{"a":1}]', { 'content-type': type }), status, code);
  });

  it('no Content-Type: 415', async () => {
    const message = expectRefused(await post(`${s.url}/batch`, '[{"a":1}]', {}), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(message).toMatch(/application\/json/);
  });

  it('bad JSON: 400 INPUT_INVALID_JSON naming the line', async () => {
    const message = expectRefused(await post(`${s.url}/batch`, '[{"a":1},\n{"b":]'), 400, 'INPUT_INVALID_JSON');
    expect(message).toMatch(/line 2/);
  });

  it('a bad NDJSON line: 400 INPUT_INVALID_JSON naming it', async () => {
    const message = expectRefused(
      await post(`${s.url}/batch`, '{"a":1}\n{nope}\n', { 'content-type': 'application/x-ndjson' }),
      400,
      'INPUT_INVALID_JSON',
    );
    expect(message).toMatch(/line 2/);
  });

  it('a JSON object instead of an array: 400 INVALID_BATCH pointing at /$batch', async () => {
    const message = expectRefused(await post(`${s.url}/batch`, '{"requests":[]}'), 400, 'INVALID_BATCH');
    expect(message).toMatch(/\$batch/);
  });

  it('an empty body: 400 INVALID_BATCH', async () => {
    expectRefused(await post(`${s.url}/batch`, ''), 400, 'INVALID_BATCH');
  });

  it('more payloads than --max-items: 413 TOO_MANY_ITEMS', async () => {
    expectRefused(await post(`${s.url}/batch`, '[1,2,3,4]'), 413, 'TOO_MANY_ITEMS');
  });

  it('a body over --max-bytes (Content-Length): 413 BATCH_TOO_LARGE', async () => {
    expectRefused(await post(`${s.url}/batch`, JSON.stringify([{ pad: 'x'.repeat(300) }])), 413, 'BATCH_TOO_LARGE');
  });

  it('a chunked body that grows past --max-bytes: 413 as soon as it does, and the connection is closed', async () => {
    const { status, body, connection } = await new Promise<{ status: number; body: string; connection?: string }>(
      (resolve, reject) => {
        const req = http.request(
          `${s.url}/batch`,
          { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, body: text, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.write('[');
        for (let i = 0; i < 10; i++) req.write(`{"pad":"${'x'.repeat(50)}"},`);
        // Never ends the body: the answer must come anyway.
      },
    );
    expect(status).toBe(413);
    expect(parseJson<{ error: { code: string } }>(body).error.code).toBe('BATCH_TOO_LARGE');
    expect(connection).toBe('close');
    expect(fx.requests).toHaveLength(0);
  });

  it('--id-field: a missing id (400 MISSING_ID) and a duplicate (400 DUPLICATE_ID) name the payload', async () => {
    const ids = await serve({ url: `${fx.url}/echo`, idField: 'ref' });
    expect(expectRefused(await post(`${ids.url}/batch`, '[{"ref":"a"},{"x":1}]'), 400, 'MISSING_ID')).toMatch(/item 2/);
    expect(expectRefused(await post(`${ids.url}/batch`, '[{"ref":"a"},{"ref":"a"}]'), 400, 'DUPLICATE_ID')).toMatch(
      /item 2/,
    );
  });

  it('unknown endpoint: 404 NOT_FOUND listing the endpoints; GET /batch: 405 with Allow: POST', async () => {
    expect(expectRefused(await get(`${s.url}/nope`), 404, 'NOT_FOUND')).toMatch(/POST \/batch/);
    const res = await get(`${s.url}/batch`);
    expectRefused(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('POST');
    expectRefused(await get(`${s.url}/healthz`, 'POST'), 405, 'METHOD_NOT_ALLOWED');
  });

  it('a refusal is logged with its status and code', async () => {
    await post(`${s.url}/batch`, '[1,2,3,4]');
    expect(logs).toEqual([expect.stringMatching(/POST \/batch 413 in .*: TOO_MANY_ITEMS 4 payloads/)]);
  });
});

describe('sharing the server', () => {
  it('--concurrency holds across concurrent batches; batches of a size are served first come, first served', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms=100&b={{ b }}`, concurrency: 2 });
    const a = batch(
      s,
      Array.from({ length: 6 }, () => ({ b: 'A' })),
    );
    await until(() => fx.requests.length > 0, 'batch A to start');
    const b = batch(
      s,
      Array.from({ length: 6 }, () => ({ b: 'B' })),
    );
    await Promise.all([a, b]);
    expect(fx.maxInFlight).toBe(2);
    // A is answered as early as it can be, instead of both finishing late by taking turns.
    expect(fx.requests.map((r) => r.query.b).join('')).toBe('AAAAAABBBBBB');
  });

  it('a small batch does not wait behind a large one that would finish later anyway', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms=50&b={{ b }}`, concurrency: 2 });
    const large = batch(
      s,
      Array.from({ length: 40 }, () => ({ b: 'L' })),
    );
    await until(() => fx.requests.length > 0, 'the large batch to start');
    const small = await batch(s, [{ b: 'S' }]);
    expect(small.results[0]!.ok).toBe(true);
    const starts = fx.requests.map((r) => r.query.b);
    expect(starts.indexOf('S')).toBeLessThan(6); // behind at most the few of L already started or next
    expect(fx.requests.filter((r) => r.query.b === 'L').length).toBeLessThan(20); // answered while L had far to go
    await large;
  });

  it('a client that leaves mid-batch: items not started are dropped, those in flight finish, the server goes on', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms=300`, concurrency: 1 });
    const req = http.request(`${s.url}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ i }))));
    await until(() => fx.requests.length === 1, 'the first item to reach the upstream');
    req.destroy();
    await until(() => logs.length === 1, 'the batch to wind down');
    expect(logs[0]).toMatch(/POST \/batch 499 .*the client left; \d item/);
    expect(fx.requests.length).toBeLessThanOrEqual(2);
    const answer = await batch(s, [{ i: 'after' }]);
    expect(answer.results[0]!.ok).toBe(true);
  });
});

describe('operations', () => {
  it('/healthz answers 200 {"status":"ok"}', async () => {
    const s = await serve({ url: `${fx.url}/echo` });
    const res = await get(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ status: 'ok', batchesInFlight: 0, itemsInFlight: 0 });
  });

  it('/metrics: Prometheus text with batches, items by status class, the latency histogram, in flight and retries', async () => {
    const s = await serve({ url: `${fx.url}/flaky/{{ k }}?fail={{ fail }}&code={{ code }}&retryAfter=0` });
    await batch(s, [
      { k: 'a', fail: 0, code: 500 },
      { k: 'b', fail: 1, code: 503 },
      { k: 'c', fail: 9, code: 404 },
      { nothing: true },
    ]);
    await post(`${s.url}/batch`, 'nope');
    const res = await get(`${s.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (line: string): number => {
      const m = new RegExp(`^${line.replace(/[{}+.]/g, '\\$&')} (\\S+)$`, 'm').exec(res.text);
      if (!m) throw new Error(`no metric line ${line} in:\n${res.text}`);
      return Number(m[1]);
    };
    expect(value('batchpost_batches_total{endpoint="batch",status="200"}')).toBe(1);
    expect(value('batchpost_batches_total{endpoint="batch",status="400"}')).toBe(1);
    expect(value('batchpost_items_total{endpoint="batch",class="2xx"}')).toBe(2);
    expect(value('batchpost_items_total{endpoint="batch",class="4xx"}')).toBe(1);
    expect(value('batchpost_items_total{endpoint="batch",class="none"}')).toBe(1);
    expect(value('batchpost_item_duration_seconds_count{endpoint="batch"}')).toBe(3);
    expect(value('batchpost_item_duration_seconds_bucket{endpoint="batch",le="+Inf"}')).toBe(3);
    expect(value('batchpost_retries_total')).toBe(1);
    expect(value('batchpost_items_in_flight')).toBe(0);
    expect(value('batchpost_batches_in_flight{endpoint="batch"}')).toBe(0);
    expect(res.text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('while draining, a request arriving on a connection already open is answered 503 SHUTTING_DOWN and closed', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms=600` });
    const pending = batch(s, [{ a: 1 }]); // keeps the server draining for a while
    await until(() => fx.requests.length === 1, 'the item to reach the upstream');
    const socket = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    const ended = new Promise((r) => socket.once('close', r));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // a request under way: not an idle connection
    await sleep(100);
    const closed = s.close();
    socket.write('\r\n');
    await ended;
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toMatch(/connection: close/i);
    expect(text).toMatch(/"code":"SHUTTING_DOWN"/);
    expect((await pending).summary).toMatchObject({ total: 1, ok: 1 });
    await closed;
  });

  it('close() lets a batch in progress finish, then stops; new connections are refused', async () => {
    const s = await serve({ url: `${fx.url}/echo?ms=800` });
    const pending = batch(s, [{ a: 1 }, { a: 2 }]);
    await until(() => fx.requests.length === 2, 'the items to reach the upstream');
    const closed = s.close();
    await expect(get(`${s.url}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const answer = await pending;
    expect(answer.summary).toMatchObject({ total: 2, ok: 2 });
    await closed;
  });
});
