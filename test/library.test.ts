// The library API against the fixture server: `runBatch(payloads, options)` as a user imports it.
import { Readable } from 'node:stream';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import {
  BatchpostError,
  readPayloads,
  runBatch,
  type BatchRun,
  type Result,
  type RunBatchOptions,
} from '../src/index.js';

let server: FixtureServer;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function collect(run: AsyncIterable<Result>): Promise<Result[]> {
  const out: Result[] = [];
  for await (const r of run) out.push(r);
  return out;
}

const byId = (results: Result[]): Map<string, Result> => new Map(results.map((r) => [r.id, r]));

interface Echo {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

describe('results', () => {
  it('one result per payload, with positional ids "1".."N" matching the payload that was sent', async () => {
    const payloads = Array.from({ length: 25 }, (_, i) => ({ n: i + 1, name: `item ${i + 1}` }));
    const run = runBatch(payloads, { url: `${server.url}/echo`, concurrency: 5 });
    const results = await collect(run);
    expect(results).toHaveLength(25);
    expect(new Set(results.map((r) => r.id))).toEqual(new Set(payloads.map((_, i) => String(i + 1))));
    for (const r of results) {
      expect(r).toMatchObject({ ok: true, status: 200, attempts: 1, error: null });
      expect(typeof r.durationMs).toBe('number');
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect((r.response as Echo).body).toEqual(payloads[Number(r.id) - 1]);
      expect(r).not.toHaveProperty('headers');
    }
    const summary = await run.summary();
    expect(summary).toMatchObject({
      total: 25,
      ok: 25,
      failed: 0,
      skipped: 0,
      retries: 0,
      interrupted: false,
      inputError: null,
    });
    expect(summary.byStatus).toEqual({ '200': 25 });
    expect(run.stats.done).toBe(25);
    expect(server.requests).toHaveLength(25);
  });

  it('accepts an async iterable of payloads', async () => {
    async function* gen() {
      for (let i = 0; i < 5; i++) {
        await sleep(1);
        yield { i };
      }
    }
    const results = await collect(runBatch(gen(), { url: `${server.url}/echo` }));
    expect(results.map((r) => r.id).sort()).toEqual(['1', '2', '3', '4', '5']);
    expect((byId(results).get('3')!.response as Echo).body).toEqual({ i: 2 });
  });

  it('idField takes each id from the payload (--id-field)', async () => {
    const payloads = [{ order: { ref: 'A-7' } }, { order: { ref: 'B/8' } }, { order: { ref: 42 } }];
    const results = await collect(runBatch(payloads, { url: `${server.url}/echo`, idField: 'order.ref' }));
    const m = byId(results);
    expect([...m.keys()].sort()).toEqual(['42', 'A-7', 'B/8']);
    expect((m.get('B/8')!.response as Echo).body).toEqual({ order: { ref: 'B/8' } });
    expect((m.get('42')!.response as Echo).body).toEqual({ order: { ref: 42 } });
  });

  it('idField: a duplicate id stops the run with DUPLICATE_ID', async () => {
    const run = runBatch([{ k: 'a' }, { k: 'b' }, { k: 'a' }, { k: 'c' }], {
      url: `${server.url}/echo`,
      idField: 'k',
      concurrency: 1,
    });
    const results = await collect(run);
    const summary = await run.summary();
    expect(summary.inputError).toMatchObject({ code: 'DUPLICATE_ID', line: 3 });
    // The duplicate is never sent; whatever was sent before the stop is recorded, each id once.
    const ids = results.map((r) => r.id);
    expect(ids.filter((id) => id === 'a')).toEqual(['a']);
    expect(ids.every((id) => id === 'a' || id === 'b')).toBe(true);
    expect(server.requests).toHaveLength(results.length);
    expect(server.requests.filter((r) => r.body === '{"k":"a"}')).toHaveLength(1);
  });

  it('results are yielded as they complete: a slow payload does not hold back fast ones', async () => {
    const t0 = performance.now();
    const run = runBatch([{ ms: 1500 }, { ms: 0 }, { ms: 10 }, { ms: 0 }], {
      url: `${server.url}/echo?ms={{ ms }}`,
      concurrency: 4,
    });
    const seen: { id: string; at: number }[] = [];
    for await (const r of run) seen.push({ id: r.id, at: performance.now() - t0 });
    expect(seen.map((s) => s.id)).toEqual(expect.arrayContaining(['1', '2', '3', '4']));
    expect(seen[seen.length - 1]!.id).toBe('1');
    const fastLast = Math.max(...seen.filter((s) => s.id !== '1').map((s) => s.at));
    expect(fastLast).toBeLessThan(1000); // not held back until the slow one is done
    expect(seen[seen.length - 1]!.at).toBeGreaterThanOrEqual(1400);
  });
});

describe('payloads and input records', () => {
  it('a payload shaped like an input record is still a payload: sent as itself, not its `raw`', async () => {
    const payload = { line: 1, value: 2, raw: 'x' };
    const results = await collect(runBatch([payload], { url: `${server.url}/echo` }));
    expect(results[0]).toMatchObject({ ok: true, status: 200 });
    expect(server.requests[0]!.body).toBe(JSON.stringify(payload));
  });

  it("readPayloads records: each payload's source text is sent byte for byte", async () => {
    const lines = ['{"a": 1.0,  "b" : [1,2]}', '{"s":"\\u00e9 é \\"q\\""}', '  {"line": 7, "value": 8, "raw": "y"} '];
    // Chunks that split the first payload: records carry their text across chunk boundaries.
    const text = Readable.from([lines[0]!.slice(0, 5), `${lines[0]!.slice(5)}\n${lines[1]}\n`, `${lines[2]}\n`]);
    const results = await collect(runBatch(readPayloads(text), { url: `${server.url}/echo`, concurrency: 1 }));
    expect(results.map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(server.requests.map((r) => r.body)).toEqual(lines.map((l) => l.trim()));
  });
});

describe('concurrency and pace', () => {
  it('exact concurrency: 40 payloads to /slow with concurrency 8 reach maxInFlight 8, never more', async () => {
    const run = runBatch(
      Array.from({ length: 40 }, (_, i) => ({ i })),
      { url: `${server.url}/slow?ms=100`, concurrency: 8 },
    );
    let maxStatsInFlight = 0;
    for await (const r of run) {
      expect(r.ok).toBe(true);
      maxStatsInFlight = Math.max(maxStatsInFlight, run.stats.inFlight);
    }
    expect(server.requests).toHaveLength(40);
    expect(server.maxInFlight).toBe(8);
    expect(maxStatsInFlight).toBeLessThanOrEqual(8);
  });

  it('rate paces starts: 20 payloads at rate 40 take at least ~450 ms', async () => {
    const t0 = performance.now();
    const run = runBatch(
      Array.from({ length: 20 }, (_, i) => ({ i })),
      { url: `${server.url}/echo`, concurrency: 20, rate: 40 },
    );
    const results = await collect(run);
    const elapsed = performance.now() - t0;
    expect(results).toHaveLength(20);
    expect(elapsed).toBeGreaterThanOrEqual(440); // 19 gaps of 25 ms = 475 ms
    expect(elapsed).toBeLessThan(5000);
    const starts = server.requests.map((r) => r.startedAt).sort((a, b) => a - b);
    expect(starts[starts.length - 1]! - starts[0]!).toBeGreaterThanOrEqual(400);
    // No burst: never 5 starts within 50 ms (evenly spaced would be 2-3).
    for (let i = 4; i < starts.length; i++) expect(starts[i]! - starts[i - 4]!).toBeGreaterThanOrEqual(50);
  });
});

describe('retries', () => {
  it('503 is retried even for POST (attempts 2, ok)', async () => {
    const run = runBatch([{ key: 'r503-a' }, { key: 'r503-b' }], {
      url: `${server.url}/flaky/{{ key }}?code=503`,
      retryBaseDelayMs: 1,
    });
    const results = await collect(run);
    for (const r of results) expect(r).toMatchObject({ ok: true, status: 200, attempts: 2, error: null });
    expect(server.requests).toHaveLength(4);
    expect((await run.summary()).retries).toBe(2);
  });

  it('POST 500 is not retried, and the message names --idempotency-key', async () => {
    const results = await collect(
      runBatch([{ key: 'p500' }], { url: `${server.url}/flaky/{{ key }}`, retryBaseDelayMs: 1 }),
    );
    expect(results).toHaveLength(1);
    const r = results[0]!;
    expect(r).toMatchObject({ ok: false, status: 500, attempts: 1, response: { error: 'flaky' } });
    expect(r.error!.code).toBe('HTTP_500');
    expect(r.error!.message).toContain('--idempotency-key');
    expect(server.requests).toHaveLength(1);
  });

  it('idempotencyKey: true makes POST 500 retryable, with one stable Idempotency-Key per id', async () => {
    const run = runBatch([{ key: 'ik-a' }, { key: 'ik-b' }], {
      url: `${server.url}/flaky/{{ key }}`,
      idempotencyKey: true,
      retryBaseDelayMs: 1,
    });
    const results = await collect(run);
    for (const r of results) expect(r).toMatchObject({ ok: true, status: 200, attempts: 2 });
    const keysFor = (k: string) => server.requests.filter((r) => r.key === k).map((r) => r.headers['idempotency-key']);
    const a = keysFor('ik-a');
    const b = keysFor('ik-b');
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(typeof a[0]).toBe('string');
    expect(a[0]).not.toBe('');
    expect(a[1]).toBe(a[0]); // same key on the retry
    expect(b[1]).toBe(b[0]);
    expect(b[0]).not.toBe(a[0]); // one per request
  });

  it('the Idempotency-Key is derived from runId + id: the same in another run with the same runId', async () => {
    const keyOf = async (runId: string): Promise<unknown> => {
      server.reset();
      await collect(runBatch([{ x: 1 }], { url: `${server.url}/echo`, idempotencyKey: true, runId }));
      return server.requests[0]!.headers['idempotency-key'];
    };
    const first = await keyOf('nightly-1');
    expect(await keyOf('nightly-1')).toBe(first);
    expect(await keyOf('nightly-2')).not.toBe(first);
  });

  it('without idempotencyKey no Idempotency-Key header is sent', async () => {
    await collect(runBatch([{ x: 1 }], { url: `${server.url}/echo` }));
    expect(server.requests[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('retryUnsafe retries POST 500', async () => {
    const results = await collect(
      runBatch([{ key: 'ru' }], { url: `${server.url}/flaky/{{ key }}`, retryUnsafe: true, retryBaseDelayMs: 1 }),
    );
    expect(results[0]).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(server.requests).toHaveLength(2);
  });

  it("method: 'PUT' retries 500 (idempotent method)", async () => {
    const results = await collect(
      runBatch([{ key: 'put' }], { url: `${server.url}/flaky/{{ key }}`, method: 'PUT', retryBaseDelayMs: 1 }),
    );
    expect(results[0]).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'PUT']);
  });

  it('gives up after `retries` extra attempts', async () => {
    const results = await collect(
      runBatch([{ key: 'giveup' }], {
        url: `${server.url}/flaky/{{ key }}?code=503&fail=10`,
        retries: 2,
        retryBaseDelayMs: 1,
      }),
    );
    expect(results[0]).toMatchObject({ ok: false, status: 503, attempts: 3 });
    expect(results[0]!.error!.code).toBe('HTTP_503');
    expect(server.requests).toHaveLength(3);
  });

  it('a 4xx is never retried', async () => {
    const results = await collect(
      runBatch([{ x: 1 }], { url: `${server.url}/status/422`, method: 'PUT', retryBaseDelayMs: 1 }),
    );
    expect(results[0]).toMatchObject({ ok: false, status: 422, attempts: 1, response: { error: 'status 422' } });
    expect(results[0]!.error!.code).toBe('HTTP_422');
    expect(server.requests).toHaveLength(1);
  });
});

describe('failures below HTTP', () => {
  it('timeout → TIMEOUT (POST: not retried), well before the server would answer', async () => {
    const t0 = performance.now();
    const results = await collect(runBatch([{ x: 1 }], { url: `${server.url}/hang`, timeoutMs: 200 }));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: false, status: null, attempts: 1 });
    expect(results[0]!.error!.code).toBe('TIMEOUT');
    expect(results[0]!.durationMs).toBeGreaterThanOrEqual(150);
  });

  it('timeout with an idempotent method is retried, each attempt timed on its own', async () => {
    const results = await collect(
      runBatch([{ x: 1 }], {
        url: `${server.url}/hang`,
        method: 'PUT',
        timeoutMs: 100,
        retries: 1,
        retryBaseDelayMs: 1,
      }),
    );
    expect(results[0]).toMatchObject({ ok: false, attempts: 2 });
    expect(results[0]!.error!.code).toBe('TIMEOUT');
    expect(server.requests).toHaveLength(2);
  });
});

describe('request and response shaping', () => {
  it('transform replaces response with a JMESPath over {status, headers, body}', async () => {
    const results = await collect(
      runBatch([{ n: 5 }], {
        url: `${server.url}/echo`,
        transform: '{s: status, n: body.body.n, ct: headers."content-type"}',
      }),
    );
    expect(results[0]!.response).toEqual({ s: 200, n: 5, ct: 'application/json' });
  });

  it('includeHeaders adds the response headers to each result', async () => {
    const results = await collect(runBatch([{ x: 1 }], { url: `${server.url}/headers`, includeHeaders: true }));
    expect(results[0]!.headers).toMatchObject({ 'x-test': '1', 'ratelimit-remaining': '5' });
    expect(results[0]!.response).toEqual({ ok: true });
  });

  it('a text/plain answer is kept as text', async () => {
    const results = await collect(runBatch([{ x: 1 }], { url: `${server.url}/text` }));
    expect(results[0]!.response).toBe('hello');
  });

  it('body builds the body from the payload (JMESPath) and sends it as JSON', async () => {
    const results = await collect(
      runBatch([{ data: { x: 1, tags: ['a'] }, meta: { secret: 's' } }], { url: `${server.url}/echo`, body: 'data' }),
    );
    expect(server.requests[0]!.body).toBe('{"x":1,"tags":["a"]}');
    expect(server.requests[0]!.headers['content-type']).toBe('application/json');
    expect((results[0]!.response as Echo).body).toEqual({ x: 1, tags: ['a'] });
  });

  it('headers are sent, and may hold templates', async () => {
    await collect(
      runBatch([{ tenant: 't-9' }], {
        url: `${server.url}/echo`,
        headers: { 'X-Tenant': '{{ tenant }}', Authorization: 'Bearer k' },
      }),
    );
    expect(server.requests[0]!.headers['x-tenant']).toBe('t-9');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer k');
  });

  it('URL templates are evaluated per payload and their values percent-encoded', async () => {
    const results = await collect(
      runBatch(
        [
          { userId: 'u1', n: 1 },
          { userId: 'a b/c', n: 2 },
        ],
        { url: `${server.url}/users/{{ userId }}/orders`, idField: 'userId' },
      ),
    );
    const m = byId(results);
    expect(m.get('u1')!.response).toEqual({ user: 'u1', body: { userId: 'u1', n: 1 } });
    expect(m.get('a b/c')!.response).toEqual({ user: 'a b/c', body: { userId: 'a b/c', n: 2 } });
    expect(server.requests.map((r) => r.path).sort()).toEqual(['/users/a%20b%2Fc/orders', '/users/u1/orders']);
  });

  it('a template that fails for one payload records TEMPLATE_ERROR for it and sends the others', async () => {
    const results = await collect(
      runBatch([{ userId: 'u1' }, { other: 1 }], { url: `${server.url}/users/{{ userId }}/orders` }),
    );
    const m = byId(results);
    expect(m.get('1')!.ok).toBe(true);
    expect(m.get('2')).toMatchObject({ ok: false, attempts: 0 });
    expect(m.get('2')!.error!.code).toBe('TEMPLATE_ERROR');
    expect(server.requests).toHaveLength(1);
  });
});

describe('stopping', () => {
  it('AbortSignal: results end, summary resolves, requests in flight are not yielded', async () => {
    const ac = new AbortController();
    const payloads = [{ ms: 0 }, { ms: 0 }, { ms: 0 }, ...Array.from({ length: 27 }, () => ({ ms: 5000 }))];
    const t0 = performance.now();
    const run = runBatch(payloads, { url: `${server.url}/echo?ms={{ ms }}`, concurrency: 5, signal: ac.signal });
    const seen: Result[] = [];
    for await (const r of run) {
      seen.push(r);
      if (seen.length === 3) setTimeout(() => ac.abort(), 100); // the slow ones are in flight by then
    }
    const summary = await run.summary();
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(seen.map((r) => r.id).sort()).toEqual(['1', '2', '3']);
    expect(summary).toMatchObject({ total: 3, ok: 3, interrupted: true });
    expect(server.requests.length).toBeLessThanOrEqual(3 + 5); // nothing new started after the abort
  });

  it('AbortSignal already aborted: nothing is sent and the run ends at once', async () => {
    const run = runBatch([{ x: 1 }, { x: 2 }], { url: `${server.url}/echo`, signal: AbortSignal.abort() });
    expect(await collect(run)).toEqual([]);
    expect((await run.summary()).total).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it('stop() is graceful: nothing new starts, requests in flight finish and are yielded', async () => {
    const run = runBatch(
      Array.from({ length: 12 }, (_, i) => ({ i })),
      { url: `${server.url}/echo?ms=400`, concurrency: 4 },
    );
    setTimeout(() => run.stop(), 150);
    const results = await collect(run);
    const summary = await run.summary();
    expect(results).toHaveLength(4);
    expect(results.every((r) => r.ok && r.status === 200)).toBe(true);
    expect(results.map((r) => r.id).sort()).toEqual(['1', '2', '3', '4']);
    expect(summary).toMatchObject({ total: 4, ok: 4, interrupted: true });
    expect(server.requests).toHaveLength(4);
  });

  it('stop() while starts wait for --rate: those holding a slot are never sent', async () => {
    // 5/s: starts at 0 and 200 ms; at the stop (300 ms) two more hold slots waiting for the pacer, while the first
    // two are still in flight (so the transport is open for a held start that slipped through).
    const run = runBatch(
      Array.from({ length: 6 }, (_, i) => ({ i })),
      { url: `${server.url}/echo?ms=800`, concurrency: 4, rate: 5 },
    );
    setTimeout(() => run.stop(), 300);
    const results = await collect(run);
    expect(results.map((r) => r.id).sort()).toEqual(['1', '2']);
    expect(server.requests).toHaveLength(2);
  });

  it('stop() while retries wait: the waiting retry is not sent and the run ends', async () => {
    const run = runBatch([{ key: 'stop-retry' }], { url: `${server.url}/flaky/{{ key }}?code=503&retryAfter=2` });
    setTimeout(() => run.stop(), 200);
    const t0 = performance.now();
    const results = await collect(run);
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(results).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });
});

describe('backpressure and summary', () => {
  it('a slow consumer holds the run back: the fixture sees a bounded number of requests, then all finish', async () => {
    const N = 3000;
    const run = runBatch(
      Array.from({ length: N }, (_, i) => ({ i })),
      { url: `${server.url}/echo` },
    );
    let read = 0;
    let plateau = -1;
    let afterPlateau = -1;
    for await (const r of run) {
      expect(r.ok).toBe(true);
      read++;
      if (read === 10) {
        // Stop reading for a while: at least 300 ms, and until the request count stops moving (a slow machine
        // needs longer than 300 ms to fill the channel's buffer; without backpressure it would reach 3,000).
        await sleep(300);
        let last = -1;
        const deadline = Date.now() + 15_000;
        while (server.requests.length !== last && Date.now() < deadline) {
          last = server.requests.length;
          await sleep(200);
        }
        plateau = server.requests.length;
        await sleep(300);
        afterPlateau = server.requests.length;
      }
    }
    expect(plateau).toBeLessThan(2000); // concurrency + the channel's buffer (~1,000) + queued, far from 3,000
    expect(afterPlateau).toBe(plateau); // paused, not merely slowed down
    expect(read).toBe(N); // and it resumes once the consumer reads again
    expect(server.requests).toHaveLength(N);
  });

  it('summary() without iterating resolves with the counts', async () => {
    const payloads = Array.from({ length: 20 }, (_, i) => ({ s: i % 4 === 0 ? 404 : 200 }));
    const run = runBatch(payloads, { url: `${server.url}/echo?status={{ s }}` });
    const summary = await run.summary();
    expect(summary).toMatchObject({ total: 20, ok: 15, failed: 5, interrupted: false, inputError: null });
    expect(summary.byStatus).toEqual({ '200': 15, '404': 5 });
    expect(summary.byError).toEqual({ HTTP_404: 5 });
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
  });

  it('summary() without iterating does not stall past the channel buffer (1,500 payloads)', async () => {
    const run = runBatch(
      Array.from({ length: 1500 }, (_, i) => ({ i })),
      { url: `${server.url}/echo` },
    );
    const summary = await run.summary();
    expect(summary.total).toBe(1500);
    expect(server.requests).toHaveLength(1500);
  });

  it('stats are live counters', async () => {
    const run = runBatch([{ a: 1 }, { a: 2 }, { a: 3 }], { url: `${server.url}/echo` });
    await run.summary();
    expect(run.stats).toMatchObject({ read: 3, started: 3, done: 3, ok: 3, failed: 0, inFlight: 0 });
  });
});

describe('ending iteration early', () => {
  it('breaking out of the for-await loop stops the run: nothing new starts and summary() resolves', async () => {
    const N = 3000;
    const run = runBatch(
      Array.from({ length: N }, (_, i) => ({ i })),
      { url: `${server.url}/echo`, concurrency: 4 },
    );
    let read = 0;
    for await (const r of run) {
      expect(r.ok).toBe(true);
      if (++read === 5) break;
    }
    const atBreak = server.requests.length;
    let timer: NodeJS.Timeout | undefined;
    const summary = await Promise.race([
      run.summary(),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000))),
    ]);
    clearTimeout(timer);
    try {
      expect(summary).not.toBeNull();
      // Like breaking out of a stream's iterator: the consumer is gone, so the run winds down (requests in flight
      // may finish) instead of sending the remaining payloads to nobody.
      expect(server.requests.length).toBeLessThan(atBreak + 100);
      expect(summary!.total).toBeLessThan(N);
      expect(summary!.interrupted).toBe(true);
    } finally {
      run.stop(); // never leave a run sending into the next test
      await run.summary();
    }
  });
});

describe('options errors throw synchronously, before anything is sent', () => {
  it.each<[string, Partial<RunBatchOptions>, new (...args: never[]) => Error]>([
    ['concurrency 0', { concurrency: 0 }, RangeError],
    ['concurrency 1.5', { concurrency: 1.5 }, RangeError],
    ['retries -1', { retries: -1 }, RangeError],
    ['rate 0', { rate: 0 }, RangeError],
    ['timeoutMs 0', { timeoutMs: 0 }, RangeError],
    ['url not absolute', { url: 'not a url' }, BatchpostError],
    ['invalid transform', { transform: 'a[' }, BatchpostError],
  ])('%s', (_name, extra, error) => {
    let run: BatchRun | undefined;
    expect(() => {
      run = runBatch([{ x: 1 }], { url: `${server.url}/echo`, ...extra });
    }).toThrow(error);
    expect(run).toBeUndefined();
    expect(server.requests).toHaveLength(0);
  });
});
