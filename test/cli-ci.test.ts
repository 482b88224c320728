// Exit codes CI can trust: expressions checked before anything is read or sent, --dry-run as a gate, the summary
// of a resumed run covering the whole results file, --fail-on counts and shares, and an early stop when the
// target cannot be reached at all.
import fs from 'node:fs';
import path from 'node:path';
import { freePort, startFixtureServer } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, payloads, readResults, runCli, THREAD_MODES, tmpDir } from './helpers/cli.js';

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

/** A results file as an earlier run left it: ids 1..n, the first `failed` of them failed. */
function resultsFile(n: number, failed: number): string {
  const file = path.join(dir, 'results.ndjson');
  const lines = payloads(n).map((_, i) => {
    const ok = i >= failed;
    const error = ok ? null : { code: 'HTTP_500', message: 'status 500' };
    return JSON.stringify({ id: String(i + 1), ok, status: ok ? 200 : 500, attempts: 1, error });
  });
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('expressions compile before anything is read or sent', () => {
  test('an unclosed {{ in --url is refused with the option and the column; nothing is sent', async () => {
    const file = ndjsonFile(
      dir,
      payloads(5, (i) => ({ customer: { id: i } })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/orders/{{ customer.id`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--url .*unclosed \{\{ at column \d+/);
    expect(server.requests).toHaveLength(0);
  });

  test.each([
    ['--expect', 'status =='],
    ['--transform', 'body.['],
    ['--serialize-by', 'a..b'],
    ['--id-field', '[['],
    ['--body', '{a: }'],
    ['--header', 'X-Id: {{ id'],
  ])('%s %s: exit 2 naming the option and a column, results file untouched', async (option, value) => {
    const file = ndjsonFile(dir, payloads(3));
    const out = resultsFile(3, 1);
    const before = fs.readFileSync(out, 'utf8');
    for (const threads of ['0', '2']) {
      const r = await runCli([
        'run',
        file,
        '--url',
        `${server.url}/echo`,
        '--out',
        out,
        '--retry-failed',
        '--threads',
        threads,
        option,
        value,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(option === '--header' ? '--header X-Id' : option);
      expect(r.stderr).toMatch(/column \d+/);
      expect(r.stderr).toContain('[USAGE]');
    }
    expect(server.requests).toHaveLength(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(before);
  });

  test('--rerun-where that does not compile leaves the results file as it was', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const out = resultsFile(3, 1);
    const before = fs.readFileSync(out, 'utf8');
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out, '--rerun-where', 'status >']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rerun-where .*column \d+/);
    expect(fs.readFileSync(out, 'utf8')).toBe(before);
  });
});

describe('--dry-run is a gate', () => {
  test('250 payloads without a value for the template: a bounded sample, counts, exit 2', async () => {
    const file = ndjsonFile(
      dir,
      payloads(250, (i) => ({ n: i })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/users/{{ user }}`, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').length).toBeLessThan(15);
    expect(r.stderr).toMatch(/TEMPLATE_ERROR: 250 payloads/);
    expect(r.stderr).toMatch(/247 more/);
    expect(server.requests).toHaveLength(0);
  });

  test('every payload is checked: duplicate and missing ids past the first are counted, exit 2', async () => {
    const ids = [1, 2, 2, 3, null, 3, 4, null];
    const file = ndjsonFile(
      dir,
      ids.map((id) => (id === null ? {} : { id })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--id-field', 'id', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DUPLICATE_ID: 2 payloads/);
    expect(r.stderr).toMatch(/MISSING_ID: 2 payloads/);
    expect(r.stderr).toMatch(/8 payloads read/);
  });

  test('all valid: exit 0 and the first requests on stdout', async () => {
    const file = ndjsonFile(
      dir,
      payloads(12, (i) => ({ user: `u${i}` })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/users/{{ user }}`, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    expect(r.stderr).toMatch(/12 payloads read, 12 would be sent/);
  });
});

describe('resume: the summary and exit code cover the whole results file', () => {
  test('--resume of a finished file with 35 failures: exit 1, 65 ok, 35 failed, 0 sent now', async () => {
    const file = ndjsonFile(dir, payloads(100));
    const out = resultsFile(100, 35);
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out, '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/65 ok/);
    expect(r.stderr).toMatch(/35 failed \(HTTP_500 35\)/);
    expect(r.stderr).toMatch(/sent now\s+0/);
    expect(server.requests).toHaveLength(0);
  });

  test('--retry-failed that fixes every failure: exit 0, 100 ok, 35 sent now', async () => {
    const file = ndjsonFile(dir, payloads(100));
    const out = resultsFile(100, 35);
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out, '--retry-failed']);
    expect(r.code).toBe(0);
    const summary = r.stderr.slice(r.stderr.indexOf('100 ok'));
    expect(summary).toMatch(/^100 ok/);
    expect(summary).not.toMatch(/failed/);
    expect(summary).toMatch(/sent now\s+35 \(35 ok\)/);
  });

  test('--fail-on applies to the whole file after --resume', async () => {
    const file = ndjsonFile(dir, payloads(100));
    const out = resultsFile(100, 35);
    const args = ['run', file, '--url', `${server.url}/echo`, '--out', out, '--resume', '--fail-on'];
    expect((await runCli([...args, '40%'])).code).toBe(0);
    const r = await runCli([...args, '30%']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('35 failed (35%) > --fail-on 30%');
  });
});

describe('--fail-on', () => {
  const run = async (failing: number, failOn: string) => {
    const file = ndjsonFile(
      dir,
      payloads(100, (i) => ({ code: i <= failing ? 500 : 200 })),
    );
    return runCli(['run', file, '--url', `${server.url}/status/{{ code }}`, '--retries', '0', '--fail-on', failOn]);
  };

  test('a bare number is a count of failures tolerated; past it, exit 1 names the threshold', async () => {
    const over = await run(12, '10');
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('12 failed > --fail-on 10');
    expect((await run(10, '10')).code).toBe(0);
  });

  test('N% is a share', async () => {
    expect((await run(12, '12%')).code).toBe(0);
    const over = await run(13, '12%');
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('13 failed (13%) > --fail-on 12%');
  });
});

describe('an unreachable target stops the run early', () => {
  test.each(THREAD_MODES)('closed port, 200 payloads: exit 1, cannot reach, resumable (%s)', async (_mode, threads) => {
    const port = await freePort();
    const file = ndjsonFile(dir, payloads(200));
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', file, '--url', `http://127.0.0.1:${port}/echo`, '--out', out, ...threads];
    const r = await runCli([...args, '--retries', '2'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(r.stderr).toContain('--retry-failed');
    const recorded = readResults<{ id: string; ok: boolean }>(out);
    expect(recorded.length).toBeGreaterThanOrEqual(20);
    expect(recorded.length).toBeLessThan(200);
    expect(recorded.every((l) => !l.ok)).toBe(true);

    const target = await startFixtureServer({ port });
    try {
      const again = await runCli([...args, '--retry-failed']);
      expect(again.code).toBe(0);
      const lines = readResults<{ id: string; ok: boolean }>(out);
      expect(new Set(lines.map((l) => l.id)).size).toBe(200);
      expect(lines.every((l) => l.ok)).toBe(true);
    } finally {
      await target.close();
    }
  });

  test('an unresolvable host stops too; --unreachable-after 0 sends every payload', async () => {
    const file = ndjsonFile(dir, payloads(30));
    const url = 'http://batchpost-no-such-host.invalid/echo';
    const stopped = await runCli(['run', file, '--url', url, '--retries', '0', '--unreachable-after', '5']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/cannot reach batchpost-no-such-host\.invalid:80 \(ENOTFOUND\)/);
    const all = await runCli(['run', file, '--url', url, '--retries', '0', '--unreachable-after', '0']);
    expect(all.code).toBe(1);
    expect(all.stderr).not.toContain('cannot reach');
    expect(all.stdout.trim().split('\n')).toHaveLength(30);
  });

  test('https to a server that speaks no TLS: TLS_HANDSHAKE_FAILED, and the run stops early', async () => {
    const file = ndjsonFile(dir, payloads(60));
    const url = `https://127.0.0.1:${server.port}/echo`;
    const r = await runCli(['run', file, '--url', url, '--retries', '0', '--unreachable-after', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${server.port} (TLS_HANDSHAKE_FAILED)`);
    expect(r.stdout).toContain('TLS handshake failed');
    expect(r.stdout.trim().split('\n').length).toBeLessThan(60);
  });

  test('a target that answered once is not cut off by later connection failures', async () => {
    const file = ndjsonFile(
      dir,
      payloads(40, (i) => ({ port: i === 1 ? server.port : 1 })),
    );
    const r = await runCli([
      'run',
      file,
      '--url',
      'http://127.0.0.1:{{ port }}/echo',
      '--retries',
      '0',
      '--concurrency',
      '1',
      '--unreachable-after',
      '5',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('cannot reach');
    expect(r.stdout.trim().split('\n')).toHaveLength(40);
  });
});
