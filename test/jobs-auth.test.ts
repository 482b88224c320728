// serve --jobs --auth-command: every sender of the namespace (serve's own and each `batchpost worker`) runs the
// command itself and adds its headers to every line, refreshed on a 401 and on --auth-refresh's timer, as `run`
// does; the command's output is never written anywhere. Against the fixture server's short-lived tokens.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { startCli, tmpDir, waitFor, type CliResult } from './helpers/cli.js';
import {
  fileLines,
  jobsSetup,
  pollBatch,
  REDIS_URL,
  startServe,
  stopServe,
  writeInput,
  type JobsSetup,
  type Serve,
} from './helpers/jobs.js';

let fx: FixtureServer;
let redis: Redis;
const serves: Serve[] = [];
const workers: ReturnType<typeof startCli>[] = [];

beforeAll(async () => {
  fx = await startFixtureServer();
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  for (const s of serves) await stopServe(s);
  redis.disconnect();
  await fx.close();
});
beforeEach(() => fx.reset());

/** Notes who ran it ($BP_WHO, one line per run) and prints a token valid `ttl` ms; the worker's fails if asked. */
function tokenCommand(runs: string, ttl: number, workerFails = false): string {
  const fail = workerFails ? `[ "$BP_WHO" = worker ] && { echo 'token service said no' >&2; exit 3; }; ` : '';
  return `echo "$BP_WHO" >> '${runs}'; ${fail}curl -sf '${fx.url}/auth/token?ttl=${ttl}'`;
}

const runsBy = (runs: string, who: string): number =>
  fs.existsSync(runs)
    ? fs
        .readFileSync(runs, 'utf8')
        .split('\n')
        .filter((l) => l === who).length
    : 0;

const protectedCalls = () => fx.requests.filter((r) => r.path === '/auth/protected');

interface Started {
  setup: JobsSetup;
  serve: Serve;
  worker: ReturnType<typeof startCli>;
  workerLog: () => string;
}

async function startBoth(extra: string[]): Promise<Started> {
  const setup = jobsSetup();
  const serve = await startServe(setup, fx.url, extra, REDIS_URL, { BP_WHO: 'serve' });
  serves.push(serve);
  const worker = startCli(['worker', '--queue', REDIS_URL, '--jobs-namespace', setup.namespace], {
    timeoutMs: 120_000,
    env: { BP_WHO: 'worker' },
  });
  workers.push(worker);
  let log = '';
  worker.child.stderr!.on('data', (d: Buffer | string) => (log += String(d)));
  await waitFor(() => log.includes('serving every run'), 20_000, 'the worker ready');
  return { setup, serve, worker, workerLog: () => log };
}

async function submit(s: Started, n: number): Promise<string> {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `a-${i}`, method: 'POST', url: '/auth/protected', body: { n: i } }),
  );
  const input = writeInput(s.setup, lines);
  const file = await s.serve.client.files.create({ file: fs.createReadStream(input), purpose: 'batch' });
  const batch = await s.serve.client.batches.create({
    input_file_id: file.id,
    endpoint: '/auth/protected' as '/v1/chat/completions', // any path on --url; the SDK's type lists OpenAI's
    completion_window: '24h',
  });
  return batch.id;
}

/** Every text a token could leak to: result files, --data-dir, both processes' output, the namespace in Redis. */
async function expectNoToken(s: Started, batchId: string, w: CliResult): Promise<void> {
  expect(fx.tokens.length).toBeGreaterThan(0);
  const texts = [s.serve.stderr(), w.stdout, w.stderr];
  const done = await s.serve.client.batches.retrieve(batchId);
  for (const id of [done.output_file_id, done.error_file_id])
    texts.push(JSON.stringify(await fileLines(s.serve.client, id)));
  const files = path.join(s.setup.dataDir, 'files');
  for (const f of fs.readdirSync(files)) texts.push(fs.readFileSync(path.join(files, f), 'utf8'));
  for (const key of await redis.keys(`batchpost:jobs:${s.setup.namespace}:*`)) {
    const type = await redis.type(key);
    if (type === 'hash') texts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'string') texts.push((await redis.get(key)) ?? '');
    else if (type === 'zset') texts.push((await redis.zrange(key, '0', '-1')).join('\n'));
  }
  // Workers learn the command itself from the published config, never what it printed.
  expect(await redis.hget(`batchpost:jobs:${s.setup.namespace}:config`, 'json')).toContain('/auth/token');
  for (const token of fx.tokens) for (const t of texts) expect(t).not.toContain(token);
}

async function stopWorker(w: ReturnType<typeof startCli>): Promise<CliResult> {
  w.child.kill('SIGTERM');
  return w.done;
}

describe('serve --jobs --auth-command', () => {
  it('every sender adds the headers and refreshes them on a 401: 1.5-second tokens, a batch of over 4 s', async () => {
    const runs = path.join(tmpDir(), 'runs');
    // 40 lines at 9/s: at least 4.3 s, whatever the machine's speed, so every token expires during the batch.
    const s = await startBoth(['--auth-command', tokenCommand(runs, 1500), '--rate', '9/s', '--concurrency', '2']);
    const id = await submit(s, 40);
    const done = await pollBatch(s.serve.client, id, (b) => b.status === 'completed', 60_000);
    expect(done.request_counts).toEqual({ total: 40, completed: 40, failed: 0 });
    const out = await fileLines(s.serve.client, done.output_file_id);
    expect(out.every((l) => l.response?.status_code === 200)).toBe(true);
    // Tokens expired under the senders (401s seen), and each refreshed with its own run of the command.
    expect(protectedCalls().some((r) => r.headers.authorization === undefined)).toBe(false);
    expect(protectedCalls().length).toBeGreaterThan(40);
    expect(runsBy(runs, 'serve')).toBeGreaterThanOrEqual(2);
    expect(runsBy(runs, 'worker')).toBeGreaterThanOrEqual(1);
    expect(s.workerLog()).toContain(`sending lines of ${id}`);
    const w = await stopWorker(s.worker);
    expect(w.code).toBe(0);
    await expectNoToken(s, id, w);
  }, 90_000);

  it('--auth-refresh: each sender runs the command on its timer too, so long-lived tokens never see a 401', async () => {
    const runs = path.join(tmpDir(), 'runs');
    const auth = ['--auth-command', tokenCommand(runs, 60_000), '--auth-refresh', '1s'];
    const s = await startBoth([...auth, '--rate', '10/s', '--concurrency', '2']);
    const before = runsBy(runs, 'worker');
    const id = await submit(s, 40);
    const done = await pollBatch(s.serve.client, id, (b) => b.status === 'completed', 60_000);
    expect(done.request_counts).toEqual({ total: 40, completed: 40, failed: 0 });
    expect(protectedCalls()).toHaveLength(40);
    // The batch lasts at least 3.9 s: the worker's timer ran the command again meanwhile.
    expect(runsBy(runs, 'worker')).toBeGreaterThanOrEqual(before + 2);
    const w = await stopWorker(s.worker);
    expect(w.code).toBe(0);
    await expectNoToken(s, id, w);
  }, 90_000);

  it("a worker whose command fails stops with AUTH_COMMAND_FAILED (exit 1); serve's sender finishes the batch", async () => {
    const runs = path.join(tmpDir(), 'runs');
    const s = await startBoth(['--auth-command', tokenCommand(runs, 60_000, true)]);
    const w = await s.worker.done;
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('[AUTH_COMMAND_FAILED]');
    expect(w.stderr).toContain('token service said no');
    const id = await submit(s, 10);
    const done = await pollBatch(s.serve.client, id, (b) => b.status === 'completed', 60_000);
    expect(done.request_counts).toEqual({ total: 10, completed: 10, failed: 0 });
  }, 60_000);
});
