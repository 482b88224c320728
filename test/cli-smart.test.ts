// The smarter run end to end: adaptive pace, per-key ordering, assertions, re-running what matched, and resume noticing
// edited payloads.
import fs from 'node:fs';
import path from 'node:path';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, payloads, readResults, runCli, THREAD_MODES, tmpDir } from './helpers/cli.js';
import { parseJson, type EchoAnswer } from './helpers/json.js';

interface Line<Body = unknown> {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  /** Every response these tests look into is /echo's. */
  response: EchoAnswer<Body>;
  error: { code: string; message: string } | null;
  hash?: string;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

describe('adaptive pace', () => {
  /** Requests the server saw starting inside the window the first 429 asked the client to stay away. */
  function duringPause(pauseMs: number): { firstLimited: number; inside: number } {
    const sorted = [...server.requests].sort((a, b) => a.startedAt - b.startedAt);
    // The first 429 went to the first request past the limit; its answer time starts the pause.
    const limitedAt = sorted.find((_, i) => i === 5)!.endedAt!;
    const slack = 60; // requests already in flight when the 429 was sent may still arrive
    const inside = sorted.filter(
      (q) => q.startedAt > limitedAt + slack && q.startedAt < limitedAt + pauseMs - slack,
    ).length;
    return { firstLimited: limitedAt, inside };
  }

  const cases = THREAD_MODES.flatMap(([mode, threads]) =>
    ['retry-after', 'ratelimit', 'x-ratelimit'].map((signal) => [signal, mode, threads] as const),
  );
  test.each(cases)(
    'a 429 with %s pauses the whole run until the reset, then it recovers (%s)',
    async (signal, _mode, threads) => {
      const file = ndjsonFile(dir, payloads(16));
      const r = await runCli([
        'run',
        file,
        '--url',
        `${server.url}/limited/a?limit=5&windowMs=1000&signal=${signal}`,
        '--concurrency',
        '4',
        '--retries',
        '6',
        '--progress',
        'none',
        ...threads,
      ]);
      expect(r.code).toBe(0);
      expect(parseLines<Line>(r.stdout).filter((l) => l.ok)).toHaveLength(16);
      // Held back as a whole: almost nothing starts while the server said to wait.
      const { inside } = duringPause(signal === 'x-ratelimit' ? 300 : 900);
      expect(inside).toBeLessThanOrEqual(2);
      expect(r.stderr).toMatch(/throttled [\d.]+m?s \(429/);
      expect(r.stderr).toMatch(/settled at \d+ in flight/);
    },
  );

  test('--no-adaptive keeps hammering: each request backs off on its own, new ones keep starting', async () => {
    // Paced starts (40/s) keep payloads coming through the pause window, so the difference is visible.
    const file = ndjsonFile(dir, payloads(40));
    const args = ['run', file, '--concurrency', '4', '--rate', '40/s', '--retries', '8', '--progress', 'none'];
    const r = await runCli([...args, '--url', `${server.url}/limited/b?limit=5&windowMs=1000`, '--no-adaptive']);
    expect([0, 1]).toContain(r.code); // hammering may exhaust some requests' retries: that is the point
    expect(duringPause(900).inside).toBeGreaterThan(8);
    expect(r.stderr).not.toContain('throttled');
    server.reset();
    const adaptive = await runCli([...args, '--url', `${server.url}/limited/b2?limit=5&windowMs=1000`]);
    expect(adaptive.code).toBe(0);
    expect(duringPause(900).inside).toBeLessThanOrEqual(2);
  });

  test('the progress display says when and why the run is held back', async () => {
    const file = ndjsonFile(dir, payloads(5));
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/limited/c?limit=2&windowMs=2000`,
      '--concurrency',
      '2',
      '--retries',
      '6',
      '--progress',
      'lines',
      '--progress-interval',
      '200ms',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/batchpost: .*throttled \d+(\.\d)?s \(429, Retry-After\)/);
  });
});

describe.each(THREAD_MODES)('--serialize-by (%s)', (_mode, threads) => {
  test('same key never in flight twice, input order per key; other keys flow at full concurrency', async () => {
    const keys = ['a', 'b', 'c'];
    const file = ndjsonFile(
      dir,
      payloads(30, (i) => ({ customer: keys[i % 3], seq: i, ms: keys[i % 3] === 'a' ? 120 : 20 })),
    );
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo?ms={{ ms }}`,
      '--serialize-by',
      'customer',
      '--concurrency',
      '3',
      ...threads,
    ]);
    expect(r.code).toBe(0);
    const seen = server.requests.map((q) => ({
      ...parseJson<{ customer: string; seq: number }>(q.body),
      start: q.startedAt,
      end: q.endedAt!,
    }));
    for (const k of keys) {
      const mine = seen.filter((q) => q.customer === k).sort((x, y) => x.start - y.start);
      expect(mine.map((q) => q.seq)).toEqual([...mine.map((q) => q.seq)].sort((x, y) => x - y));
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThanOrEqual(mine[i - 1]!.end - 1);
    }
    // The slow key does not hold the others up: b and c are done long before a.
    const lastEnd = (k: string) => Math.max(...seen.filter((q) => q.customer === k).map((q) => q.end));
    expect(lastEnd('b')).toBeLessThan(lastEnd('a') - 500);
    expect(server.maxInFlight).toBeLessThanOrEqual(3);
    expect(server.maxInFlight).toBeGreaterThanOrEqual(2);
  });
});

describe('--expect', () => {
  test('an answer that meets it is ok; one that does not is EXPECTATION_FAILED naming the expression', async () => {
    const file = ndjsonFile(dir, [{ n: 1, want: true }, { n: 2 }]);
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--expect',
      'status == `200` && body.body.want == `true`',
    ]);
    expect(r.code).toBe(1);
    const lines = parseLines<Line>(r.stdout).sort((a, b) => a.id.localeCompare(b.id));
    expect(lines[0]).toMatchObject({ ok: true, error: null });
    expect(lines[1]).toMatchObject({ ok: false, status: 200, attempts: 1, error: { code: 'EXPECTATION_FAILED' } });
    expect(lines[1]!.error!.message).toContain('status == `200` && body.body.want == `true`');
    expect(lines[1]!.response.body).toEqual({ n: 2 });
  });
});

describe('re-running what matched', () => {
  test('--rerun-where re-sends the ids whose recorded line matches, leaving one line per id', async () => {
    const file = ndjsonFile(
      dir,
      payloads(6, (i) => ({ code: i % 3 === 0 ? 502 : i === 4 ? 404 : 200 })),
    );
    const out = path.join(dir, 'r.ndjson');
    const first = await runCli(['run', file, '--url', `${server.url}/status/{{ code }}`, '--out', out]);
    expect(first.code).toBe(1);
    server.reset();
    const again = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--out',
      out,
      '--rerun-where',
      'status >= `500`',
    ]);
    // The summary and exit code cover the whole file: id 4's recorded 404 still counts.
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/5 ok\s+1 failed \(HTTP_404 1\)/);
    expect(again.stderr).toMatch(/sent now\s+2 \(2 ok\)/);
    expect(server.requests.map((q) => parseJson<{ code: number }>(q.body).code).sort()).toEqual([502, 502]);
    const lines = readResults<Line>(out);
    expect(lines.map((l) => l.id).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(lines.find((l) => l.id === '4')).toMatchObject({ ok: false, status: 404 });
    expect(lines.find((l) => l.id === '3')).toMatchObject({ ok: true, status: 200 });
  });

  test('--rerun-where with a bad expression is a usage error', async () => {
    const file = ndjsonFile(dir, payloads(1));
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--out',
      path.join(dir, 'x.ndjson'),
      '--rerun-where',
      'status >=',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--rerun-where');
  });
});

describe('resume notices edited payloads', () => {
  test('changed payloads are reported, and re-sent only with --resend-changed (one line per id after)', async () => {
    const out = path.join(dir, 'r.ndjson');
    const file = ndjsonFile(dir, payloads(5));
    expect((await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out])).code).toBe(0);
    expect(readResults<Line>(out).every((l) => typeof l.hash === 'string' && l.hash.length >= 8)).toBe(true);
    fs.writeFileSync(
      file,
      payloads(6, (i) => ({ n: i === 2 || i === 4 ? i * 100 : i }))
        .map((p) => JSON.stringify(p))
        .join('\n') + '\n',
    );
    server.reset();
    const noticed = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out, '--resume']);
    expect(noticed.code).toBe(0);
    expect(noticed.stderr).toContain(
      '2 recorded payloads changed since they were sent (first: 2, 4); not sent again. Add --resend-changed',
    );
    expect(server.requests.map((q) => parseJson<{ n: number }>(q.body).n)).toEqual([6]);
    server.reset();
    const resent = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/echo`,
      '--out',
      out,
      '--resume',
      '--resend-changed',
    ]);
    expect(resent.code).toBe(0);
    expect(server.requests.map((q) => parseJson<{ n: number }>(q.body).n).sort((a, b) => a - b)).toEqual([200, 400]);
    const lines = readResults<Line>(out);
    expect(lines.map((l) => l.id).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(lines.find((l) => l.id === '4')!.response.body).toEqual({ n: 400 });
  });
});

describe('a failures file you can feed straight back in', () => {
  test.each([
    ['ndjson', (ps: object[]) => ps.map((p) => JSON.stringify(p)).join('\n') + '\n', 'in.ndjson'],
    [
      'json',
      (ps: object[]) =>
        '[\n' + ps.map((p) => '  ' + JSON.stringify(p, null, 1).replace(/\n/g, ' ')).join(',\n') + '\n]\n',
      'in.json',
    ],
  ])(
    '--failed writes the failed payloads as they were (%s); running it sends only those',
    async (_fmt, render, name) => {
      const items = Array.from({ length: 6 }, (_, i) => ({
        orderId: `o-${i + 1}`,
        code: (i + 1) % 2 === 0 ? 500 : 200,
      }));
      const file = path.join(dir, name);
      fs.writeFileSync(file, render(items));
      const failed = path.join(dir, `failed-${name}`);
      const first = await runCli([
        'run',
        file,
        '--url',
        `${server.url}/status/{{ code }}`,
        '--id-field',
        'orderId',
        '--failed',
        failed,
      ]);
      expect(first.code).toBe(1);
      const text = fs.readFileSync(failed, 'utf8');
      for (const p of items.filter((p) => p.code === 500))
        expect(text).toContain(
          render([p])
            .trim()
            .replace(/^\[\n {2}|\n\]$/g, ''),
        );
      server.reset();
      const again = await runCli(['run', failed, '--url', `${server.url}/echo`, '--id-field', 'orderId']);
      expect(again.code).toBe(0);
      expect(
        parseLines<Line>(again.stdout)
          .map((l) => l.id)
          .sort(),
      ).toEqual(['o-2', 'o-4', 'o-6']);
      expect(server.requests).toHaveLength(3);
    },
  );

  test('--failed may not name the input file', async () => {
    const file = ndjsonFile(dir, payloads(1));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--failed', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('that is the input file');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"n":1}\n');
  });
});

describe('CSV input', () => {
  const csv = 'id,name,qty,note\r\n1,"Smith, Ann",007,"said ""hi""\nthen left"\n2,Bob,3,\n\n3,Cy,true,x\n';

  test('header names the fields; quoted commas, quotes and newlines; values stay strings', async () => {
    const file = path.join(dir, 'people.csv');
    fs.writeFileSync(file, csv);
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--id-field', 'id']);
    expect(r.code).toBe(0);
    const bodies = Object.fromEntries(parseLines<Line>(r.stdout).map((l) => [l.id, l.response.body]));
    expect(bodies['1']).toEqual({ id: '1', name: 'Smith, Ann', qty: '007', note: 'said "hi"\nthen left' });
    expect(bodies['3']).toEqual({ id: '3', name: 'Cy', qty: 'true', note: 'x' });
  });

  test('--csv-types infers numbers and booleans; --input-format csv reads stdin', async () => {
    const r = await runCli(['run', '-', '--input-format', 'csv', '--csv-types', '--url', `${server.url}/echo`], {
      stdin: csv,
    });
    expect(r.code).toBe(0);
    const bodies = parseLines<Line<{ id: number; qty: unknown }>>(r.stdout)
      .map((l) => l.response.body)
      .sort((a, b) => a.id - b.id);
    expect(bodies.map((b) => [b.id, b.qty])).toEqual([
      [1, '007'],
      [2, 3],
      [3, true],
    ]);
  });

  test('a malformed row stops the run naming its line (INPUT_INVALID_CSV); --failed keeps CSV with its header', async () => {
    const file = path.join(dir, 'bad.csv');
    fs.writeFileSync(file, 'id,code\n1,200\n2,500\n3,"oops\n');
    const failed = path.join(dir, 'failed.csv');
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/status/{{ code }}`,
      '--id-field',
      'id',
      '--failed',
      failed,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.csv:4: .*\[INPUT_INVALID_CSV\]/);
    expect(fs.readFileSync(failed, 'utf8')).toBe('id,code\n2,500\n');
  });
});
