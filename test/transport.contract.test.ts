// The Transport contract: every swappable part is one interface, its implementations, and one shared contract
// test. Every transport must pass all of it; adding one is one line at the bottom of this file.
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { TransportError } from '../src/engine/errors.js';
import type { OutgoingRequest, Transport, TransportResponse } from '../src/engine/types.js';
import { UndiciTransport } from '../src/transport/undici.js';

export interface TransportContractOptions {
  /** The most connections the transport may open to one origin (its pool size). */
  maxConnectionsPerOrigin: number;
}

let server: FixtureServer;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const never = (): AbortSignal => new AbortController().signal;

async function waitUntil(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function post(
  url: string,
  body: string | null = '{}',
  headers: Record<string, string> = { 'content-type': 'application/json' },
): OutgoingRequest {
  return { method: 'POST', url, headers, body };
}

/** Settles with the rejection reason, or fails the test if the promise resolves. */
async function rejectionOf(p: Promise<TransportResponse>): Promise<unknown> {
  try {
    const res = await p;
    throw new Error(`expected a rejection, got HTTP ${res.status}`);
  } catch (err) {
    return err;
  }
}

function expectTransportError(err: unknown, code: string): void {
  expect(err).toBeInstanceOf(TransportError);
  expect((err as TransportError).code).toBe(code);
  expect((err as TransportError).message).not.toBe('');
}

export function describeTransport(name: string, make: () => Transport, options: TransportContractOptions): void {
  describe(`Transport contract: ${name}`, () => {
    let transport: Transport;
    beforeEach(() => {
      transport = make();
    });
    afterEach(async () => {
      await transport.close();
    });

    describe('sends the request exactly as given', () => {
      it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('%s: method, path, query, headers and body', async (method) => {
        const body = '{"name":"Zoë","n":[1,2,3],"note":"a, \\"quoted\\" line"}';
        const res = await transport.send(
          {
            method,
            url: `${server.url}/echo?a=1&b=two%20words`,
            headers: {
              'content-type': 'application/json',
              'x-custom': 'Value With Spaces',
              authorization: 'Bearer t0k3n',
            },
            body,
          },
          never(),
        );
        expect(res.status).toBe(200);
        expect(server.requests).toHaveLength(1);
        const seen = server.requests[0]!;
        expect(seen.method).toBe(method);
        expect(seen.path).toBe('/echo');
        expect(seen.query).toEqual({ a: '1', b: 'two words' });
        expect(seen.headers['content-type']).toBe('application/json');
        expect(seen.headers['x-custom']).toBe('Value With Spaces');
        expect(seen.headers.authorization).toBe('Bearer t0k3n');
        expect(seen.body).toBe(body); // byte for byte, not re-serialized
        // The echo answer says the same thing, and the transport hands it back as text.
        const echoed = JSON.parse(res.body) as { method: string; body: unknown; query: unknown };
        expect(echoed.method).toBe(method);
        expect(echoed.query).toEqual({ a: '1', b: 'two words' });
        expect(echoed.body).toEqual(JSON.parse(body));
      });

      it('sends a non-JSON body unchanged (whitespace, unicode, newlines)', async () => {
        const body = '  not json\nline two ✓ \u00e9\t\n';
        await transport.send(post(`${server.url}/echo`, body, { 'content-type': 'text/plain' }), never());
        expect(server.requests[0]!.body).toBe(body);
        expect(server.requests[0]!.headers['content-type']).toBe('text/plain');
      });

      it('GET with a null body sends no body', async () => {
        const res = await transport.send(
          { method: 'GET', url: `${server.url}/echo?x=1`, headers: {}, body: null },
          never(),
        );
        expect(res.status).toBe(200);
        expect(server.requests[0]!.method).toBe('GET');
        expect(server.requests[0]!.body).toBe('');
        expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', body: null, query: { x: '1' } });
      });

      it('sends to each origin and path it is given (different URLs in one transport)', async () => {
        const other = await startFixtureServer();
        try {
          await transport.send(post(`${server.url}/echo?n=1`), never());
          await transport.send(post(`${other.url}/users/42/orders`, '{"x":1}'), never());
          await transport.send(post(`${server.url}/echo?n=2`), never());
          expect(server.requests.map((r) => r.query.n)).toEqual(['1', '2']);
          expect(other.requests.map((r) => r.path)).toEqual(['/users/42/orders']);
        } finally {
          await transport.close();
          await other.close();
        }
      });
    });

    describe('returns every HTTP answer (never rejects for a status)', () => {
      // (No 204 here: the fixture's /status/204 sends a content-length with no body, which a strict client refuses.)
      it.each([200, 201, 400, 404, 422, 429, 500, 503])('status %i with headers and body text', async (status) => {
        const res = await transport.send(post(`${server.url}/status/${status}`), never());
        expect(res.status).toBe(status);
        expect(typeof res.statusText).toBe('string');
        expect(res.headers['content-type']).toBe('application/json');
        expect(JSON.parse(res.body)).toEqual({ error: `status ${status}` });
      });

      it.each([404, 500])('status %i with a text/plain body', async (status) => {
        const res = await transport.send(post(`${server.url}/status/${status}?text=1`), never());
        expect(res.status).toBe(status);
        expect(res.body).toBe(`status ${status}`);
        expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      });

      it('text/plain body as text', async () => {
        const res = await transport.send(
          { method: 'GET', url: `${server.url}/text`, headers: {}, body: null },
          never(),
        );
        expect(res.status).toBe(200);
        expect(res.body).toBe('hello');
        expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      });

      it('response header names are lower case and values as sent', async () => {
        const res = await transport.send(
          { method: 'GET', url: `${server.url}/headers`, headers: {}, body: null },
          never(),
        );
        expect(res.headers['x-test']).toBe('1');
        expect(res.headers['ratelimit-remaining']).toBe('5');
        expect(JSON.parse(res.body)).toEqual({ ok: true });
      });

      it('Retry-After reaches the caller', async () => {
        const res = await transport.send(post(`${server.url}/status/503?retryAfter=7`), never());
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('7');
      });
    });

    describe('rejects with a TransportError for anything that is not an HTTP answer', () => {
      it('ECONNREFUSED when nothing listens', async () => {
        const port = await freePort();
        const err = await rejectionOf(transport.send(post(`http://127.0.0.1:${port}/echo`), never()));
        expectTransportError(err, 'ECONNREFUSED');
      });

      it('ECONNRESET when the server resets the connection', async () => {
        const err = await rejectionOf(transport.send(post(`${server.url}/reset`), never()));
        expectTransportError(err, 'ECONNRESET');
        expect(server.requests.map((r) => r.path)).toEqual(['/reset']);
      });

      it('the transport still works after a reset', async () => {
        await rejectionOf(transport.send(post(`${server.url}/reset`), never()));
        const res = await transport.send(post(`${server.url}/echo`), never());
        expect(res.status).toBe(200);
      });

      it('rejects with exactly the signal reason when the signal aborts (/hang, abort after 50 ms)', async () => {
        const ac = new AbortController();
        const reason = new Error('my abort reason');
        const started = Date.now();
        const timer = setTimeout(() => ac.abort(reason), 50);
        try {
          const err = await rejectionOf(transport.send(post(`${server.url}/hang`), ac.signal));
          expect(err).toBe(reason);
          expect(Date.now() - started).toBeLessThan(5000);
        } finally {
          clearTimeout(timer);
        }
      });

      it('rejects with the reason even when it is not an Error (any value the engine chooses)', async () => {
        const ac = new AbortController();
        const reason = { why: 'timeout marker' };
        const timer = setTimeout(() => ac.abort(reason), 50);
        try {
          expect(await rejectionOf(transport.send(post(`${server.url}/hang`), ac.signal))).toBe(reason);
        } finally {
          clearTimeout(timer);
        }
      });

      it('rejects with TIMEOUT when no whole answer arrives within timeoutMs (/hang, 150 ms)', async () => {
        const started = Date.now();
        const err = await rejectionOf(transport.send(post(`${server.url}/hang`), never(), 150));
        expectTransportError(err, 'TIMEOUT');
        expect((err as Error).message).toContain('150ms');
        const took = Date.now() - started;
        expect(took).toBeGreaterThanOrEqual(140);
        expect(took).toBeLessThan(5000);
      });

      it('a request still waiting for a free connection times out on time too', async () => {
        const busy = new AbortController();
        const hanging = Array.from({ length: options.maxConnectionsPerOrigin }, () =>
          rejectionOf(transport.send(post(`${server.url}/hang`), busy.signal, 10_000)),
        );
        await waitUntil(() => server.requests.length === options.maxConnectionsPerOrigin);
        const started = Date.now();
        const err = await rejectionOf(transport.send(post(`${server.url}/echo`), never(), 150));
        expectTransportError(err, 'TIMEOUT');
        expect(Date.now() - started).toBeLessThan(2_000);
        busy.abort(new Error('done'));
        await Promise.all(hanging);
      });

      it('with many in flight, exactly those past their own timeout are cut, several in one moment', async () => {
        // Interleaved so that attempts settle out of the order they were sent in, several within one sweep.
        const n = Math.min(8, options.maxConnectionsPerOrigin);
        const sends = Array.from({ length: n }, (_, i) =>
          i % 2 === 0
            ? rejectionOf(transport.send(post(`${server.url}/hang`), never(), 100 + 20 * (i % 3)))
            : transport.send(post(`${server.url}/echo?ms=${250 + 10 * i}`), never(), 5_000),
        );
        const outcomes = await Promise.all(sends);
        outcomes.forEach((o, i) => {
          if (i % 2 === 0) expectTransportError(o, 'TIMEOUT');
          else expect((o as TransportResponse).status).toBe(200);
        });
      });

      it('an answer within timeoutMs is not cut short, and the transport works after a timeout', async () => {
        await rejectionOf(transport.send(post(`${server.url}/hang`), never(), 100));
        const res = await transport.send(post(`${server.url}/echo?ms=50`), never(), 2_000);
        expect(res.status).toBe(200);
      });

      it('rejects with the reason when the signal is aborted before sending', async () => {
        const reason = new Error('already aborted');
        const err = await rejectionOf(transport.send(post(`${server.url}/echo`), AbortSignal.abort(reason)));
        expect(err).toBe(reason);
      });
    });

    describe('connections', () => {
      it(`reuses connections: many sequential requests open at most ${options.maxConnectionsPerOrigin}`, async () => {
        for (let i = 0; i < 50; i++) {
          const res = await transport.send(post(`${server.url}/echo?i=${i}`), never());
          expect(res.status).toBe(200);
        }
        expect(server.requests).toHaveLength(50);
        expect(server.connections).toBeGreaterThanOrEqual(1);
        expect(server.connections).toBeLessThanOrEqual(options.maxConnectionsPerOrigin);
      });

      it('concurrent requests share the pool: never more connections than its size', async () => {
        const n = options.maxConnectionsPerOrigin * 5;
        const answers = await Promise.all(
          Array.from({ length: n }, (_, i) => transport.send(post(`${server.url}/echo?ms=20&i=${i}`), never())),
        );
        expect(answers.every((r) => r.status === 200)).toBe(true);
        expect(server.connections).toBeLessThanOrEqual(options.maxConnectionsPerOrigin);
        expect(server.maxInFlight).toBeLessThanOrEqual(options.maxConnectionsPerOrigin);
      });
    });

    describe('close()', () => {
      it('resolves when nothing was ever sent', async () => {
        await expect(transport.close()).resolves.toBeUndefined();
      });

      it('is idempotent: every call resolves', async () => {
        await transport.send(post(`${server.url}/echo`), never());
        const first = transport.close();
        const second = transport.close();
        await expect(first).resolves.toBeUndefined();
        await expect(second).resolves.toBeUndefined();
        await expect(transport.close()).resolves.toBeUndefined();
      });

      it('a send after close() rejects with a TransportError rather than hanging', async () => {
        await transport.send(post(`${server.url}/echo`), never());
        await transport.close();
        const err = await rejectionOf(transport.send(post(`${server.url}/echo`), never()));
        expect(err).toBeInstanceOf(TransportError);
      });
    });
  });
}

// One line per implementation.
describeTransport('UndiciTransport', () => new UndiciTransport({ connections: 4, timeoutMs: 10_000 }), {
  maxConnectionsPerOrigin: 4,
});
