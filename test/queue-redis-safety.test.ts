// Distributed runs against Redis servers that would lose work or hang them: each test starts its own redis-server
// (`--save '' --appendonly no` plus the setting under test) on a free port, or a TCP server that never answers, and
// runs `run --queue` and `batchpost worker` as child processes against it. Needs redis-server on PATH and
// `npm run build` first (the CLI runs from dist/).
import { jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import {
  ndjsonFile,
  readResults,
  runCli,
  shellWords,
  startCli,
  tmpDir as makeTmpDir,
  waitFor,
  withStderr,
  type CliResult,
} from './helpers/cli.js';
import { queueRunArgs as runArgs, startRedisServer, stopRedisServer, type RedisServer } from './helpers/redis.js';

// Each test starts Redis servers and CLI processes; on a loaded machine each takes seconds. A bound, not a speed check.
jest.setTimeout(180_000);

const servers: RedisServer[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
let upstream: FixtureServer;

function tmpDir(): string {
  const dir = makeTmpDir();
  dirs.push(dir);
  return dir;
}

const numbered = (count: number) => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
const range = (count: number): string[] => Array.from({ length: count }, (_, i) => String(i + 1));

async function startRedis(extra: string[], port?: number, password?: string): Promise<RedisServer> {
  const server = await startRedisServer(extra, port, password);
  servers.push(server);
  return server;
}

/** Keys in a database of a server, through a connection of the test's own. */
async function dbsize(port: number, db = 0, password?: string): Promise<number> {
  const client = new Redis({ port, host: '127.0.0.1', db, password, lazyConnect: true });
  try {
    await client.connect();
    return await client.dbsize();
  } finally {
    client.disconnect();
  }
}

/** A CLI child, killed after the test if still running, with its stderr so far. */
function track(started: { child: ChildProcess; done: Promise<CliResult> }) {
  children.push(started.child);
  return withStderr(started);
}

/** A worker serving one queue, started and ready. */
async function startWorker(url: string, queue: string, extra: string[] = [], env?: Record<string, string>) {
  const w = track(startCli(['worker', '--queue', url, '--queue-name', queue, ...extra], { timeoutMs: 120_000, env }));
  await waitFor(() => /serving queue/.test(w.stderr()) || w.child.exitCode !== null, 60_000, 'the worker to start');
  return w;
}

beforeAll(async () => {
  upstream = await startFixtureServer();
});
beforeEach(() => upstream.reset());
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(servers.map(stopRedisServer));
  await upstream.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a Redis that may evict keys is refused', () => {
  test('maxmemory-policy allkeys-lru: run and worker stop with QUEUE_UNSAFE_REDIS (exit 2), nothing queued or sent', async () => {
    const redis = await startRedis(['--maxmemory-policy', 'allkeys-lru']);
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3));
    const out = path.join(dir, 'out.ndjson');
    const run = await runCli(runArgs(input, `${upstream.url}/echo`, out, ['--queue', redis.url]), {
      timeoutMs: 60_000,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('[QUEUE_UNSAFE_REDIS]');
    expect(run.stderr).toContain('maxmemory-policy allkeys-lru');
    expect(run.stderr).toContain('CONFIG SET maxmemory-policy noeviction');
    const worker = await runCli(['worker', '--queue', redis.url], { timeoutMs: 60_000 });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('[QUEUE_UNSAFE_REDIS]');
    expect(upstream.requests).toHaveLength(0);
    expect(await dbsize(redis.port)).toBe(0);
  });

  test('CONFIG renamed away: the policy is read from INFO, and volatile-lru is refused too', async () => {
    const password = 'evict-pw-7c1e';
    const redis = await startRedis(
      ['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '', '--requirepass', password],
      undefined,
      password,
    );
    const url = `redis://:${password}@127.0.0.1:${redis.port}`;
    const worker = await runCli(['worker', '--queue', url], { timeoutMs: 60_000 });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('[QUEUE_UNSAFE_REDIS]');
    expect(worker.stderr).toContain('maxmemory-policy volatile-lru');
    expect(worker.stderr).not.toContain(password);
  });
});

describe('a Redis that does not answer', () => {
  test('a port that accepts connections and never answers: run and worker exit 2 with QUEUE_UNAVAILABLE', async () => {
    const sockets: net.Socket[] = [];
    const blackHole = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as net.AddressInfo).port;
    try {
      const dir = tmpDir();
      const input = ndjsonFile(dir, numbered(2));
      const out = path.join(dir, 'out.ndjson');
      const url = `redis://127.0.0.1:${port}`;
      // Bounds, not speed assertions: about 5 s each on an idle machine.
      const [run, worker] = await Promise.all([
        runCli(runArgs(input, `${upstream.url}/echo`, out, ['--queue', url]), { timeoutMs: 60_000 }),
        runCli(['worker', '--queue', url], { timeoutMs: 60_000 }),
      ]);
      for (const r of [run, worker]) {
        expect([r.code, r.signal]).toEqual([2, null]);
        expect(r.stderr).toContain('[QUEUE_UNAVAILABLE]');
        expect(r.stderr).toMatch(/accepted the connection but did not answer/);
      }
      expect(sockets.length).toBeGreaterThanOrEqual(2);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  });
});

describe('a database the server does not have', () => {
  test('redis://…/99 on a 16-database server: run and worker exit 2 naming the range; database 0 is left alone', async () => {
    const redis = await startRedis(['--databases', '16']);
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const out = path.join(dir, 'out.ndjson');
    const url = `${redis.url}/99`;
    const run = await runCli(runArgs(input, `${upstream.url}/echo`, out, ['--queue', url]), { timeoutMs: 60_000 });
    const worker = await runCli(['worker', '--queue', url], { timeoutMs: 60_000 });
    for (const r of [run, worker]) {
      expect([r.code, r.signal]).toEqual([2, null]);
      expect(r.stderr).toContain('[QUEUE_UNAVAILABLE]');
      expect(r.stderr).toContain('no database 99 (it has 16: 0 to 15)');
    }
    expect(await dbsize(redis.port, 0)).toBe(0);
    const bad = await runCli(['worker', '--queue', `${redis.url}/first`], { timeoutMs: 60_000 });
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('[USAGE]')]);
  });
});

describe('Redis loses its data mid-run', () => {
  test('restart without persistence: the run stops with QUEUE_LOST and says --resume; --resume finishes, one line per id', async () => {
    const redis = await startRedis([]);
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(30));
    const out = path.join(dir, 'out.ndjson');
    const queue = 'lost-state';
    const worker = await startWorker(redis.url, queue, ['--concurrency', '2']);
    const args = runArgs(input, `${upstream.url}/slow?ms=200`, out, ['--queue', redis.url, '--queue-name', queue]);
    const first = track(startCli(args, { timeoutMs: 90_000 }));
    first.child.stdin!.end();
    await waitFor(() => fs.existsSync(out) && readResults(out).length >= 4, 60_000, '4 results recorded');
    await stopRedisServer(redis);
    await startRedis(redis.args, redis.port);
    const stopped = await first.done;
    expect(stopped.stderr).toContain('[QUEUE_LOST]');
    expect(stopped.stderr).toContain(`Redis lost queue ${queue}`);
    expect(stopped.stderr).toContain('--resume');
    expect(stopped.stderr).not.toContain('no worker is serving');
    expect(stopped.code).toBe(1);
    // The worker reconnects to the new Redis and serves the resumed run.
    const resumed = await runCli([...args, '--resume'], { timeoutMs: 90_000 });
    expect(resumed.code).toBe(0);
    const ids = readResults<{ id: string; ok: boolean }>(out).map((r) => r.id);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(range(30));
    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
  });
});

describe('Redis stops answering mid-run', () => {
  test('a frozen Redis (SIGSTOP): run and worker stop with QUEUE_UNAVAILABLE (exit 2); the run says --resume and keeps its lines', async () => {
    const redis = await startRedis([]);
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(200));
    const out = path.join(dir, 'out.ndjson');
    const queue = 'frozen';
    const worker = await startWorker(redis.url, queue, ['--concurrency', '2']);
    const args = runArgs(input, `${upstream.url}/slow?ms=200`, out, ['--queue', redis.url, '--queue-name', queue]);
    const run = track(startCli(args, { timeoutMs: 120_000 }));
    run.child.stdin!.end();
    try {
      await waitFor(() => fs.existsSync(out) && readResults(out).length >= 4, 60_000, '4 results recorded');
      redis.child.kill('SIGSTOP');
      // A bound, not a speed check: the watchdogs give up after 10 s without an answer.
      await waitFor(
        () => run.child.exitCode !== null && worker.child.exitCode !== null,
        60_000,
        'run and worker to stop',
      );
    } finally {
      redis.child.kill('SIGCONT');
    }
    const stopped = await run.done;
    expect(stopped.stderr).toContain('[QUEUE_UNAVAILABLE]');
    expect(stopped.stderr).toMatch(/Redis .* did not answer/);
    expect(stopped.stderr).toMatch(/Continue with:\n {2}.*--resume/);
    expect(stopped.code).toBe(2);
    expect(readResults(out).length).toBeGreaterThanOrEqual(4);
    const w = await worker.done;
    expect(w.stderr).toContain('[QUEUE_UNAVAILABLE]');
    expect(w.code).toBe(2);
  });
});

describe('the Redis password stays out of argv and output', () => {
  test('BATCHPOST_QUEUE: run and worker take the URL from it; no line prints it, and the printed commands run as printed', async () => {
    const password = 'pw-in-env-52b9';
    const redis = await startRedis(['--requirepass', password], undefined, password);
    const env = { BATCHPOST_QUEUE: `redis://:${password}@127.0.0.1:${redis.port}` };
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(20));
    const out = path.join(dir, 'out.ndjson');
    const queue = 'env-url';
    const args = runArgs(input, `${upstream.url}/slow?ms=100`, out, ['--queue-name', queue, '--concurrency', '2']);
    const first = track(startCli(args, { timeoutMs: 60_000, env }));
    first.child.stdin!.end();
    await waitFor(() => first.stderr().includes('no worker is serving'), 60_000, 'the run to wait for a worker');
    expect(fs.readFileSync(`/proc/${first.child.pid}/cmdline`, 'utf8')).not.toContain(password);
    const note = /Start one with:\n {2}(.*)\n/.exec(first.stderr());
    expect(note?.[1]).toBe(`batchpost worker --queue-name ${queue}`);
    expect(first.stderr()).toContain('BATCHPOST_QUEUE');
    // The worker command as printed, with the environment as the run had it.
    const worker = track(startCli(shellWords(note![1]!).slice(1), { timeoutMs: 60_000, env }));
    await waitFor(() => /serving queue/.test(worker.stderr()), 60_000, 'the worker to start');
    expect(fs.readFileSync(`/proc/${worker.child.pid}/cmdline`, 'utf8')).not.toContain(password);
    await waitFor(() => fs.existsSync(out) && readResults(out).length >= 2, 60_000, '2 results recorded');
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    const resume = /Continue with:\n {2}(.*)\n/.exec(stopped.stderr)?.[1];
    expect(resume).toBeDefined();
    expect(resume).not.toContain('--queue ');
    expect(resume).not.toContain('<hidden>');
    const resumed = await runCli(shellWords(resume!).slice(1), { timeoutMs: 60_000, env });
    expect(resumed.code).toBe(0);
    expect(readResults(out)).toHaveLength(20);
    worker.child.kill('SIGTERM');
    const w = await worker.done;
    for (const text of [stopped.stderr, resumed.stderr, w.stderr, stopped.stdout, resumed.stdout])
      expect(text).not.toContain(password);
  });

  test('worker with neither --queue nor BATCHPOST_QUEUE: USAGE, exit 2, naming both', async () => {
    const r = await runCli(['worker'], { timeoutMs: 60_000, env: { BATCHPOST_QUEUE: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[USAGE]');
    expect(r.stderr).toMatch(/--queue.*BATCHPOST_QUEUE/);
  });

  test('a password in --queue is shown as <hidden> in the worker command and the --resume command, with a note', async () => {
    const password = 'pw-in-flag-0d3a';
    const redis = await startRedis(['--requirepass', password], undefined, password);
    const url = `redis://:${password}@127.0.0.1:${redis.port}`;
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(5));
    const out = path.join(dir, 'out.ndjson');
    const queue = 'flag-url';
    const run = track(
      startCli(runArgs(input, `${upstream.url}/echo`, out, ['--queue', url, '--queue-name', queue]), {
        timeoutMs: 60_000,
      }),
    );
    run.child.stdin!.end();
    await waitFor(() => run.stderr().includes('no worker is serving'), 60_000, 'the run to wait for a worker');
    expect(run.stderr()).toContain(
      `batchpost worker --queue 'redis://:<hidden>@127.0.0.1:${redis.port}' --queue-name ${queue}`,
    );
    expect(run.stderr()).toMatch(/password is shown as <hidden>.*BATCHPOST_QUEUE/);
    run.child.kill('SIGTERM');
    const stopped = await run.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/Continue with:\n {2}.*--queue 'redis:\/\/:<hidden>@127\.0\.0\.1:\d+'.*--resume\n/);
    expect(stopped.stderr).toMatch(/<hidden>.*BATCHPOST_QUEUE/);
    expect(stopped.stderr).not.toContain(password);
  });
});
