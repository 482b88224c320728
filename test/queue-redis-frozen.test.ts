// A Redis that freezes while `run --queue` or `batchpost worker` starts up, or while a run stops after Ctrl-C: each
// test starts its own redis-server (with a password, which no output may show) behind a relay (startRedisTap) that
// stops the server with SIGSTOP just before a chosen command reaches it, so every step of start-up meets a real
// frozen server. Needs redis-server on PATH and `npm run build` first (the CLI runs from dist/).
import { jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import {
  ndjsonFile,
  readResults,
  runCli,
  startCli,
  tmpDir as makeTmpDir,
  waitFor,
  withStderr,
  type CliResult,
} from './helpers/cli.js';
import {
  queueRunArgs as runArgs,
  startRedisServer,
  startRedisTap,
  stopRedisServer,
  type RedisServer,
  type RedisTap,
} from './helpers/redis.js';

// Each test starts a Redis server and CLI processes; on a loaded machine each takes seconds. A bound, not a speed check.
jest.setTimeout(180_000);

const PASSWORD = 'frozen-pw-3e8a';
/** Longer than the watchdogs' 10 s by far: a child still running then is hung, and is killed (code null). */
const HANG_MS = 60_000;

const servers: RedisServer[] = [];
const taps: RedisTap[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
let upstream: FixtureServer;

function tmpDir(): string {
  const dir = makeTmpDir();
  dirs.push(dir);
  return dir;
}

interface Frozen {
  redis: RedisServer;
  tap: RedisTap;
  /** The URL through the relay, password included. */
  url: string;
  /** When the server was stopped, or null while it runs. */
  frozenAt: () => number | null;
  /** From now on, stop the server before the first command matching `freeze` instead. */
  freezeAt: (freeze: RegExp) => void;
}

/**
 * A passworded redis-server behind a relay that stops it (SIGSTOP) just before the `nth` command matching `freeze`
 * reaches it, counting only once `after` has gone by.
 */
async function frozenRedis(freeze: RegExp, nth = 1, after?: RegExp): Promise<Frozen> {
  const redis = await startRedisServer(['--requirepass', PASSWORD], undefined, PASSWORD);
  servers.push(redis);
  let seen = 0;
  let armed = after === undefined;
  let frozenAt: number | null = null;
  const tap = await startRedisTap(redis.port, (text) => {
    if (frozenAt !== null) return;
    if (!armed) return void (armed = after!.test(text));
    if (freeze.test(text) && ++seen === nth) {
      redis.child.kill('SIGSTOP');
      frozenAt = Date.now();
    }
  });
  taps.push(tap);
  const freezeAt = (next: RegExp) => {
    [freeze, nth, seen, armed] = [next, 1, 0, true];
  };
  return { redis, tap, url: `redis://:${PASSWORD}@127.0.0.1:${tap.port}`, frozenAt: () => frozenAt, freezeAt };
}

/** A CLI child, killed after the test if still running, with its stderr so far. */
function track(started: { child: ChildProcess; done: Promise<CliResult> }) {
  children.push(started.child);
  return withStderr(started);
}

/** Stopped with QUEUE_UNAVAILABLE (exit 2, not killed as hung), naming where Redis is and never its password. */
function expectUnavailable(r: CliResult, f: Frozen): void {
  expect(f.frozenAt()).not.toBeNull();
  expect([r.code, r.signal]).toEqual([2, null]);
  expect(r.stderr).toContain('[QUEUE_UNAVAILABLE]');
  expect(r.stderr).toContain(`127.0.0.1:${f.tap.port}`);
  expect(r.stderr + r.stdout).not.toContain(PASSWORD);
}

beforeAll(async () => {
  upstream = await startFixtureServer();
});
beforeEach(() => upstream.reset());
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(taps.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map(stopRedisServer));
});
afterAll(async () => {
  await upstream.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface Step {
  step: string;
  /** The command (as RESP on the wire; ioredis sends names in lower case) the server freezes before. */
  freeze: RegExp;
  /** Freeze at the nth such command (1 by default). */
  nth?: number;
  /** Count them only once this has gone by. */
  after?: RegExp;
  /** Appended to the URL (a database). */
  db?: string;
  /** More arguments for the command. */
  extra?: string[];
  /** What the message says of the step. */
  says: string;
}

const NEVER_ANSWERED = 'accepted the connection but did not answer within 5s';

const RUN_STEPS: Step[] = [
  { step: 'frozen before anything answered', freeze: /auth/i, says: NEVER_ANSWERED },
  {
    step: 'at the check of its eviction policy (CONFIG GET maxmemory-policy)',
    freeze: /maxmemory-policy/,
    says: 'stopped answering within 5s (while reading its maxmemory-policy)',
  },
  { step: 'at the check of the database the URL names', freeze: /\r\nselect\r\n/i, db: '/3', says: NEVER_ANSWERED },
  { step: "when the run's own connection opens", freeze: /batchpost-run-/, says: 'while the run was connecting' },
  { step: "at the queue's lock", freeze: /bp-lock/, says: 'while the run was taking the lock of queue startup' },
  {
    step: "at BullMQ's check of the server, creating the queue",
    freeze: /\r\ninfo\r\n/i,
    after: /bp-lock/,
    says: 'while the run was creating queue startup',
  },
  {
    step: 'while clearing what an earlier run left',
    freeze: /bp-results/,
    says: 'while the run was clearing what an earlier run of queue startup left',
  },
  {
    step: "while publishing the run's settings",
    freeze: /\r\nhset\r\n\$\d+\r\nbatchpost:[^\r]*bp-config/i,
    says: 'while the run was publishing its settings',
  },
  { step: 'while listing the run for workers', freeze: /bp-runs/, says: 'while the run was publishing its settings' },
];

describe('run --queue: a Redis that freezes during start-up', () => {
  test.each(RUN_STEPS)(
    '$step: the run exits 2 with QUEUE_UNAVAILABLE naming host:port and the step, nothing sent, no results file',
    async ({ freeze, nth, after, db, says }) => {
      const f = await frozenRedis(freeze, nth, after);
      const dir = tmpDir();
      const input = ndjsonFile(dir, [{ n: 1 }, { n: 2 }]);
      const out = path.join(dir, 'out.ndjson');
      const queue = ['--queue', f.url + (db ?? ''), '--queue-name', 'startup'];
      const run = await runCli(runArgs(input, `${upstream.url}/echo`, out, queue), { timeoutMs: HANG_MS });
      expectUnavailable(run, f);
      expect(run.stderr).toContain(says);
      expect(upstream.requests).toHaveLength(0);
      expect(fs.existsSync(out) ? readResults(out) : []).toHaveLength(0);
    },
  );
});

describe('run --queue --resume: a Redis that freezes during start-up', () => {
  test('while reading what the interrupted run left: exit 2 with QUEUE_UNAVAILABLE naming the step; the results file is as it was', async () => {
    const f = await frozenRedis(/(?!)/); // armed once the first run is over
    const dir = tmpDir();
    const input = ndjsonFile(dir, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const out = path.join(dir, 'out.ndjson');
    const args = runArgs(input, `${upstream.url}/echo`, out, ['--queue', f.url, '--queue-name', 'resumed']);
    // No worker: the first run queues everything and waits; Ctrl-C leaves the queue for --resume.
    const first = track(startCli(args, { timeoutMs: HANG_MS }));
    first.child.stdin!.end();
    await waitFor(() => first.stderr().includes('no worker is serving'), 60_000, 'the run to wait for a worker');
    first.child.kill('SIGINT');
    expect((await first.done).code).toBe(130);
    const before = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    // A resumed run reads the interrupted run's generation first thing after its lock.
    f.freezeAt(/\r\nhget\r\n\$\d+\r\nbatchpost:[^\r]*bp-config/i);
    const resumed = await runCli([...args, '--resume'], { timeoutMs: HANG_MS });
    expectUnavailable(resumed, f);
    expect(resumed.stderr).toContain('while the run was reading what the interrupted run of queue resumed left');
    expect(fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '').toBe(before);
    expect(upstream.requests).toHaveLength(0);
  });
});

const WORKER_STEPS: Step[] = [
  { step: 'frozen before anything answered', freeze: /auth/i, says: NEVER_ANSWERED },
  {
    step: 'at the check of its eviction policy (CONFIG GET maxmemory-policy)',
    freeze: /maxmemory-policy/,
    says: 'stopped answering within 5s (while reading its maxmemory-policy)',
  },
  {
    step: "when the worker's own connection opens",
    freeze: /batchpost-worker\r\n/,
    says: 'while the worker was connecting',
  },
  {
    step: 'while it looks for runs to serve',
    freeze: /\r\nhkeys\r\n/i,
    says: 'while the worker was looking for runs to serve',
  },
  {
    step: 'with --queue-name, while it reads the run it serves',
    freeze: /\r\nhgetall\r\n/i,
    extra: ['--queue-name', 'startup'],
    says: 'did not answer',
  },
  {
    step: 'while the sender of batch jobs starts',
    freeze: /maxmemory-policy/,
    nth: 2,
    says: 'stopped answering within 5s (while reading its maxmemory-policy)',
  },
];

describe('batchpost worker: a Redis that freezes during start-up', () => {
  test.each(WORKER_STEPS)(
    '$step: the worker exits 2 with QUEUE_UNAVAILABLE naming host:port and the step',
    async ({ freeze, nth, extra, says }) => {
      const f = await frozenRedis(freeze, nth);
      const worker = await runCli(['worker', '--queue', f.url, ...(extra ?? [])], { timeoutMs: HANG_MS });
      expectUnavailable(worker, f);
      expect(worker.stderr).toContain(says);
      expect(worker.stderr).not.toMatch(/serving every run/);
    },
  );
});

/** A worker on `queue` and a run of `payloads` (sent to /slow?ms={{ ms }}), both through the relay. */
async function runWithWorker(f: Frozen, queue: string, payloads: object[]) {
  const dir = tmpDir();
  const input = ndjsonFile(dir, payloads);
  const out = path.join(dir, 'out.ndjson');
  const worker = track(
    startCli(['worker', '--queue', f.url, '--queue-name', queue, '--concurrency', '2'], { timeoutMs: HANG_MS * 2 }),
  );
  await waitFor(() => /serving queue/.test(worker.stderr()), 60_000, 'the worker to start');
  const url = `${upstream.url}/slow?ms={{ ms }}`;
  const args = runArgs(input, url, out, ['--queue', f.url, '--queue-name', queue]);
  const run = track(startCli(args, { timeoutMs: HANG_MS * 2 }));
  run.child.stdin!.end();
  return { run, worker, out };
}

/** Four quick requests get recorded; the next two are being sent (for a minute) when Ctrl-C comes; the rest wait. */
const SLOW_AFTER_FOUR = Array.from({ length: 12 }, (_, i) => ({ n: i + 1, ms: i >= 4 && i < 6 ? 60_000 : 50 }));

/** Stopped by a frozen Redis after Ctrl-C: exit 2, QUEUE_UNAVAILABLE, the --resume command, the lines as they were. */
function expectStoppedForResume(stopped: CliResult, f: Frozen, out: string, recorded: number): void {
  expect([stopped.code, stopped.signal]).toEqual([2, null]);
  expect(stopped.stderr).toContain('[QUEUE_UNAVAILABLE]');
  expect(stopped.stderr).toContain(`127.0.0.1:${f.tap.port}`);
  expect(stopped.stderr).toMatch(/Continue with:\n {2}.*--resume/);
  expect(stopped.stderr).not.toContain(PASSWORD);
  expect(readResults(out)).toHaveLength(recorded);
  expect(new Set(readResults<{ id: string }>(out).map((r) => r.id)).size).toBe(recorded);
}

describe('run --queue: a Redis that freezes while the run stops', () => {
  test('after Ctrl-C, while workers finish what they hold: exit 2 with QUEUE_UNAVAILABLE and the --resume command; recorded lines stay', async () => {
    const f = await frozenRedis(/(?!)/); // frozen by hand below, once the run is stopping
    const { run, out } = await runWithWorker(f, 'frozen-stop', SLOW_AFTER_FOUR);
    await waitFor(
      () => fs.existsSync(out) && readResults(out).length >= 4 && upstream.requests.length >= 6,
      60_000,
      'four results recorded and two requests in flight',
    );
    run.child.kill('SIGINT');
    await waitFor(() => run.stderr().includes('stopping —'), 60_000, 'the run to start stopping');
    const recorded = readResults(out).length;
    f.redis.child.kill('SIGSTOP');
    // A bound, not a speed check: the requests in flight would take a minute, and Redis never answers again.
    await waitFor(() => run.child.exitCode !== null, HANG_MS, 'the run to stop');
    const stopped = await run.done;
    expectStoppedForResume(stopped, f, out, recorded);
    expect(stopped.stderr).toContain('while the run was stopping');
  });

  test('after a second Ctrl-C, while the run lets go of its queue: exit 2 with QUEUE_UNAVAILABLE and the --resume command', async () => {
    const f = await frozenRedis(/(?!)/);
    const { run, out } = await runWithWorker(f, 'frozen-abort', SLOW_AFTER_FOUR);
    await waitFor(
      () => fs.existsSync(out) && readResults(out).length >= 4 && upstream.requests.length >= 6,
      60_000,
      'four results recorded and two requests in flight',
    );
    run.child.kill('SIGINT');
    await waitFor(() => run.stderr().includes('stopping —'), 60_000, 'the run to start stopping');
    const recorded = readResults(out).length;
    f.redis.child.kill('SIGSTOP');
    run.child.kill('SIGINT');
    await waitFor(() => run.child.exitCode !== null, HANG_MS, 'the run to stop');
    const stopped = await run.done;
    expectStoppedForResume(stopped, f, out, recorded);
  });

  test('a finished run whose Redis freezes while it deletes its keys: exit 0 with every line, and a line saying the keys stay', async () => {
    // The run's own DEL of its config (one key), which starts the clean-up once every line is recorded.
    const f = await frozenRedis(/\*2\r\n\$3\r\ndel\r\n\$\d+\r\nbatchpost:[^\r]*bp-config\r\n/i);
    const payloads = Array.from({ length: 6 }, (_, i) => ({ n: i + 1, ms: 10 }));
    const { run, out } = await runWithWorker(f, 'frozen-end', payloads);
    await waitFor(() => run.child.exitCode !== null, HANG_MS, 'the run to end');
    const ended = await run.done;
    expect(f.frozenAt()).not.toBeNull();
    expect([ended.code, ended.signal]).toEqual([0, null]);
    expect(readResults(out)).toHaveLength(6);
    expect(ended.stderr).toContain(`Redis at 127.0.0.1:${f.tap.port} did not answer`);
    expect(ended.stderr).toContain('keys of queue frozen-end stay in Redis');
    expect(ended.stderr).not.toContain(PASSWORD);
  });
});
