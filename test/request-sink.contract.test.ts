// The RequestSink contract (src/engine/request-sink.ts), one set of cases run against every implementation: the
// Sender, sender threads (ThreadedSender: real worker threads running dist/, so `npm run build` first) and the run's
// side of a distributed run (QueueRequestSink, with a real Redis at REDIS_URL or 127.0.0.1:6379 and a real worker
// from src/queue; skipped without Redis, except under CI=true, where that fails). Every one of them sends through
// undici to the same upstream: an HTTP server that holds each request until the case answers it. Cases wait for
// events (a request arriving, a request settling), never for time to pass.
import fs from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import type { OnSettled, RequestSink } from '../src/engine/request-sink.js';
import { resolveOptions } from '../src/engine/options.js';
import { compileSender, senderConfigOf } from '../src/engine/sender-config.js';
import { Sender } from '../src/engine/sender.js';
import { createStats } from '../src/engine/stats.js';
import type { OutgoingRequest, Result, RunStats } from '../src/engine/types.js';
import { configOf } from '../src/queue/config.js';
import { requestsPerJob } from '../src/queue/job.js';
import { keysOf, PREFIX } from '../src/queue/names.js';
import { closeRedis, connectRedis, type BpRedis } from '../src/queue/redis.js';
import { QueueRequestSink } from '../src/queue/request-sink.js';
import { WorkerPool } from '../src/queue/worker.js';
import { ThreadedSender } from '../src/threads/index.js';
import { createTransport, transportConfigOf } from '../src/transport/index.js';
import { redisAnswers } from './helpers/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const THREAD_SCRIPT = new URL('../dist/src/threads/sender-thread.js', import.meta.url);
/** A safety net for a wait that never ends (a broken implementation): the case fails saying what it waited for. */
const WAIT_LIMIT_MS = 15_000;

/** Something happened (a request arrived, one settled): waits re-check their condition. */
class Events {
  private waiters: { cond: () => boolean; resolve: () => void }[] = [];

  poke(): void {
    for (const w of this.waiters.slice()) {
      if (w.cond()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  until(cond: () => boolean, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still waiting for ${what}`)), WAIT_LIMIT_MS);
      this.waiters.push({
        cond,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

interface Arrival {
  id: string;
  key: string | null;
  answered: boolean;
  res: ServerResponse;
}

/** The upstream: records what arrives, and answers each request when the case says so (`hold`). */
class Upstream {
  readonly arrivals: Arrival[] = [];
  /** "earlier/later" for every request that arrived while one with its key was not answered yet. */
  readonly overlaps: string[] = [];
  /** Which requests wait for `answer`; the others are answered as they arrive. */
  hold: (a: Arrival) => boolean = () => true;
  reply: (a: Arrival) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  url = '';
  private readonly server: Server;

  constructor(private readonly events: Events) {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => this.arrive(req.url ?? '', res));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private arrive(path: string, res: ServerResponse): void {
    const u = new URL(path, this.url);
    const a: Arrival = { id: u.pathname.slice('/r/'.length), key: u.searchParams.get('key'), answered: false, res };
    const busy = a.key === null ? undefined : this.arrivals.find((b) => b.key === a.key && !b.answered);
    if (busy) this.overlaps.push(`${busy.id}/${a.id}`);
    this.arrivals.push(a);
    // A request its client gave up on (abort) is no longer in flight.
    res.on('close', () => (a.answered = true));
    if (!this.hold(a)) this.answer(a);
    this.events.poke();
  }

  answer(a: Arrival): void {
    if (a.answered) return;
    a.answered = true;
    const { status, headers } = this.reply(a);
    a.res.writeHead(status, { 'content-type': 'application/json', ...headers });
    a.res.end(JSON.stringify({ id: a.id }));
  }

  /** Answers what is held, and from now on every request as it arrives. */
  answerAll(): void {
    this.hold = () => false;
    for (const a of this.arrivals) this.answer(a);
  }

  ids(): string[] {
    return this.arrivals.map((a) => a.id);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Every settle the sink made, per id. */
class Settled {
  readonly byId = new Map<string, (Result | null)[]>();
  count = 0;

  constructor(private readonly events: Events) {}

  readonly cb: OnSettled = (result, id) => {
    const seen = this.byId.get(id) ?? [];
    seen.push(result);
    this.byId.set(id, seen);
    this.count++;
    this.events.poke();
  };

  /** What `id` settled with; it must have settled exactly once. */
  one(id: string): Result | null {
    expect([id, this.byId.get(id)?.length]).toEqual([id, 1]);
    return this.byId.get(id)![0]!;
  }
}

interface Harness {
  sink: RequestSink;
  stats: Pick<RunStats, 'started' | 'inFlight' | 'retries' | 'throttle'>;
  /** Closes the sink and whatever it runs on (threads, workers, connections). */
  close(): Promise<void>;
}

interface Shape {
  /** Requests the sink may have in flight at the upstream at once. */
  concurrency: number;
  /** What the run passes to full(). */
  highWater: number;
}

interface Implementation {
  name: string;
  /** Null when it can run here, else why not. */
  unavailable: string | null;
  make(upstream: Upstream, shape: Shape): Promise<Harness>;
}

function runOptions(upstream: Upstream, shape: Shape) {
  return resolveOptions({ url: upstream.url, concurrency: shape.concurrency, retries: 0, runId: uniqueName() });
}

let names = 0;
const uniqueName = () => `contract-${process.pid}-${Date.now().toString(36)}-${++names}`;

const sender: Implementation = {
  name: 'Sender',
  unavailable: null,
  make(upstream, shape) {
    const config = senderConfigOf(runOptions(upstream, shape));
    const transport = createTransport({ connections: config.concurrency, timeoutMs: config.timeoutMs });
    const stats = createStats();
    const sink = new Sender(compileSender(config), transport, stats);
    return Promise.resolve({
      sink,
      stats,
      async close() {
        sink.close();
        await transport.close();
      },
    });
  },
};

const threads: Implementation = {
  name: 'ThreadedSender',
  unavailable: null,
  make(upstream, shape) {
    if (!fs.existsSync(THREAD_SCRIPT)) throw new Error(`${THREAD_SCRIPT.pathname} is missing: npm run build first`);
    const stats = createStats();
    const options = runOptions(upstream, shape);
    const sink = new ThreadedSender(senderConfigOf(options), transportConfigOf(options), 2, stats, THREAD_SCRIPT);
    return Promise.resolve({ sink, stats, close: () => sink.exited() });
  },
};

const queue: Implementation = {
  name: 'QueueRequestSink',
  unavailable: (await redisAnswers(REDIS_URL)) ? null : `no Redis at ${REDIS_URL}`,
  async make(upstream, shape) {
    const options = runOptions(upstream, shape);
    const name = uniqueName();
    const keys = keysOf(name);
    const redis = await connectRedis(REDIS_URL, `${name}-run`);
    const reader = redis.duplicate() as BpRedis;
    reader.on('error', () => {});
    const q = new Queue(name, {
      connection: redis,
      prefix: PREFIX,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: false, attempts: 1 },
    });
    const gen = 'contract';
    await redis.hset(keys.config, { gen, rev: name, json: JSON.stringify(configOf(options)) });
    const stats = createStats();
    const sink = new QueueRequestSink({
      name,
      queue: q,
      redis,
      reader,
      keys,
      gen,
      stats,
      // full() is at the run's high-water mark beyond what can be in flight, as for the other sinks.
      maxOutstanding: shape.highWater + shape.concurrency,
      perJob: requestsPerJob(options.concurrency, options.rate),
      resumed: false,
      adopted: new Set(),
      note: () => {},
      workerCommand: 'batchpost worker',
      where: 'redis',
    });
    const workerRedis = await connectRedis(REDIS_URL, `${name}-worker`);
    const pool = new WorkerPool({
      redis: workerRedis,
      queueName: name,
      concurrency: null,
      stallTimeoutMs: 30_000,
      log: () => {},
    });
    await pool.start();
    return {
      sink,
      stats,
      async close() {
        sink.close();
        await pool.stop();
        await q.obliterate({ force: true });
        await redis.del(...Object.values(keys));
        await q.close();
        await closeRedis(workerRedis);
        await closeRedis(reader);
        await closeRedis(redis);
      },
    };
  },
};

const IMPLEMENTATIONS = [sender, threads, queue];
if (queue.unavailable !== null && process.env.CI === 'true') {
  test(`Redis answers at ${REDIS_URL} (required in CI)`, () => {
    throw new Error(queue.unavailable!);
  });
}

const HEADERS = { 'content-type': 'application/json' };
const requestTo = (upstream: Upstream, id: string, key?: string): OutgoingRequest => ({
  method: 'POST',
  url: `${upstream.url}/r/${id}${key === undefined ? '' : `?key=${key}`}`,
  headers: HEADERS,
  body: JSON.stringify({ id }),
});

/** A few event-loop turns: what a sink does at once in answer to something has happened by then. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe.each(IMPLEMENTATIONS.map((impl) => [impl.name, impl] as const))('RequestSink contract: %s', (_, impl) => {
  const maybe = impl.unavailable === null ? test : test.skip;
  let events: Events;
  let upstream: Upstream;
  let settled: Settled;
  let h: Harness | null;

  const make = async (shape: Shape): Promise<Harness> => (h = await impl.make(upstream, shape));
  const submit = (id: string, key?: string) =>
    h!.sink.submit(id, requestTo(upstream, id, key), settled.cb, { key, hash: `hash-${id}` });
  const settledCount = (n: number) => events.until(() => settled.count >= n, `${n} requests to settle`);
  const arrivedCount = (n: number) => events.until(() => upstream.arrivals.length >= n, `${n} requests to arrive`);

  beforeEach(async () => {
    events = new Events();
    upstream = new Upstream(events);
    await upstream.start();
    settled = new Settled(events);
    h = null;
  });

  afterEach(async () => {
    upstream.answerAll();
    await h?.close();
    await upstream.close();
  });

  maybe('every submit settles exactly once, with its own result and hash', async () => {
    await make({ concurrency: 4, highWater: 64 });
    upstream.hold = () => false;
    const ids = Array.from({ length: 30 }, (_, i) => String(i + 1));
    for (const [i, id] of ids.entries()) submit(id, i % 3 === 0 ? `k${i % 2}` : undefined);
    await settledCount(ids.length);
    // Closed, threads and workers gone: a late second settle would have come by now.
    await h!.close();
    h = null;
    expect([...settled.byId.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect(settled.one(id)).toMatchObject({ id, ok: true, status: 200, response: { id }, hash: `hash-${id}` });
    }
  });

  maybe('requests with the same key are never in flight together, and start in submission order', async () => {
    await make({ concurrency: 4, highWater: 64 });
    upstream.hold = (a) => a.key !== null;
    const order = ['a1:k', 'b1:j', 'a2:k', 'm1', 'a3:k', 'b2:j', 'm2', 'm3', 'm4'];
    for (const entry of order) {
      const [id, key] = entry.split(':') as [string, string | undefined];
      submit(id, key);
    }
    // The requests without a key go through while a1 and b1 are held: whatever the sink would wrongly send
    // alongside them has been sent by the time these are answered and settled.
    await events.until(
      () =>
        upstream.overlaps.length > 0 ||
        (['m1', 'm2', 'm3', 'm4'].every((id) => settled.byId.has(id)) && upstream.arrivals.length >= 6),
      'm1..m4 to settle while a1 and b1 are held',
    );
    expect(upstream.overlaps).toEqual([]);
    // Answer the keyed requests one at a time, oldest first, each as soon as it arrives.
    while (settled.count < order.length) {
      await events.until(
        () => settled.count >= order.length || upstream.arrivals.some((a) => !a.answered),
        'a keyed request to arrive',
      );
      const next = upstream.arrivals.find((a) => !a.answered);
      if (next) upstream.answer(next);
      await events.until(() => next === undefined || settled.byId.has(next.id), `${next?.id} to settle`);
    }
    expect(upstream.overlaps).toEqual([]);
    const keyed = (key: string) => upstream.arrivals.filter((a) => a.key === key).map((a) => a.id);
    expect(keyed('k')).toEqual(['a1', 'a2', 'a3']);
    expect(keyed('j')).toEqual(['b1', 'b2']);
    for (const entry of order) expect(settled.one(entry.split(':')[0]!)).toMatchObject({ ok: true });
  });

  maybe(
    'full() pauses the submitter; room() resumes it once the backlog has drained, not at the first settle',
    async () => {
      const shape = { concurrency: 2, highWater: 4 };
      await make(shape);
      let n = 0;
      while (!h!.sink.full(shape.highWater) && n < 100) submit(String(++n));
      expect(h!.sink.full(shape.highWater)).toBe(true);
      expect(n).toBeLessThan(100);
      await arrivedCount(shape.concurrency);
      let resumed = false;
      const room = h!.sink.room().then(() => (resumed = true));
      await turns();
      expect([resumed, settled.count]).toEqual([false, 0]);
      // One settle is not enough room: the submitter would wake for every settle.
      upstream.answer(upstream.arrivals[0]!);
      await settledCount(1);
      await turns();
      expect(resumed).toBe(false);
      upstream.answerAll();
      await room;
      expect(h!.sink.full(shape.highWater)).toBe(false);
      await settledCount(n);
      for (let i = 1; i <= n; i++) expect(settled.one(String(i))).toMatchObject({ ok: true });
    },
  );

  maybe('stop(): what did not start settles as null, what is in flight finishes, nothing starts after', async () => {
    await make({ concurrency: 2, highWater: 64 });
    submit('a', 'k');
    submit('b');
    submit('c', 'k'); // held behind a
    submit('d');
    submit('e');
    await arrivedCount(2);
    expect(upstream.ids().sort()).toEqual(['a', 'b']);
    h!.sink.stop();
    let late: unknown = 'not settled';
    h!.sink.submit('f', requestTo(upstream, 'f'), (result) => (late = result));
    expect(late).toBeNull();
    upstream.answerAll();
    await settledCount(5);
    expect(settled.one('a')).toMatchObject({ ok: true, status: 200 });
    expect(settled.one('b')).toMatchObject({ ok: true, status: 200 });
    for (const id of ['c', 'd', 'e']) expect([id, settled.one(id)]).toEqual([id, null]);
    await h!.close();
    h = null;
    expect(upstream.ids().sort()).toEqual(['a', 'b']);
  });

  maybe('abort(): everything settles as null at once, requests in flight included', async () => {
    await make({ concurrency: 2, highWater: 64 });
    submit('a', 'k');
    submit('b', 'k');
    submit('c');
    submit('d');
    await arrivedCount(2);
    h!.sink.abort();
    // The upstream still holds a and c: they settle without an answer.
    await settledCount(4);
    for (const id of ['a', 'b', 'c', 'd']) expect([id, settled.one(id)]).toEqual([id, null]);
    expect(upstream.arrivals.filter((a) => a.id === 'b' || a.id === 'd')).toEqual([]);
  });

  maybe('close() is idempotent: a second close changes nothing', async () => {
    await make({ concurrency: 2, highWater: 64 });
    // A 429 with Retry-After opens an episode of adaptive pace, which close() ends once.
    upstream.hold = () => false;
    upstream.reply = () => ({ status: 429, headers: { 'retry-after': '1' } });
    submit('a');
    await settledCount(1);
    expect(settled.one('a')).toMatchObject({ ok: false, status: 429 });
    if (h!.stats.throttle !== null) expect(h!.stats.throttle.active).toBe(true);
    const since = h!.stats.throttle?.since ?? 0;
    while (Date.now() <= since) await turns(1); // a second close that counted the episode again would show
    h!.sink.close();
    const once = JSON.stringify(h!.stats.throttle);
    expect(() => h!.sink.close()).not.toThrow();
    expect(JSON.stringify(h!.stats.throttle)).toBe(once);
    expect(settled.count).toBe(1);
  });
});
