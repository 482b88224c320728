// `batchpost run` end to end, as a user runs it: a child process against the fixture server on loopback.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, payloads, readResults, ROOT, runCli, THREAD_MODES, tmpDir } from './helpers/cli.js';
import { parseJson, type EchoAnswer } from './helpers/json.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  durationMs: number;
  /** Every response these tests look into is /echo's. */
  response: EchoAnswer;
  error: { code: string; message: string } | null;
  headers?: Record<string, string>;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

describe('input and output', () => {
  test('NDJSON file → one result line per payload on stdout, exact fields, stderr carries the summary', async () => {
    const file = ndjsonFile(dir, payloads(5));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`]);
    expect(r.code).toBe(0);
    const lines = parseLines<Line>(r.stdout);
    expect(lines.map((l) => l.id).sort()).toEqual(['1', '2', '3', '4', '5']);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual([
        'id',
        'ok',
        'status',
        'attempts',
        'durationMs',
        'response',
        'error',
        'startedAt',
        'hash',
      ]);
      expect(Math.abs((l as unknown as { startedAt: number }).startedAt - Date.now())).toBeLessThan(60_000);
      expect(l).toMatchObject({ ok: true, status: 200, attempts: 1, error: null });
      expect(l.response.body).toEqual({ n: Number(l.id) });
      expect(l.response.headers['content-type']).toBe('application/json');
    }
    expect(r.stderr).toMatch(/5 ok\s+in /);
    expect(r.stderr).toContain('latency p50');
    expect(server.requests).toHaveLength(5);
  });

  test('payload bytes are sent as they are in the file', async () => {
    const file = path.join(dir, 'in.ndjson');
    fs.writeFileSync(file, '{"b": 2,   "a": 1.50}\n');
    const r = await runCli(['run', file, '--url', `${server.url}/echo`]);
    expect(r.code).toBe(0);
    expect(server.requests[0]!.body).toBe('{"b": 2,   "a": 1.50}');
  });

  test('JSON array input, detected from content, blank lines and stdin', async () => {
    const r = await runCli(['run', '-', '--url', `${server.url}/echo`], {
      stdin: '[\n  {"a":1},\n\n  {"a":[2,"]"]}\n]\n',
    });
    expect(r.code).toBe(0);
    const lines = parseLines<Line>(r.stdout);
    expect(lines.map((l) => JSON.stringify(l.response.body)).sort()).toEqual(['{"a":1}', '{"a":[2,"]"]}']);
    const r2 = await runCli(['run', '-', '--url', `${server.url}/echo`], { stdin: '\n{"x":1}\n\n\n{"x":2}\n' });
    expect(
      parseLines<Line>(r2.stdout)
        .map((l) => l.id)
        .sort(),
    ).toEqual(['1', '2']);
  });

  test('--out writes the file; nothing but results ever reaches stdout', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const out = path.join(dir, 'results.ndjson');
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(readResults<Line>(out)).toHaveLength(3);
    expect(r.stderr).toContain(out);
  });

  test('--id-field takes ids from the payload', async () => {
    const file = ndjsonFile(dir, [{ order: { id: 'A-1' } }, { order: { id: 7 } }]);
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--id-field', 'order.id']);
    expect(
      parseLines<Line>(r.stdout)
        .map((l) => l.id)
        .sort(),
    ).toEqual(['7', 'A-1']);
  });

  test('--format json writes one object keyed by id; --format csv a header and one row per request', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const json = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/status/404`,
      '--format',
      'json',
      '--fail-on',
      'none',
    ]);
    expect(json.code).toBe(0);
    const obj = parseJson<Record<string, Omit<Line, 'id'>>>(json.stdout);
    expect(Object.keys(obj).sort()).toEqual(['1', '2', '3']);
    expect(obj['2']).toMatchObject({ ok: false, status: 404, error: { code: 'HTTP_404' } });
    const csv = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--format',
      'csv',
      '--transform',
      'body.body.n',
    ]);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('id,ok,status,attempts,durationMs,response,error_code,error_message');
    expect(rows).toHaveLength(4);
    expect(
      rows
        .slice(1)
        .map((r) => r.split(',')[5])
        .sort(),
    ).toEqual(['1', '2', '3']);
  });
});

describe('request shape', () => {
  test('--method, repeatable -H, --body, URL templates (percent-encoded), header templates', async () => {
    const file = ndjsonFile(dir, [{ user: 'a/b', data: { x: 1 }, token: 't1' }]);
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/users/{{ user }}/orders`,
      '-X',
      'put',
      '-H',
      'X-One: 1',
      '-H',
      'Authorization: Bearer {{ token }}',
      '--body',
      'data',
      '--include-headers',
    ]);
    expect(r.code).toBe(0);
    const [line] = parseLines<Line>(r.stdout);
    expect(line!.response).toEqual({ user: 'a/b', body: { x: 1 } });
    const seen = server.requests[0]!;
    expect(seen.method).toBe('PUT');
    expect(seen.path).toBe('/users/a%2Fb/orders');
    expect(seen.headers['x-one']).toBe('1');
    expect(seen.headers.authorization).toBe('Bearer t1');
    expect(seen.body).toBe('{"x":1}');
    expect(line!.headers!['content-type']).toBe('application/json');
  });

  test('GET sends no body; a template that is null for a payload records TEMPLATE_ERROR and sends nothing', async () => {
    const file = ndjsonFile(dir, [{ user: 'u1' }, { other: 1 }]);
    const r = await runCli(['run', file, '--url', `${server.url}/users/{{ user }}/orders`, '--method', 'GET']);
    expect(r.code).toBe(1);
    const lines = parseLines<Line>(r.stdout).sort((a, b) => a.id.localeCompare(b.id));
    expect(lines[0]).toMatchObject({ ok: true, response: { user: 'u1', body: null } });
    expect(lines[1]).toMatchObject({
      id: '2',
      ok: false,
      attempts: 0,
      status: null,
      error: { code: 'TEMPLATE_ERROR' },
    });
    expect(lines[1]!.error!.message).toContain('{{ user }}');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.body).toBe('');
  });

  test('--transform replaces response; text answers stay text', async () => {
    const file = ndjsonFile(dir, payloads(1));
    const t = await runCli(['run', file, '--url', `${server.url}/echo`, '--transform', '{s: status, n: body.body.n}']);
    expect(parseLines<Line>(t.stdout)[0]!.response).toEqual({ s: 200, n: 1 });
    const text = await runCli(['run', file, '--url', `${server.url}/text`]);
    expect(parseLines<Line>(text.stdout)[0]!.response).toBe('hello');
  });

  test('--idempotency-key sends a stable key per request', async () => {
    const file = ndjsonFile(dir, payloads(2));
    const args = ['run', file, '--url', `${server.url}/echo`, '--idempotency-key', '--run-id', 'nightly'];
    await runCli(args);
    const first = server.requests.map((q) => [parseJson<{ n: number }>(q.body).n, q.headers['idempotency-key']]).sort();
    server.reset();
    await runCli(args);
    const second = server.requests
      .map((q) => [parseJson<{ n: number }>(q.body).n, q.headers['idempotency-key']])
      .sort();
    expect(first).toEqual(second);
    expect(first[0]![1]).toMatch(/^nightly-/);
    expect(first[0]![1]).not.toBe(first[1]![1]);
  });
});

describe('failures and retries', () => {
  const one = () => ndjsonFile(dir, payloads(1));
  const lineOf = async (url: string, ...extra: string[]) => {
    const r = await runCli(['run', one(), '--url', url, '--timeout', '2s', ...extra]);
    return { r, line: parseLines<Line>(r.stdout)[0]! };
  };

  test('4xx is never retried, even with --retry-unsafe', async () => {
    const { r, line } = await lineOf(`${server.url}/status/422`, '--retry-unsafe');
    expect(r.code).toBe(1);
    expect(line).toMatchObject({
      ok: false,
      status: 422,
      attempts: 1,
      response: { error: 'status 422' },
      error: { code: 'HTTP_422' },
    });
  });

  test('POST 500 is not retried and the message says how to make it safe', async () => {
    const { line } = await lineOf(`${server.url}/flaky/a?fail=1&code=500`);
    expect(line).toMatchObject({ ok: false, attempts: 1, error: { code: 'HTTP_500' } });
    expect(line.error!.message).toContain('add --idempotency-key or --retry-unsafe');
  });

  test.each([
    ['--retry-unsafe', ['--retry-unsafe']],
    ['--idempotency-key', ['--idempotency-key']],
    ['PUT (idempotent)', ['--method', 'PUT']],
    ['an Idempotency-Key header', ['-H', 'Idempotency-Key: k-1']],
  ])('500, 502 and 504 are retried with %s', async (_name, extra) => {
    for (const code of [500, 502, 504]) {
      server.reset();
      const { line } = await lineOf(`${server.url}/flaky/k?fail=1&code=${code}`, ...extra);
      expect([code, line.ok, line.attempts]).toEqual([code, true, 2]);
    }
  });

  test('429 and 503 are always retried, honouring Retry-After', async () => {
    const { line } = await lineOf(`${server.url}/flaky/r?fail=2&code=429&retryAfter=1`);
    expect(line).toMatchObject({ ok: true, attempts: 3 });
    const [a, b, c] = server.requests.map((q) => q.startedAt);
    expect(b! - a!).toBeGreaterThanOrEqual(900);
    expect(c! - b!).toBeGreaterThanOrEqual(900);
    server.reset();
    const r503 = await lineOf(`${server.url}/flaky/s?fail=1&code=503`);
    expect(r503.line).toMatchObject({ ok: true, attempts: 2 });
  });

  test('--max-retry-after caps the wait; --retries bounds the attempts', async () => {
    const { line } = await lineOf(
      `${server.url}/status/429?retryAfter=30`,
      '--max-retry-after',
      '100ms',
      '--retries',
      '3',
    );
    // Each wait is capped at 100ms, not the 30 s asked: the bound is generous for a busy machine, far below 30 s.
    const starts = server.requests.map((q) => q.startedAt);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeLessThan(15_000);
    expect(line).toMatchObject({ ok: false, attempts: 4, error: { code: 'HTTP_429' } });
    expect(line.error!.message).toContain('gave up after 4 attempts');
  });

  test('connection refused is retried and recorded as ECONNREFUSED', async () => {
    const port = await freePort();
    const { r, line } = await lineOf(`http://127.0.0.1:${port}/x`, '--retries', '1');
    expect(r.code).toBe(1);
    expect(line).toMatchObject({
      ok: false,
      status: null,
      attempts: 2,
      response: null,
      error: { code: 'ECONNREFUSED' },
    });
  });

  test('a hung request times out per attempt (TIMEOUT), retried only when safe', async () => {
    const post = await lineOf(`${server.url}/hang`, '--timeout', '300ms');
    expect(post.line).toMatchObject({ ok: false, attempts: 1, error: { code: 'TIMEOUT' } });
    expect(post.line.durationMs).toBeGreaterThanOrEqual(290);
    const put = await lineOf(`${server.url}/hang`, '--timeout', '200ms', '--method', 'PUT', '--retries', '1');
    expect(put.line).toMatchObject({ ok: false, attempts: 2, error: { code: 'TIMEOUT' } });
  });

  test('a reset connection is ECONNRESET, retried only when safe', async () => {
    const post = await lineOf(`${server.url}/reset?after=1&key=p`);
    expect(post.line).toMatchObject({ ok: false, attempts: 1, error: { code: 'ECONNRESET' } });
    server.reset();
    const safe = await lineOf(`${server.url}/reset?after=1&key=q`, '--idempotency-key');
    expect(safe.line).toMatchObject({ ok: true, attempts: 2 });
  });
});

describe.each(THREAD_MODES)('concurrency and pace (%s)', (_mode, threads) => {
  test('every id gets the result of its own request, exactly once', async () => {
    const file = ndjsonFile(
      dir,
      payloads(300, (i) => ({ n: i, note: `payload ${i}` })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/echo?ms=2`, '--concurrency', '7', ...threads]);
    expect(r.code).toBe(0);
    const lines = parseLines<Line>(r.stdout);
    expect(lines.map((l) => l.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 300 }, (_, i) => String(i + 1)),
    );
    for (const l of lines) expect(l.response.body).toEqual({ n: Number(l.id), note: `payload ${l.id}` });
    expect(server.maxInFlight).toBeLessThanOrEqual(7);
  });

  test('--concurrency is exact: never more in flight, and fully used', async () => {
    const file = ndjsonFile(dir, payloads(60));
    const r = await runCli(['run', file, '--url', `${server.url}/slow?ms=100`, '--concurrency', '7', ...threads]);
    expect(r.code).toBe(0);
    // Never more, and fully used: the server saw all 7 at once (how soon after start-up depends on the machine).
    expect(server.maxInFlight).toBe(7);
  });

  test('--rate spaces starts evenly: 30 payloads at 30/s take about a second, no bursts', async () => {
    const file = ndjsonFile(dir, payloads(30));
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--rate',
      '30/s',
      '--concurrency',
      '30',
      ...threads,
    ]);
    expect(r.code).toBe(0);
    const starts = server.requests.map((q) => q.startedAt).sort((a, b) => a - b);
    // Ideally 967 ms and 333 ms per 10 starts. The fixture stamps a request when its process gets to it, so on a busy
    // machine a stall bunches stamps that were sent evenly: the bounds leave room for that, not for a burst.
    const span = starts[29]! - starts[0]!;
    expect(span).toBeGreaterThan(600);
    expect(span).toBeLessThan(15_000);
    for (let i = 0; i + 10 < starts.length; i++) expect(starts[i + 10]! - starts[i]!).toBeGreaterThan(150);
  });

  test('--rate N/m is per minute', async () => {
    const file = ndjsonFile(dir, payloads(5));
    await runCli(['run', file, '--url', `${server.url}/echo`, '--rate', '600/m', '--concurrency', '1', ...threads]);
    const starts = server.requests.map((q) => q.startedAt).sort((a, b) => a - b);
    // One every 100 ms; the first start carries connection set-up, so measure from the second. Ideally 300 ms; less
    // only when a stall of the fixture's process bunches the stamps (per second it would be 5 ms).
    expect(starts[4]! - starts[1]!).toBeGreaterThan(200);
  });
});

describe('exit codes and usage', () => {
  test('--fail-on any | none | percent', async () => {
    const file = ndjsonFile(
      dir,
      payloads(10, (i) => ({ code: i === 1 ? 500 : 200 })),
    );
    // No retries: the exit code is what is tested, and four runs stay quick on a busy machine.
    const base = ['run', file, '--url', `${server.url}/status/{{ code }}`, '--retries', '0'];
    expect((await runCli(base)).code).toBe(1);
    expect((await runCli([...base, '--fail-on', 'none'])).code).toBe(0);
    expect((await runCli([...base, '--fail-on', '10%'])).code).toBe(0);
    expect((await runCli([...base, '--fail-on', '5%'])).code).toBe(1);
  }, 60_000);

  test.each([
    [['run', 'x.ndjson'], /required option .*--url/],
    [['run', 'nope.ndjson', '--url', 'http://127.0.0.1:1/'], /nope\.ndjson: no such file \[INPUT_NOT_FOUND\]/],
    [['run', '-', '--url', 'ftp://x/'], /only http and https/],
    [
      ['run', '-', '--url', 'http://x/', '--concurrency', '0'],
      /--concurrency "0": expected a whole number of at least 1 \[USAGE\]/,
    ],
    [['run', '-', '--url', 'http://x/', '--timeout', 'soon'], /--timeout "soon"/],
    [['run', '-', '--url', 'http://x/', '--format', 'xml'], /--format "xml": expected one of ndjson, json, csv/],
    [['run', '-', '--url', 'http://x/{{ a.[ }}'], /not a valid JMESPath expression/],
    [['run', '-', '--url', 'http://x/', '--bogus'], /unknown option '--bogus'/],
  ])('usage error %j exits 2 with a message naming the problem', async (args, message) => {
    const r = await runCli(args, { stdin: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('--dry-run validates everything, prints the first requests and sends nothing', async () => {
    const file = ndjsonFile(
      dir,
      payloads(12, (i) => ({ user: `u${i}` })),
    );
    const r = await runCli(['run', file, '--url', `${server.url}/users/{{ user }}/orders`, '--dry-run']);
    expect(r.code).toBe(0);
    const shown = parseLines<{ id: string; method: string; url: string; body: string }>(r.stdout);
    expect(shown).toHaveLength(10);
    expect(shown[0]).toMatchObject({
      id: '1',
      method: 'POST',
      url: `${server.url}/users/u1/orders`,
      body: '{"user":"u1"}',
    });
    expect(r.stderr).toContain('12 payloads read, 12 would be sent');
    expect(server.requests).toHaveLength(0);
    fs.appendFileSync(file, '{"user":\n');
    const bad = await runCli(['run', file, '--url', `${server.url}/x`, '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file}:13:`);
  });
});

describe('progress display', () => {
  test('not a TTY: plain lines, no colour, no bar characters', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--progress', 'lines']);
    expect(r.stderr).toMatch(/batchpost: 3\/3 \(100%\)/);
    // eslint-disable-next-line no-control-regex -- an ANSI escape starts with ESC; none may reach a non-TTY
    expect(r.stderr).not.toMatch(/\x1b\[/);
    expect(r.stderr).not.toMatch(/[▕✓✗]/);
  });

  test('--progress none prints only the summary', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--progress', 'none']);
    expect(r.stderr).not.toContain('batchpost: 3/3');
    expect(r.stderr).toMatch(/^3 ok/);
  });

  test('on a TTY (via script): a bar with done/total and colours; NO_COLOR turns colour off', async () => {
    const file = ndjsonFile(dir, payloads(40));
    const out = path.join(dir, 'r.ndjson');
    const cmd = `node bin/batchpost.js run ${file} --url '${server.url}/slow?ms=60' --concurrency 4 --out ${out}`;
    const tty = await runScript(cmd, {});
    expect(tty).toMatch(/▕[█▏▎▍▌▋▊▉ ]*▏ \d+\/40/);
    expect(tty).toContain('\x1b[32m');
    expect(tty).toMatch(/40 ok/);
    const plain = await runScript(`${cmd} --overwrite`, { NO_COLOR: '1' });
    // NO_COLOR: the same bar in plain ASCII, no symbols or block characters anywhere, no colour.
    expect(plain).toMatch(/\[[#.]+\] \d+\/40 .*ok \d+ {2}failed 0/);
    // eslint-disable-next-line no-control-regex -- everything drawn is ASCII: no ✓ ✗ ⏸ █ ▏
    expect(plain).toMatch(/^[\x00-\x7f]*$/);
    // eslint-disable-next-line no-control-regex -- an ANSI colour escape starts with ESC; NO_COLOR forbids them
    expect(plain).not.toMatch(/\x1b\[\d*m/);
    expect(plain).toContain('40 ok');
    expect(readResults(out)).toHaveLength(40);
  });

  test('on a dumb terminal (TERM=dumb, via script): plain ASCII lines, no escape codes at all', async () => {
    const file = ndjsonFile(dir, payloads(20));
    const out = path.join(dir, 'r.ndjson');
    const cmd = `node bin/batchpost.js run ${file} --url '${server.url}/slow?ms=20' --concurrency 4 --out ${out} --progress-interval 50ms`;
    const dumb = await runScript(cmd, { TERM: 'dumb' });
    expect(dumb).toMatch(/batchpost: \d+\/20 \(\d+%\)/);
    expect(dumb).toContain('20 ok');
    // eslint-disable-next-line no-control-regex -- ASCII only, and no ESC: a dumb terminal shows escapes as junk
    expect(dumb).toMatch(/^[\x00-\x1a\x1c-\x7f]*$/);
    // --progress bar still draws the bar when asked, in ASCII.
    const bar = await runScript(`${cmd} --overwrite --progress bar`, { TERM: 'dumb' });
    expect(bar).toMatch(/\[[#.]+\] \d+\/20/);
    // eslint-disable-next-line no-control-regex -- no symbol or block character
    expect(bar).toMatch(/^[\x00-\x7f]*$/);
  });
});

/** Runs a shell command under `script`, which gives it a pseudo-terminal, and returns what it drew. */
async function runScript(cmd: string, env: Record<string, string>): Promise<string> {
  const { spawn } = await import('node:child_process');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '', TERM: 'xterm-256color', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`script exited ${code}: ${out.slice(-500)}`);
  return out;
}
