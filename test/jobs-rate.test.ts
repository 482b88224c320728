// serve --jobs --rate is one rate for every sender: serve's own and each `batchpost worker` on the namespace, all
// together, measured where it matters, at the upstream (the fixture server's arrival times).
import fs from 'node:fs';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { startCli, waitFor } from './helpers/cli.js';
import {
  chatLine,
  fileLines,
  jobsSetup,
  pollBatch,
  REDIS_URL,
  startServe,
  stopServe,
  writeInput,
  type Serve,
} from './helpers/jobs.js';

let fx: FixtureServer;
let serve: Serve | null = null;
const workers: ReturnType<typeof startCli>[] = [];

beforeAll(async () => {
  fx = await startFixtureServer();
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await stopServe(serve);
  await fx.close();
});

/** The most arrivals within any `windowMs` (arrival times sorted). */
function busiestWindow(starts: number[], windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let i = 0; i < starts.length; i++) {
    while (starts[i]! - starts[from]! >= windowMs) from++;
    most = Math.max(most, i - from + 1);
  }
  return most;
}

test('--rate caps the lines per second at the upstream across serve and two workers together', async () => {
  const RATE = 20;
  const LINES = 90;
  const setup = jobsSetup();
  // Each sender alone could go at 4 lines in flight / 0.2 s = 20/s: three senders pacing themselves would reach
  // 60/s, a limiter counting jobs of several lines more still.
  serve = await startServe(setup, fx.url, ['--rate', `${RATE}/s`, '--concurrency', '4', '--stall-timeout', '5s']);
  const logs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const w = startCli(['worker', '--queue', REDIS_URL, '--jobs-namespace', setup.namespace], { timeoutMs: 120_000 });
    workers.push(w);
    logs.push('');
    w.child.stderr!.on('data', (d: Buffer | string) => (logs[i] += String(d)));
  }
  await waitFor(() => logs.every((l) => l.includes('serving every run')), 20_000, 'both workers ready');
  const lines = Array.from({ length: LINES }, (_, i) => chatLine(`r-${i}`, `r ${i}`, 'slow-200'));
  const { client } = serve;
  const file = await client.files.create({ file: fs.createReadStream(writeInput(setup, lines)), purpose: 'batch' });
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  const done = await pollBatch(client, batch.id, (b) => b.status === 'completed', 60_000);
  expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
  expect(await fileLines(client, done.output_file_id)).toHaveLength(LINES);

  const starts = fx.requests
    .filter((r) => r.path === '/v1/chat/completions')
    .map((r) => r.startedAt)
    .sort((a, b) => a - b);
  expect(starts).toHaveLength(LINES);
  // Never more than the rate allows: a busy machine can bunch arrivals a little (a few held back, then let go
  // together), never make the upstream see half as much again for a whole second.
  expect(busiestWindow(starts, 1_000)).toBeLessThanOrEqual(RATE * 1.5 + 5);
  // And overall: 90 lines at 20/s take at least 4.45 s from the first start to the last (80 % of it allowed).
  expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(((LINES - 1) / RATE) * 1000 * 0.8);
  // Every sender took part: each logs the batches it sends lines of.
  for (const log of logs) expect(log).toContain(`sending lines of ${batch.id}`);
  expect(serve.stderr()).toContain(`sending lines of ${batch.id}`);
}, 90_000);
