// Distributed runs against a real Redis (REDIS_URL, else a redis-server of this file's own, else
// redis://127.0.0.1:6379): `run --queue` and `batchpost worker` as child processes, the fixture server as the
// upstream, which records every request for the assertions.
// Each test uses its own queue name. Without Redis the suite is skipped, except under CI=true, where that fails.
// Needs `npm run build` first (the CLI runs from dist/).
import { jest } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startFixtureServer, type FixtureRequest, type FixtureServer } from '../fixtures/server.js';
import {
  ndjsonFile,
  readResults,
  runCli,
  startCli,
  tmpDir as makeTmpDir,
  waitFor,
  type CliResult,
} from './helpers/cli.js';
import { hasRedisServer, redisAnswers, startRedisServer, stopRedisServer } from './helpers/redis.js';

// A Redis of this file's own unless REDIS_URL names one: a worker without --queue-name serves every run in its
// Redis, so test runs sharing one (several checkouts on one machine) would send each other's requests.
const ownRedis = process.env.REDIS_URL === undefined && hasRedisServer() ? await startRedisServer([]) : null;
const REDIS_URL = process.env.REDIS_URL ?? ownRedis?.url ?? 'redis://127.0.0.1:6379';
// Each test starts several CLI processes; on a loaded machine each takes seconds to start. A bound, not a speed check.
jest.setTimeout(180_000);

const available = await redisAnswers(REDIS_URL);
if (!available && process.env.CI === 'true') {
  test(`Redis answers at ${REDIS_URL} (required in CI)`, () => {
    throw new Error(`no Redis at ${REDIS_URL}: CI must start one (.ci/run does)`);
  });
}
const describeRedis = available ? describe : describe.skip;

interface ResultLine {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
}

let server: FixtureServer;
let redis: Redis;
const dirs: string[] = [];
const children: ChildProcess[] = [];

function tmpDir(): string {
  const dir = makeTmpDir();
  dirs.push(dir);
  return dir;
}

let queueCount = 0;
const queuesUsed: string[] = [];
/** A queue name no other test (or test run) uses. */
function uniqueQueue(): string {
  const name = `t-${process.pid}-${Date.now().toString(36)}-${++queueCount}`;
  queuesUsed.push(name);
  return name;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const numbered = (count: number) => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
const range = (count: number): string[] => Array.from({ length: count }, (_, i) => String(i + 1));
const sortIds = (ids: Iterable<string>): string[] => [...ids].sort((a, b) => Number(a) - Number(b));

/** The id a fixture request was sent for (the `n` of its body). */
function idOf(req: FixtureRequest): string {
  return String((JSON.parse(req.body) as { n: number }).n);
}

/** How many times the upstream received each id. */
function receipts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const req of server.requests) counts.set(idOf(req), (counts.get(idOf(req)) ?? 0) + 1);
  return counts;
}

/** Exactly one line per expected id, each ok. */
function expectOneOkLinePerId(file: string, count: number): ResultLine[] {
  const results = readResults<ResultLine>(file);
  expect(sortIds(results.map((r) => r.id))).toEqual(range(count));
  expect(results.filter((r) => !r.ok)).toEqual([]);
  return results;
}

interface WorkerProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr: () => string;
}

/** A `batchpost worker` for one queue (null: every run registered), started and ready (its first line printed). */
async function startWorker(queue: string | null, extra: string[] = []): Promise<WorkerProcess> {
  const which = queue === null ? [] : ['--queue-name', queue];
  const { child, done } = startCli(['worker', '--queue', REDIS_URL, ...which, ...extra], { timeoutMs: 150_000 });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: string) => (stderr += d));
  await waitFor(
    () => /serving (queue|every run)/.test(stderr) || child.exitCode !== null,
    60_000,
    'the worker to start',
  );
  return { child, done, stderr: () => stderr };
}

/** SIGTERM, then the worker's exit; returns how many requests it said it sent. */
async function stopWorker(w: WorkerProcess): Promise<{ result: CliResult; sent: number }> {
  w.child.kill('SIGTERM');
  const result = await w.done;
  const m = /stopped; sent (\d+) request/.exec(result.stderr);
  if (m === null) throw new Error(`worker did not report what it sent:\n${result.stderr}`);
  return { result, sent: Number(m[1]) };
}

async function keysOfQueue(queue: string): Promise<string[]> {
  return redis.keys(`batchpost:${queue}:*`);
}

afterAll(async () => {
  if (ownRedis !== null) await stopRedisServer(ownRedis);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const runArgs = (input: string, url: string, queue: string, out: string, extra: string[] = []) => [
  'run',
  input,
  '--url',
  url,
  '--queue',
  REDIS_URL,
  '--queue-name',
  queue,
  '--out',
  out,
  '--progress',
  'lines',
  '--progress-interval',
  '250ms',
  ...extra,
];

describeRedis('distributed runs (run --queue, worker)', () => {
  beforeAll(async () => {
    server = await startFixtureServer();
    redis = new Redis(REDIS_URL);
  });
  beforeEach(() => server.reset());
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await server.close();
    // A test that failed may leave its run's keys (an interrupted run keeps them for --resume): not in this Redis.
    for (const queue of queuesUsed) {
      const keys = await keysOfQueue(queue);
      if (keys.length > 0) await redis.del(...keys);
      await redis.hdel('batchpost:bp-runs', queue);
    }
    await redis.quit();
  });

  test('two workers share a run: each sends some, one line per id, and the run deletes its keys', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(40));
    const out = path.join(dir, 'out.ndjson');
    const a = await startWorker(queue, ['--concurrency', '2']);
    const b = await startWorker(queue, ['--concurrency', '2']);
    // 300 ms answers, two in flight per worker: one worker alone would need 6 s, far longer than the other takes
    // to find the run (it looks once a second), even on a busy machine.
    const run = await runCli(runArgs(input, `${server.url}/echo?ms=300`, queue, out), { timeoutMs: 120_000 });
    expect(run.stderr).toContain('40 ok');
    expect(run.code).toBe(0);
    expectOneOkLinePerId(out, 40);
    expect(sortIds(receipts().keys())).toEqual(range(40));
    const [sa, sb] = [await stopWorker(a), await stopWorker(b)];
    expect([sa.result.code, sb.result.code]).toEqual([0, 0]);
    expect(sa.sent).toBeGreaterThan(0);
    expect(sb.sent).toBeGreaterThan(0);
    expect(sa.sent + sb.sent).toBe(40);
    expect(await keysOfQueue(queue)).toEqual([]);
    expect(await redis.hexists('batchpost:bp-runs', queue)).toBe(0);
  });

  test('kill -9 a worker mid-run: another worker takes its jobs over; one line per id (sending is at-least-once)', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(24));
    const out = path.join(dir, 'out.ndjson');
    // A's jobs go back to the queue 2 s after it dies; B renews its own locks every 2 s, so a busy machine that
    // keeps B waiting for a second does not make it look dead too (its requests would be sent a third time).
    const a = await startWorker(queue, ['--concurrency', '3', '--stall-timeout', '2s']);
    const run = startCli(runArgs(input, `${server.url}/slow?ms=400`, queue, out), { timeoutMs: 120_000 });
    children.push(run.child);
    run.child.stdin!.end();
    // Worker A alone has 3 requests at the upstream: kill it there, mid-request.
    await waitFor(() => server.inFlight === 3, 60_000, 'worker A to have 3 requests in flight');
    const lost = server.requests.filter((r) => r.endedAt === null).map(idOf);
    a.child.kill('SIGKILL');
    await a.done;
    const b = await startWorker(queue, ['--concurrency', '3', '--stall-timeout', '4s']);
    const result = await run.done;
    expect(result.code).toBe(0);
    expectOneOkLinePerId(out, 24);
    // What A was sending reached the upstream, and B sent it again: at-least-once, never lost.
    const seen = receipts();
    for (const id of lost) expect([id, seen.get(id)]).toEqual([id, 2]);
    expect(sortIds(seen.keys())).toEqual(range(24));
    const sb = await stopWorker(b);
    expect(sb.sent).toBeGreaterThanOrEqual(lost.length);
    expect(await keysOfQueue(queue)).toEqual([]);
  });

  test('--rate is one global rate: starts at the upstream are spaced across two workers', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(24));
    const out = path.join(dir, 'out.ndjson');
    // Each worker can start at most 3 per 400 ms (7.5/s), less than the 10/s asked: both must take part, and if each
    // paced itself the two would reach 15/s.
    const a = await startWorker(queue, ['--concurrency', '3']);
    const b = await startWorker(queue, ['--concurrency', '3']);
    const run = await runCli(runArgs(input, `${server.url}/slow?ms=400`, queue, out, ['--rate', '10/s']), {
      timeoutMs: 120_000,
    });
    expect(run.code).toBe(0);
    expectOneOkLinePerId(out, 24);
    const starts = server.requests.map((r) => r.startedAt).sort((x, y) => x - y);
    expect(starts).toHaveLength(24);
    // 10/s is one start per 100 ms window of BullMQ's limiter, shared by both workers: the last of 24 starts comes
    // at least 2.3 s after the first (at 15/s, 1.53 s). Measured at the upstream, a start arrives late by the time
    // to open a connection and by whatever keeps a busy machine's processes waiting; that delays the first start
    // and so shortens the span by at most that much: 400 ms are allowed. Starts that such delays bunch together
    // say nothing about the limiter, so no shorter window is checked.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(1_900);
    const [sa, sb] = [await stopWorker(a), await stopWorker(b)];
    expect(sa.sent + sb.sent).toBe(24);
    expect(Math.min(sa.sent, sb.sent)).toBeGreaterThan(0);
  });

  test('a finished run leaves no key in Redis, even while its workers go on running', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(6));
    const out = path.join(dir, 'out.ndjson');
    // A short stall timeout: BullMQ's stalled-job check in the worker runs every 250 ms and writes a key of the queue.
    const w = await startWorker(queue, ['--concurrency', '2', '--stall-timeout', '500ms']);
    const run = await runCli(runArgs(input, `${server.url}/echo`, queue, out), { timeoutMs: 120_000 });
    expect(run.code).toBe(0);
    expectOneOkLinePerId(out, 6);
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      for (const key of await keysOfQueue(queue)) seen.add(key);
      await sleep(50);
    }
    expect([...seen]).toEqual([]);
    expect(w.child.exitCode).toBeNull();
    await stopWorker(w);
    expect(await keysOfQueue(queue)).toEqual([]);
  });

  test('with no worker the run waits and says so; it finishes once a worker starts', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(10));
    const out = path.join(dir, 'out.ndjson');
    const run = startCli(runArgs(input, `${server.url}/echo`, queue, out), { timeoutMs: 120_000 });
    children.push(run.child);
    run.child.stdin!.end();
    let stderr = '';
    run.child.stderr!.on('data', (d: string) => (stderr += d));
    await waitFor(() => stderr.includes(`no worker is serving queue ${queue}`), 60_000, 'the run to say it waits');
    await waitFor(() => /waiting for a worker/.test(stderr), 60_000, 'the progress line to show the wait');
    expect(stderr).toContain(`batchpost worker --queue ${REDIS_URL} --queue-name ${queue}`);
    await sleep(500);
    expect(run.child.exitCode).toBeNull();
    expect(server.requests).toHaveLength(0);
    // A worker without --queue-name finds the run in Redis's list of runs.
    const w = await startWorker(null);
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/1 worker serving queue/);
    expectOneOkLinePerId(out, 10);
    const stopped = await stopWorker(w);
    expect(stopped.result.stderr).toContain(`queue ${queue}: serving POST ${server.url}/echo`);
    expect(stopped.result.stderr).toContain(`queue ${queue}: done: sent 10 requests`);
  });

  test('kill -9 the run, then --resume collects what workers finished meanwhile: one line per id, nothing sent twice', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(40));
    const out = path.join(dir, 'out.ndjson');
    const w = await startWorker(queue, ['--concurrency', '4']);
    const args = runArgs(input, `${server.url}/slow?ms=150`, queue, out);
    const first = startCli(args, { timeoutMs: 120_000 });
    children.push(first.child);
    first.child.stdin!.end();
    await waitFor(() => fs.existsSync(out) && readResults(out).length >= 8, 60_000, '8 results recorded');
    first.child.kill('SIGKILL');
    await first.done;
    const recorded = readResults(out).length;
    expect(recorded).toBeLessThan(40);
    // The workers carry on without the run: every request reaches the upstream once.
    await waitFor(
      () => server.requests.length === 40 && server.inFlight === 0,
      30_000,
      'the workers to finish the queue',
    );
    const resumed = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/skipped\s+\d+ already recorded/);
    expectOneOkLinePerId(out, 40);
    expect([...receipts().values()].every((n) => n === 1)).toBe(true);
    expect(server.requests).toHaveLength(40);
    await stopWorker(w);
    expect(await keysOfQueue(queue)).toEqual([]);
  });

  test('Ctrl-C pauses the queue (workers start nothing more); --resume sends the rest, each id once', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(30));
    const out = path.join(dir, 'out.ndjson');
    const w = await startWorker(queue, ['--concurrency', '2']);
    const args = runArgs(input, `${server.url}/slow?ms=200`, queue, out);
    const first = startCli(args, { timeoutMs: 120_000 });
    children.push(first.child);
    first.child.stdin!.end();
    await waitFor(() => fs.existsSync(out) && readResults(out).length >= 4, 60_000, '4 results recorded');
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('--resume');
    const sentAtStop = server.requests.length;
    // What the workers were sending finished and was recorded; nothing else starts while the run is away.
    expect(readResults(out).length).toBe(sentAtStop);
    await sleep(1_000);
    expect(server.requests.length).toBe(sentAtStop);
    const resumed = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(resumed.code).toBe(0);
    expectOneOkLinePerId(out, 30);
    expect([...receipts().values()].every((n) => n === 1)).toBe(true);
    await stopWorker(w);
  });

  test('worker SIGTERM lets requests in flight finish; a second SIGTERM hands them back to the queue', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(12));
    const out = path.join(dir, 'out.ndjson');
    const a = await startWorker(queue, ['--concurrency', '3']);
    const run = startCli(runArgs(input, `${server.url}/slow?ms=1500`, queue, out), { timeoutMs: 120_000 });
    children.push(run.child);
    run.child.stdin!.end();
    await waitFor(() => server.inFlight === 3, 60_000, 'worker A to have 3 requests in flight');
    // One signal: A takes nothing new, and finishes the 3 it is sending.
    a.child.kill('SIGTERM');
    await waitFor(() => a.stderr().includes('stopping'), 60_000, 'A to say it stops');
    const finished = await a.done;
    expect(finished.code).toBe(0);
    expect(finished.stderr).toMatch(/stopped; sent 3 requests/);
    expect(server.requests).toHaveLength(3);
    // B takes over; two signals make it hand back what it is sending, unfinished, for C to send.
    const b = await startWorker(queue, ['--concurrency', '3']);
    await waitFor(() => server.inFlight === 3, 60_000, 'worker B to have 3 requests in flight');
    const t0 = Date.now();
    b.child.kill('SIGTERM');
    await waitFor(() => b.stderr().includes('stopping'), 60_000, 'B to say it stops');
    b.child.kill('SIGTERM');
    const handedBack = await b.done;
    expect(handedBack.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(1_400); // did not wait for its 1.5 s requests
    expect(handedBack.stderr).toMatch(/stopped; sent 0 requests/);
    const c = await startWorker(queue, ['--concurrency', '6']);
    const result = await run.done;
    expect(result.code).toBe(0);
    expectOneOkLinePerId(out, 12);
    expect(sortIds(receipts().keys())).toEqual(range(12));
    await stopWorker(c);
  });

  test('a request whose workers keep dying is given up on: QUEUE_JOB_FAILED, exit 1', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(dir, numbered(1));
    const out = path.join(dir, 'out.ndjson');
    const run = startCli(runArgs(input, `${server.url}/hang`, queue, out, ['--concurrency', '1', '--timeout', '60s']), {
      timeoutMs: 120_000,
    });
    children.push(run.child);
    run.child.stdin!.end();
    // Three workers in turn take the request and are killed while sending it; BullMQ recovers it twice, then fails it.
    for (let killed = 1; killed <= 3; killed++) {
      const w = await startWorker(queue, ['--concurrency', '1', '--stall-timeout', '1s']);
      await waitFor(
        () => server.requests.length === killed && server.inFlight === 1,
        15_000,
        `attempt ${killed} at the upstream`,
      );
      w.child.kill('SIGKILL');
      await w.done;
    }
    const last = await startWorker(queue, ['--concurrency', '1', '--stall-timeout', '1s']);
    const result = await run.done;
    expect(result.code).toBe(1);
    const [line] = readResults<ResultLine>(out);
    expect(line).toMatchObject({ id: '1', ok: false, status: null, error: { code: 'QUEUE_JOB_FAILED' } });
    expect(line!.error!.message).toMatch(/may have been sent/);
    expect(server.requests).toHaveLength(3);
    await stopWorker(last);
    expect(await keysOfQueue(queue)).toEqual([]);
  });

  test('--serialize-by holds the same key out of flight across workers', async () => {
    const dir = tmpDir();
    const queue = uniqueQueue();
    const input = ndjsonFile(
      dir,
      Array.from({ length: 12 }, (_, i) => ({ n: i + 1, k: i % 2 })),
    );
    const out = path.join(dir, 'out.ndjson');
    const a = await startWorker(queue, ['--concurrency', '4']);
    const b = await startWorker(queue, ['--concurrency', '4']);
    const run = await runCli(runArgs(input, `${server.url}/slow?ms=60`, queue, out, ['--serialize-by', 'k']), {
      timeoutMs: 120_000,
    });
    expect(run.code).toBe(0);
    expectOneOkLinePerId(out, 12);
    for (const k of [0, 1]) {
      const same = server.requests
        .filter((r) => (JSON.parse(r.body) as { k: number }).k === k)
        .sort((x, y) => x.startedAt - y.startedAt);
      // In input order, each starting after the previous one ended.
      expect(same.map(idOf)).toEqual(range(12).filter((id) => (Number(id) - 1) % 2 === k));
      for (let i = 1; i < same.length; i++) expect(same[i]!.startedAt).toBeGreaterThanOrEqual(same[i - 1]!.endedAt!);
    }
    await Promise.all([stopWorker(a), stopWorker(b)]);
  });
});

describe('distributed runs without Redis', () => {
  test('run --queue and worker stop with QUEUE_UNAVAILABLE (exit 2) when nothing answers', async () => {
    const port = await freePort();
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const run = await runCli(['run', input, '--url', 'http://127.0.0.1:9/x', '--queue', `redis://127.0.0.1:${port}`], {
      timeoutMs: 20_000,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('[QUEUE_UNAVAILABLE]');
    const worker = await runCli(['worker', '--queue', `redis://127.0.0.1:${port}`], { timeoutMs: 20_000 });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('[QUEUE_UNAVAILABLE]');
  });

  test('usage errors: --queue-name without --queue, a queue name with a colon, a URL that is not Redis', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(1));
    const cases = [
      ['run', input, '--url', 'http://127.0.0.1:9/x', '--queue-name', 'q1'],
      ['run', input, '--url', 'http://127.0.0.1:9/x', '--queue', 'redis://127.0.0.1:9', '--queue-name', 'a:b'],
      ['worker', '--queue', 'http://127.0.0.1:6379'],
    ];
    for (const args of cases) {
      const r = await runCli(args, { timeoutMs: 20_000 });
      expect([args, r.code, /\[USAGE\]/.test(r.stderr)]).toEqual([args, 2, true]);
    }
  });
});
