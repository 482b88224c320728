// serve --jobs when things go wrong: cancel mid-run, an expired window, kill -9 of serve or of a worker
// mid-batch, Redis stopped and restarted under a running batch. Every custom_id ends up exactly once in the
// output and error files.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { jest } from '@jest/globals';
import { request } from 'undici';
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { startCli, tmpDir, waitFor } from './helpers/cli.js';
import {
  API_KEY,
  chatLine,
  fileLines,
  jobsSetup,
  pollBatch,
  REDIS_URL,
  startServe,
  stopServe,
  type OutLine,
  type Serve,
} from './helpers/jobs.js';

jest.setTimeout(150_000);

let fx: FixtureServer;
const started: Serve[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  fx = await startFixtureServer();
});
afterAll(async () => {
  for (const s of started) await stopServe(s);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await fx.close();
});
beforeEach(() => fx.reset());

const chatCalls = () => fx.requests.filter((r) => r.path === '/v1/chat/completions');
const answered = () => chatCalls().filter((r) => r.endedAt !== null).length;

async function serveWith(setup: ReturnType<typeof jobsSetup>, extra: string[], redisUrl?: string): Promise<Serve> {
  const s = await startServe(setup, fx.url, extra, redisUrl);
  started.push(s);
  return s;
}

async function submit(s: Serve, lines: string[], window = '24h'): Promise<string> {
  const setupDir = fs.mkdtempSync(path.join(tmpDir(), 'in-'));
  const file = path.join(setupDir, 'input.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const f = await s.client.files.create({ file: fs.createReadStream(file), purpose: 'batch' });
  const b = await s.client.batches.create({
    input_file_id: f.id,
    endpoint: '/v1/chat/completions',
    completion_window: window as '24h',
  });
  return b.id;
}

function expectOnce(lines: OutLine[], ids: string[]): void {
  expect(lines.map((l) => l.custom_id).sort()).toEqual([...ids].sort());
}

const slowLines = (n: number, ms: number, prefix = 'r') =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, `${prefix} ${i}`, `slow-${ms}`));

describe('serve --jobs: cancel and expiry', () => {
  it('cancel mid-run: cancelling, then cancelled with the lines answered so far; nothing more is sent', async () => {
    const s = await serveWith(jobsSetup(), ['--concurrency', '2']);
    const id = await submit(s, slowLines(60, 150));
    await waitFor(() => answered() >= 6, 30_000, 'some lines answered');
    const c = await s.client.batches.cancel(id);
    expect(['cancelling', 'cancelled']).toContain(c.status);
    const done = await pollBatch(s.client, id, (b) => b.status === 'cancelled');
    const out = await fileLines(s.client, done.output_file_id);
    expect(done.request_counts!.completed).toBe(out.length);
    expect(out.length).toBeGreaterThanOrEqual(6);
    expect(out.length).toBeLessThan(60);
    expect(new Set(out.map((l) => l.custom_id)).size).toBe(out.length);
    expect(done.cancelled_at).toEqual(expect.any(Number));
    const sent = chatCalls().length;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(chatCalls().length).toBe(sent);
    await expect(s.client.batches.cancel(id)).resolves.toMatchObject({ status: 'cancelled' });
  });

  it('an expired window: expired, answered lines kept, the rest in the error file as batch_expired', async () => {
    const s = await serveWith(jobsSetup(), ['--concurrency', '1']);
    const lines = slowLines(80, 100, 'e');
    const id = await submit(s, lines, '2s');
    const done = await pollBatch(s.client, id, (b) => b.status === 'expired', 60_000);
    const out = await fileLines(s.client, done.output_file_id);
    const err = await fileLines(s.client, done.error_file_id);
    expectOnce(
      [...out, ...err],
      lines.map((_, i) => `e-${i}`),
    );
    expect(out.length).toBeGreaterThan(0);
    expect(err.length).toBeGreaterThan(0);
    expect(err.every((l) => l.error?.code === 'batch_expired' && l.response === null)).toBe(true);
    expect(done.expired_at).toEqual(expect.any(Number));
  });
});

describe('serve --jobs: kill -9 and restarts', () => {
  it('kill -9 of serve mid-batch: a restarted serve completes it, every custom_id exactly once', async () => {
    const setup = jobsSetup();
    const args = ['--concurrency', '4', '--stall-timeout', '2s'];
    const s1 = await serveWith(setup, args);
    const lines = slowLines(120, 50, 'k');
    const id = await submit(s1, lines);
    await waitFor(() => answered() >= 20, 30_000, '20 lines answered');
    s1.child.kill('SIGKILL');
    await s1.done;
    const s2 = await serveWith(setup, args);
    const done = await pollBatch(s2.client, id, (b) => b.status === 'completed', 90_000);
    expect(done.request_counts).toEqual({ total: 120, completed: 120, failed: 0 });
    const out = await fileLines(s2.client, done.output_file_id);
    expectOnce(
      out,
      lines.map((_, i) => `k-${i}`),
    );
    expect(done.error_file_id).toBeNull();
    // At most the lines in flight at the kill (--concurrency) were sent twice.
    expect(chatCalls().length).toBeLessThanOrEqual(120 + 4 + 50);
  });

  it('a worker killed mid-batch and two batches sharing workers: both complete, exactly once', async () => {
    const setup = jobsSetup();
    const s = await serveWith(setup, ['--concurrency', '2', '--stall-timeout', '2s']);
    const workerArgs = ['worker', '--queue', REDIS_URL, '--jobs-namespace', setup.namespace, '--stall-timeout', '2s'];
    const w1 = startCli([...workerArgs, '--concurrency', '3'], { timeoutMs: 120_000 });
    const w2 = startCli([...workerArgs, '--concurrency', '3'], { timeoutMs: 120_000 });
    children.push(w1.child, w2.child);
    let w1Seen = '';
    w1.child.stderr!.on('data', (d: Buffer | string) => (w1Seen += String(d)));
    const w1Log = () => w1Seen;
    const big = slowLines(400, 100, 'big');
    const small = slowLines(10, 40, 'small');
    const bigId = await submit(s, big);
    await waitFor(() => answered() >= 10, 30_000, 'the big batch under way');
    const smallId = await submit(s, small);
    const smallDone = await pollBatch(s.client, smallId, (b) => b.status === 'completed', 60_000);
    const bigNow = await s.client.batches.retrieve(bigId);
    // The small batch did not wait for the big one.
    expect(bigNow.status).toBe('in_progress');
    expectOnce(
      await fileLines(s.client, smallDone.output_file_id),
      small.map((_, i) => `small-${i}`),
    );
    await waitFor(() => w1Log().includes(`sending lines of ${bigId}`), 30_000, 'worker 1 sending the big batch');
    w1.child.kill('SIGKILL');
    const bigDone = await pollBatch(s.client, bigId, (b) => b.status === 'completed', 90_000);
    expectOnce(
      await fileLines(s.client, bigDone.output_file_id),
      big.map((_, i) => `big-${i}`),
    );
    w2.child.kill('SIGTERM');
    expect((await w2.done).code).toBe(0);
  });
});

describe('serve --jobs: Redis away', () => {
  let redis: ChildProcess | null = null;
  afterAll(() => {
    if (redis !== null && redis.exitCode === null) redis.kill('SIGKILL');
  });

  async function startRedis(port: number, dir: string): Promise<ChildProcess> {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
      {
        stdio: 'ignore',
      },
    );
    const end = Date.now() + 10_000;
    for (;;) {
      const up = await new Promise<boolean>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.end();
          resolve(true);
        });
        sock.on('error', () => resolve(false));
      });
      if (up) return child;
      if (Date.now() > end) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('answers 503 JSON while Redis is stopped, never crashes, and completes the batch once it is back', async () => {
    const port = await freePort();
    const dir = tmpDir();
    redis = await startRedis(port, dir);
    const url = `redis://127.0.0.1:${port}`;
    const s = await serveWith(jobsSetup(), ['--concurrency', '2', '--stall-timeout', '2s'], url);
    const lines = slowLines(60, 50, 'x');
    const id = await submit(s, lines);
    await waitFor(() => answered() >= 8, 30_000, 'some lines answered');
    redis.kill('SIGTERM'); // a clean shutdown writes the append-only file
    await new Promise((r) => redis!.once('exit', r));
    const res = await request(`${s.url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const body = (await res.body.json()) as { error: { code: string } };
    expect([res.statusCode, body.error.code]).toEqual([503, 'JOBS_UNAVAILABLE']);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(s.child.exitCode).toBeNull();
    redis = await startRedis(port, dir);
    const done = await pollBatch(s.client, id, (b) => b.status === 'completed', 90_000);
    expectOnce(
      await fileLines(s.client, done.output_file_id),
      lines.map((_, i) => `x-${i}`),
    );
    await stopServe(s);
  });
});
