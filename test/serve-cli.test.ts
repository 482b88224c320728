// `batchpost serve` as a user runs it: the built CLI as a child process (run `npm run build` first), its ready
// line and per-batch log lines on stderr, graceful SIGTERM in the middle of a batch (the batch completes, new
// connections are refused, exit 0), a second signal aborting, and the usage errors that stop it from starting.
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { freePort, startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { runCli, startCli, waitFor } from './helpers/cli.js';

let fx: FixtureServer;

beforeAll(async () => {
  fx = await startFixtureServer();
});
afterAll(async () => {
  await fx.close();
});
beforeEach(() => fx.reset());

/** Resolves with the URL of the ready line ("batchpost: serving on http://…"), within 10 s. */
function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within 10 s; stderr so far:\n${seen}`)), 10_000);
    child.stderr!.on('data', (d: Buffer | string) => {
      seen += String(d);
      const m = /serving on (http:\/\/\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`serve exited before its ready line; stderr:\n${seen}`)));
  });
}

/** POST /batch's JSON answer: the parts these tests read. */
interface BatchAnswer {
  results: { id: string; ok: boolean }[];
  summary: { total: number; ok: number; failed: number };
}

async function post(url: string, body: unknown) {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as BatchAnswer };
}

describe('batchpost serve (the CLI)', () => {
  it('prints a ready line, answers batches and logs one line per batch on stderr; SIGINT stops it with 0', async () => {
    const { child, done } = startCli(['serve', '--url', `${fx.url}/echo`, '--port', '0', '--concurrency', '4']);
    const url = await readyUrl(child);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await request(`${url}/healthz`);
    expect([health.statusCode, await health.body.json()]).toEqual([
      200,
      { status: 'ok', batchesInFlight: 0, itemsInFlight: 0 },
    ]);
    const answer = await post(`${url}/batch`, [{ n: 1 }, { n: 2 }]);
    expect(answer.status).toBe(200);
    expect(answer.json.results.map((r) => [r.id, r.ok])).toEqual([
      ['1', true],
      ['2', true],
    ]);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/serving on http:\/\/127\.0\.0\.1:\d+ → .*\/echo .*max 4 in flight/);
    expect(result.stderr).toMatch(/127\.0\.0\.1 POST \/batch 200 in [\d.]+ms: 2 items, 2 ok, 0 failed/);
    expect(result.stdout).toBe('');
  });

  it('--quiet: no line per batch', async () => {
    const { child, done } = startCli(['serve', '--url', `${fx.url}/echo`, '--port', '0', '--quiet']);
    const url = await readyUrl(child);
    await post(`${url}/batch`, [{ n: 1 }]);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/POST \/batch 200/);
  });

  it('SIGTERM mid-batch: the batch in progress completes, new connections are refused, then exit 0', async () => {
    const { child, done } = startCli(['serve', '--url', `${fx.url}/echo?ms={{ ms }}`, '--port', '0']);
    const url = await readyUrl(child);
    const pending = post(`${url}/batch`, [{ ms: 2000 }, { ms: 2000 }, { ms: 0 }]);
    await waitFor(() => fx.requests.length === 3, 10_000, 'the items to reach the upstream');
    child.kill('SIGTERM');
    // Refused as soon as the signal is handled: poll (bounded) for a refused connection.
    let refused = false;
    const end = Date.now() + 5_000;
    while (!refused && Date.now() < end) {
      refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
        socket.on('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
      });
      if (!refused) await new Promise((r) => setTimeout(r, 20));
    }
    expect(refused).toBe(true);
    const stillInFlight = fx.requests.filter((r) => r.endedAt === null).length;
    expect(stillInFlight).toBe(2); // refused while the batch was still being worked on
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.json.summary).toMatchObject({ total: 3, ok: 3, failed: 0 });
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/SIGTERM: stopping — no new connections; 1 batch in progress will finish/);
    expect(result.stderr).toMatch(/POST \/batch 200 .*3 items, 3 ok/);
    expect(result.stderr).toMatch(/batchpost: stopped\n$/);
  });

  it('a second signal aborts the items in flight and exits 130', async () => {
    const { child, done } = startCli(['serve', '--url', `${fx.url}/hang`, '--port', '0']);
    const url = await readyUrl(child);
    const pending = post(`${url}/batch`, [{ a: 1 }]).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor(() => fx.requests.length === 1, 10_000, 'the item to reach the upstream');
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.kill('SIGTERM');
    await waitFor(() => /stopping/.test(stderr), 10_000, 'the first signal to be handled');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/SIGTERM again: aborting/);
    expect(await pending).toBe('cut');
  });

  describe('refuses to start (exit 2) and says why', () => {
    it.each([
      [['--url', 'http://{{ host }}/orders'], /serve needs a fixed origin .*\[USAGE\]/],
      [['--url', 'not a url'], /not an absolute URL/],
      [['--url', 'http://127.0.0.1:9/x', '--max-bytes', 'lots'], /--max-bytes "lots": expected a size/],
      [['--url', 'http://127.0.0.1:9/x', '--port', '70000'], /--port "70000"/],
      [['--url', 'http://127.0.0.1:9/x', '--inherit-header', 'Content-Type'], /never passed on/],
      [['--url', 'http://127.0.0.1:9/x', '--concurrency', '0'], /--concurrency "0"/],
      [[], /required option '-u, --url <url>'/],
    ])('serve %j', async (args, message) => {
      const result = await runCli(['serve', ...args, ...(args.includes('--port') ? [] : ['--port', '0'])], {
        timeoutMs: 10_000,
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/serving on/);
    });

    it('a port in use: LISTEN_FAILED', async () => {
      const port = await freePort();
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
      try {
        const result = await runCli(['serve', '--url', `${fx.url}/echo`, '--port', String(port)], {
          timeoutMs: 10_000,
        });
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(
          new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use \\[LISTEN_FAILED\\]`),
        );
      } finally {
        await new Promise<void>((r) => blocker.close(() => r()));
      }
    });
  });
});
