// --auth-command: headers from a shell command, refreshed on a 401 (once for all requests that saw the same
// headers), on a timer with --auth-refresh, and kept secret. Against the fixture server's short-lived tokens.
import fs from 'node:fs';
import { Redis } from 'ioredis';
import path from 'node:path';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { runBatch } from '../src/index.js';
import { ndjsonFile, runCli, startCli, tmpDir, waitFor } from './helpers/cli.js';

let server: FixtureServer;
let dir: string;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  dir = tmpDir();
});

/** A command that notes each run in a file (one line per run) and prints a token valid `ttl` ms. */
function tokenCommand(ttl: number, runs = path.join(dir, 'runs')): string {
  return `echo run >> '${runs}'; curl -sf '${server.url}/auth/token?ttl=${ttl}'`;
}

const runsOf = (file = path.join(dir, 'runs')): number =>
  fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;

const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }));

function resultsOf(file: string): { id: string; ok: boolean; status: number; error: unknown }[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; ok: boolean; status: number; error: unknown });
}

function expectNoToken(...texts: string[]): void {
  expect(server.tokens.length).toBeGreaterThan(0);
  for (const token of server.tokens) for (const t of texts) expect(t).not.toContain(token);
}

describe('--auth-command', () => {
  test.each([['0'], ['2']])(
    'a run lasting over 5 s with 1.5-second tokens ends with no failure; the command ran again (--threads %s)',
    async (threads) => {
      const input = ndjsonFile(dir, payloads(30));
      const out = path.join(dir, 'out.ndjson');
      // 30 starts at 5/s: at least 5.8 s whatever the machine's speed, so tokens expire during the run.
      const r = await runCli(
        [
          'run',
          input,
          '--url',
          `${server.url}/auth/protected`,
          '--auth-command',
          tokenCommand(1500),
          '--rate',
          '5',
          '--threads',
          threads,
          '--out',
          out,
          '--progress',
          'none',
        ],
        { timeoutMs: 60_000 },
      );
      expect(r.stderr).not.toContain('[AUTH_COMMAND_FAILED]');
      expect(r.code).toBe(0);
      const results = resultsOf(out);
      expect(results).toHaveLength(30);
      expect(results.every((x) => x.ok && x.status === 200)).toBe(true);
      expect(runsOf()).toBeGreaterThan(1);
      expect(server.requests.some((q) => q.path === '/auth/protected' && q.headers.authorization)).toBe(true);
      expectNoToken(r.stdout, r.stderr, fs.readFileSync(out, 'utf8'));
    },
    90_000,
  );

  test.each([['0'], ['2']])(
    '64 requests answered 401 at once start one refresh (--threads %s)',
    async (threads) => {
      const runs = path.join(dir, 'runs');
      // The first run prints a token the server never issued: every request of the first wave gets a 401.
      const command = staleThenFresh(runs);
      const input = ndjsonFile(dir, payloads(64));
      const out = path.join(dir, 'out.ndjson');
      const r = await runCli([
        'run',
        input,
        '--url',
        `${server.url}/auth/protected`,
        '--auth-command',
        command,
        '-c',
        '64',
        '--threads',
        threads,
        '--out',
        out,
        '--progress',
        'none',
      ]);
      expect(r.code).toBe(0);
      expect(runsOf(runs)).toBe(2);
      expect(server.tokens).toHaveLength(1);
      const results = resultsOf(out);
      expect(results).toHaveLength(64);
      // The re-send after a 401 is part of the attempt, not a retry.
      expect(results.every((x) => x.ok && (x as unknown as { attempts: number }).attempts === 1)).toBe(true);
      const protectedCalls = server.requests.filter((q) => q.path === '/auth/protected');
      expect(protectedCalls.filter((q) => q.headers.authorization === 'Bearer stale-token')).toHaveLength(64);
      expect(protectedCalls).toHaveLength(128);
    },
    60_000,
  );

  test('--auth-refresh runs the command on a timer, without any 401', async () => {
    const input = ndjsonFile(dir, payloads(12));
    const out = path.join(dir, 'out.ndjson');
    // Tokens valid a minute: no answer is a 401, so every run past the first is the timer's. 12 at 5/s: ≥ 2.2 s.
    const r = await runCli(
      [
        'run',
        input,
        '--url',
        `${server.url}/auth/protected`,
        '--auth-command',
        tokenCommand(60_000),
        '--auth-refresh',
        '300ms',
        '--rate',
        '5',
        '--out',
        out,
        '--progress',
        'none',
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(0);
    expect(server.requests.filter((q) => q.path === '/auth/protected').every((q) => q.endedAt !== null)).toBe(true);
    expect(resultsOf(out).every((x) => x.ok)).toBe(true);
    expect(runsOf()).toBeGreaterThan(1);
  }, 60_000);

  test('its headers override -H headers of the same name; header lines and a bare token both work', async () => {
    const input = ndjsonFile(dir, payloads(1));
    const lines = `printf 'X-Tenant: acme\\nAuthorization: Bearer from-command\\n'`;
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '-H',
      'Authorization: Bearer from-flag',
      '-H',
      'X-Other: kept',
      '--auth-command',
      lines,
      '--progress',
      'none',
    ]);
    expect(r.code).toBe(0);
    const seen = server.requests[0]!.headers;
    expect(seen.authorization).toBe('Bearer from-command');
    expect(seen['x-tenant']).toBe('acme');
    expect(seen['x-other']).toBe('kept');
    expect(r.stderr).not.toContain('from-command');

    server.reset();
    const bare = await runCli(['run', input, '--url', `${server.url}/echo`, '--auth-command', 'echo abc123']);
    expect(bare.code).toBe(0);
    expect(server.requests[0]!.headers.authorization).toBe('Bearer abc123');
  });

  test('a failing command stops the run before anything is sent: AUTH_COMMAND_FAILED, exit 2, its stderr shown', async () => {
    const input = ndjsonFile(dir, payloads(3));
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/auth/protected`,
      '--auth-command',
      'echo "token service said no" >&2; exit 3',
      '--out',
      out,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[AUTH_COMMAND_FAILED]');
    expect(r.stderr).toContain('exited with code 3');
    expect(r.stderr).toContain('token service said no');
    expect(server.requests).toHaveLength(0);
    expect(fs.existsSync(out)).toBe(false);

    const empty = await runCli(['run', input, '--url', `${server.url}/echo`, '--auth-command', 'true']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/printed nothing.*\[AUTH_COMMAND_FAILED\]/);
  });

  test('a command failing mid-run stops it: the results written are kept and the continue command is printed', async () => {
    const runs = path.join(dir, 'runs');
    const command = `if [ -f '${runs}' ]; then echo "refresh refused" >&2; exit 1; fi; ${tokenCommand(1500, runs)}`;
    const input = ndjsonFile(dir, payloads(40));
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(
      [
        'run',
        input,
        '--url',
        `${server.url}/auth/protected`,
        '--auth-command',
        command,
        '--rate',
        '5',
        '--out',
        out,
        '--progress',
        'none',
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[AUTH_COMMAND_FAILED]');
    expect(r.stderr).toContain('refresh refused');
    expect(r.stderr).toContain('--resume');
    const results = resultsOf(out);
    expect(results.length).toBeLessThan(40);
    // The request whose refresh failed is not recorded: --resume sends it again.
    expect(results.every((x) => x.ok)).toBe(true);
    expectNoToken(r.stdout, r.stderr, fs.readFileSync(out, 'utf8'));
  }, 60_000);

  test('--dry-run does not run the command; the token appears nowhere', async () => {
    const input = ndjsonFile(dir, payloads(2));
    const runs = path.join(dir, 'runs');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/auth/protected`,
      '--auth-command',
      tokenCommand(60_000, runs),
      '--dry-run',
    ]);
    expect(r.code).toBe(0);
    expect(runsOf(runs)).toBe(0);
    expect(r.stderr).toContain('--auth-command was not run');
    expect(r.stdout).not.toMatch(/authorization/i);
  });

  test('--auth-refresh without --auth-command is a usage error', async () => {
    const r = await runCli(['run', '-', '--url', `${server.url}/echo`, '--auth-refresh', '1m'], { stdin: '{}\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[USAGE]');
  });
});

/** A command whose first run prints a token the server never issued, and every later run a valid one. */
function staleThenFresh(runs: string): string {
  return `if [ -f '${runs}' ]; then ${tokenCommand(60_000, runs)}; else echo run >> '${runs}'; echo stale-token; fi`;
}

describe('--auth-command in serve and worker', () => {
  test("serve: upstream calls carry the command's headers; a 401 refreshes them once", async () => {
    const runs = path.join(dir, 'runs');
    const { child, done } = startCli([
      'serve',
      '--url',
      `${server.url}/auth/protected`,
      '--port',
      '0',
      '--auth-command',
      staleThenFresh(runs),
    ]);
    try {
      let seen = '';
      child.stderr!.on('data', (d: Buffer | string) => (seen += String(d)));
      await waitFor(() => /serving on (http:\/\/\S+)/.test(seen) || child.exitCode !== null, 15_000, 'serve');
      const url = /serving on (http:\/\/\S+)/.exec(seen)![1]!;
      const res = await fetch(`${url}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payloads(10)),
      });
      const answer = (await res.json()) as { results: { ok: boolean }[] };
      expect(answer.results).toHaveLength(10);
      expect(answer.results.every((x) => x.ok)).toBe(true);
      expect(runsOf(runs)).toBe(2);
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code).toBe(0);
      expectNoToken(r.stderr, r.stdout, JSON.stringify(answer));
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  test('serve: a command that fails at the start stops it with AUTH_COMMAND_FAILED (exit 2)', async () => {
    const r = await runCli([
      'serve',
      '--url',
      `${server.url}/auth/protected`,
      '--port',
      '0',
      '--auth-command',
      'echo "no credentials here" >&2; exit 7',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[AUTH_COMMAND_FAILED]');
    expect(r.stderr).toContain('no credentials here');
  });

  test('worker: each worker runs the command itself (the run does not); a 401 refreshes it', async () => {
    const runs = path.join(dir, 'runs');
    const queue = `auth-${process.pid}-${Date.now()}`;
    const input = ndjsonFile(dir, payloads(20));
    const out = path.join(dir, 'out.ndjson');
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const run = startCli(
      [
        'run',
        input,
        '--url',
        `${server.url}/auth/protected`,
        '--auth-command',
        staleThenFresh(runs),
        '--queue',
        redisUrl,
        '--queue-name',
        queue,
        '--out',
        out,
        '--progress',
        'none',
      ],
      { timeoutMs: 60_000 },
    );
    run.child.stdin!.end();
    let worker: ReturnType<typeof startCli> | null = null;
    try {
      // The run itself never runs the command: nothing is counted before a worker starts.
      await waitFor(() => server.requests.length === 0 && fs.existsSync(out), 15_000, 'the run to queue');
      expect(runsOf(runs)).toBe(0);
      worker = startCli(['worker', '--queue', redisUrl, '--queue-name', queue], { timeoutMs: 60_000 });
      const r = await run.done;
      expect(r.stderr).not.toContain('[AUTH_COMMAND_FAILED]');
      expect(r.code).toBe(0);
      const results = resultsOf(out);
      expect(results).toHaveLength(20);
      expect(results.every((x) => x.ok)).toBe(true);
      expect(runsOf(runs)).toBe(2);
      worker.child.kill('SIGTERM');
      const w = await worker.done;
      expectNoToken(r.stdout, r.stderr, w.stderr, fs.readFileSync(out, 'utf8'));
    } finally {
      run.child.kill('SIGKILL');
      worker?.child.kill('SIGKILL');
    }
  }, 90_000);
});

test('worker: a command that fails stops the worker with AUTH_COMMAND_FAILED and its stderr (exit 1)', async () => {
  const queue = `auth-fail-${process.pid}-${Date.now()}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const input = ndjsonFile(dir, payloads(3));
  const out = path.join(dir, 'out.ndjson');
  const command = 'echo "vault is sealed" >&2; exit 4';
  const run = startCli(
    ['run', input, '--url', `${server.url}/auth/protected`, '--auth-command', command, '--queue', redisUrl].concat([
      '--queue-name',
      queue,
      '--out',
      out,
      '--progress',
      'none',
    ]),
    { timeoutMs: 60_000 },
  );
  run.child.stdin!.end();
  const redis = new Redis(redisUrl);
  try {
    await waitFor(() => fs.existsSync(out), 15_000, 'the run to queue');
    const w = await runCli(['worker', '--queue', redisUrl, '--queue-name', queue], { timeoutMs: 30_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('[AUTH_COMMAND_FAILED]');
    expect(w.stderr).toContain('vault is sealed');
    expect(server.requests).toHaveLength(0);
  } finally {
    run.child.kill('SIGKILL');
    await run.done;
    const keys = await redis.keys(`batchpost:${queue}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.hdel('batchpost:bp-runs', queue);
    redis.disconnect();
  }
}, 60_000);

describe('authCommand in the library (runBatch)', () => {
  test('runs the command before the first request and again on a 401', async () => {
    const runs = path.join(dir, 'runs');
    const run = runBatch(payloads(8), {
      url: `${server.url}/auth/protected`,
      authCommand: staleThenFresh(runs),
      concurrency: 8,
    });
    const results = [];
    for await (const r of run) results.push(r);
    expect(results).toHaveLength(8);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(runsOf(runs)).toBe(2);
  });

  test('a failing command: summary() rejects with AUTH_COMMAND_FAILED and nothing is sent', async () => {
    const run = runBatch(payloads(3), { url: `${server.url}/echo`, authCommand: 'echo nope >&2; exit 1' });
    await expect(run.summary()).rejects.toMatchObject({ code: 'AUTH_COMMAND_FAILED' });
    expect(server.requests).toHaveLength(0);
  });
});
