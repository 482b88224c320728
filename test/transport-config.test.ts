// The transport config is how sender threads and distributed workers connect as a local run does: it must survive
// the trip (structured clone into a thread, JSON through Redis) and be what each of them builds its transport from.
// The end-to-end checks tell the transport's timeout from the Sender's: against a host that accepts TCP but never
// answers a TLS handshake, a short transport timeout fails the connection (CONNECT_TIMEOUT) long before the Sender's
// per-attempt timeout would (TIMEOUT). The thread check runs the built sender thread (`npm run build` first); the
// worker check needs Redis (REDIS_URL, else redis://127.0.0.1:6379) and is skipped without it, except under CI=true.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { resolveOptions } from '../src/engine/options.js';
import { senderConfigOf, type SenderConfig } from '../src/engine/sender-config.js';
import type { Result } from '../src/engine/types.js';
import { configOf, parseRunConfig, QUEUE_CONFIG_VERSION, transportOf } from '../src/queue/config.js';
import { jobOf } from '../src/queue/job.js';
import { keysOf, PREFIX } from '../src/queue/names.js';
import { closeRedis, connectRedis, type BpRedis } from '../src/queue/redis.js';
import { WorkerPool } from '../src/queue/worker.js';
import { ThreadedSender } from '../src/threads/index.js';
import { transportConfigOf, type TransportConfig } from '../src/transport/index.js';
import { ROOT } from './helpers/cli.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The transport's timeout in these checks, and the Sender's, which must not be the one that ends the attempt. */
const TRANSPORT_TIMEOUT_MS = 200;
const SENDER_TIMEOUT_MS = 8_000;

const options = resolveOptions({ url: 'http://127.0.0.1:9/x', concurrency: 6, timeoutMs: 1_234 });

/** A TCP server that takes connections and never says a word: a TLS handshake with it never completes. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/x`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Sender config whose own timeout is long and which never retries. */
function slowSender(concurrency: number): SenderConfig {
  const config = senderConfigOf(options);
  return { ...config, concurrency, timeoutMs: SENDER_TIMEOUT_MS, policy: { ...config.policy, retries: 0 } };
}

describe('TransportConfig', () => {
  test("is the run's connections, timeout, response cap and redirects, and survives structured clone and JSON unchanged", () => {
    const config = transportConfigOf(options);
    expect(config).toEqual({ connections: 6, timeoutMs: 1_234, maxResponseBytes: 10 * 1024 * 1024, maxRedirects: 0 });
    expect(structuredClone(config)).toEqual(config);
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });

  test("travels in the run's config for workers, who connect with their own concurrency", () => {
    const stored = parseRunConfig(JSON.stringify(configOf(options)));
    expect(stored.v).toBe(QUEUE_CONFIG_VERSION);
    expect(stored.transport).toEqual(transportConfigOf(options));
    expect(transportOf(stored, 3)).toEqual({ ...transportConfigOf(options), connections: 3 });
  });

  test('a worker refuses a config written by another version (one without a transport) with a clear error', () => {
    const older: Record<string, unknown> = { ...configOf(options), v: 1 };
    delete older.transport;
    expect(() => parseRunConfig(JSON.stringify(older))).toThrow(
      /queued by another batchpost version \(config v1\); use the same version for run and workers/,
    );
  });
});

describe('sender threads', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-transport-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("each thread gets the run's transport config, with as many connections as its concurrency share", async () => {
    // Answers every request with the transport config it was started with, as its result line.
    const script = path.join(dir, 'echo-thread.mjs');
    fs.writeFileSync(
      script,
      [
        "import { parentPort, workerData } from 'node:worker_threads';",
        'const counters = { started: 0, inFlight: 0, retries: 0, throttle: null };',
        'parentPort.on("message", (m) => {',
        '  if (m.t === "close") return parentPort.close();',
        '  if (m.t !== "submit") return;',
        '  const items = [];',
        '  for (let i = 0; i < m.requests.length; i += 7) items.push(m.requests[i], JSON.stringify(workerData.transport));',
        '  parentPort.postMessage({ t: "settled", items, counters });',
        '});',
      ].join('\n'),
    );
    const transport: TransportConfig = { connections: 999, timeoutMs: 4_321 };
    const stats = { started: 0, inFlight: 0, retries: 0, throttle: null };
    const sender = new ThreadedSender(slowSender(5), transport, 2, stats, pathToFileURL(script));
    const seen = await new Promise<unknown[]>((resolve) => {
      const got: unknown[] = [];
      // Each request goes to the thread with the fewest outstanding: both threads get some.
      for (let i = 1; i <= 6; i++) {
        const request = { method: 'POST', url: 'http://127.0.0.1:9/x', headers: {}, body: '{}' };
        sender.submit(String(i), request, (r) => {
          if (got.push(r) === 6) resolve(got);
        });
      }
    });
    await sender.exited();
    const distinct = [...new Set(seen.map((s) => JSON.stringify(s)))].sort();
    expect(distinct).toEqual([
      JSON.stringify({ connections: 2, timeoutMs: 4_321 }),
      JSON.stringify({ connections: 3, timeoutMs: 4_321 }),
    ]);
  });

  test('a sender thread connects with the timeout of the transport config it was handed', async () => {
    const upstream = await silentServer();
    const stats = { started: 0, inFlight: 0, retries: 0, throttle: null };
    const script = pathToFileURL(path.join(ROOT, 'dist/src/threads/sender-thread.js'));
    const transport: TransportConfig = { connections: 1, timeoutMs: TRANSPORT_TIMEOUT_MS };
    const sender = new ThreadedSender(slowSender(1), transport, 1, stats, script);
    try {
      const started = performance.now();
      const result = await new Promise<Result | null>((resolve) =>
        sender.submit('1', { method: 'POST', url: upstream.url, headers: {}, body: '{}' }, resolve),
      );
      expect(result?.error?.code).toBe('CONNECT_TIMEOUT');
      expect(performance.now() - started).toBeLessThan(SENDER_TIMEOUT_MS / 2);
    } finally {
      await sender.exited();
      await upstream.close();
    }
  });
});

let redis: BpRedis | null = null;
try {
  redis = await connectRedis(REDIS_URL, `batchpost-test-transport-${process.pid}`);
} catch (err) {
  if (process.env.CI === 'true') throw err;
}
const describeRedis = redis !== null ? describe : describe.skip;

describeRedis('distributed workers', () => {
  afterAll(() => closeRedis(redis));

  test("a worker connects with the timeout of the transport config in the run's config", async () => {
    const r = redis!;
    const upstream = await silentServer();
    const name = `t-transport-${process.pid}-${Date.now().toString(36)}`;
    const keys = keysOf(name);
    const queue = new Queue(name, { connection: r, prefix: PREFIX });
    const pool = new WorkerPool({
      redis: r,
      queueName: name,
      concurrency: null,
      stallTimeoutMs: 30_000,
      log: () => {},
    });
    try {
      const run = resolveOptions({ url: upstream.url, timeoutMs: SENDER_TIMEOUT_MS, retries: 0, concurrency: 1 });
      const config = { ...configOf(run), transport: { ...transportConfigOf(run), timeoutMs: TRANSPORT_TIMEOUT_MS } };
      await r.hset(keys.config, { gen: 'g1', rev: 'r1', json: JSON.stringify(config) });
      const request = { method: 'POST', url: upstream.url, headers: {}, body: '{}' };
      const job = jobOf([{ id: '1', request, hash: undefined }], 'g1');
      await queue.add(job.name, job.data, job.opts);
      const started = performance.now();
      await pool.start();
      let stored: string | null = null;
      while (stored === null && performance.now() - started < SENDER_TIMEOUT_MS / 2) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        stored = await r.hget(keys.results, '1');
      }
      expect(stored).not.toBeNull();
      expect((JSON.parse(stored!) as Result).error?.code).toBe('CONNECT_TIMEOUT');
    } finally {
      await pool.stop();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await r.del(...Object.values(keys));
      await upstream.close();
    }
  });
});
