// `batchpost report` on results a run wrote with --format openai, plain or gzip: the same counts as the run's own
// summary (status, ok = 2xx and no error, error codes), and timings said to be absent rather than shown as zeros.
// Also the reports a continued openai run makes from its whole --out file.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parse as parseJunit, type TestSuites } from 'junit2json';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, runCli, tmpDir } from './helpers/cli.js';
import { readJson } from './helpers/json.js';

interface SummaryFile {
  [field: string]: unknown;
  total: number;
  ok: number;
  failed: number;
  byStatus: Record<string, number>;
  byError: Record<string, number>;
  latencyMs: unknown;
  durationMs: unknown;
  timings: boolean;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 201s, 500s, 422s, a 429 given up on, and requests that time out (no answer at all). */
function mixed(n: number, from = 1): object[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const kind = i % 6;
    const code = kind === 3 ? 500 : kind === 4 ? 422 : kind === 5 ? 429 : 201;
    return { id: `ord-${i}`, code, ms: kind === 0 ? 800 : 0 };
  });
}

const runArgs = (input: string, ...more: string[]) => [
  'run',
  input,
  '--url',
  `${server.url}/echo?status={{ code }}&ms={{ ms }}`,
  '--id-field',
  'id',
  '--retries',
  '0',
  '--timeout',
  '400ms',
  '--progress',
  'none',
  '--format',
  'openai',
  ...more,
];

const counted = (s: SummaryFile) => ({
  total: s.total,
  ok: s.ok,
  failed: s.failed,
  byStatus: s.byStatus,
  byError: s.byError,
});

function kpi(html: string, key: string): string | null {
  const m = new RegExp(`data-kpi="${key}" data-value="([^"]*)"`).exec(html);
  return m ? m[1]! : null;
}

describe.each([
  ['plain', 'results.openai.ndjson'],
  ['gzip', 'results.openai.ndjson.gz'],
])('batchpost report on --format openai results (%s)', (kind, name) => {
  test('gives the run’s counts, and says the timings are not recorded', async () => {
    const out = path.join(dir, name);
    const live = path.join(dir, 'live.json');
    const run = await runCli(runArgs(ndjsonFile(dir, mixed(24)), '--out', out, '--summary', live));
    expect(run.code).toBe(1);
    if (kind === 'gzip') expect(zlib.gunzipSync(fs.readFileSync(out)).toString()).toContain('"custom_id":"ord-1"');
    const want = counted(readJson<SummaryFile>(live));
    expect(want.total).toBe(24);
    expect(want.byError).toMatchObject({ TIMEOUT: 4, HTTP_500: 4, HTTP_422: 4, HTTP_429: 4 });

    const files = {
      html: path.join(dir, 'report.html'),
      junit: path.join(dir, 'junit.xml'),
      summary: path.join(dir, 'summary.json'),
    };
    const r = await runCli(['report', out, '--html', files.html, '--junit', files.junit, '--summary', files.summary]);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stderr).toContain('8 ok');
    expect(r.stderr).toContain('16 failed');
    expect(r.stderr).toContain('timings not recorded');
    expect(r.stderr).not.toContain('latency p50');

    const summary = readJson<SummaryFile>(files.summary);
    expect(counted(summary)).toEqual(want);
    expect(summary).toMatchObject({ source: 'report', timings: false, latencyMs: null, durationMs: null });

    const html = fs.readFileSync(files.html, 'utf8');
    expect(kpi(html, 'total')).toBe('24');
    expect(kpi(html, 'ok')).toBe('8');
    expect(kpi(html, 'failed')).toBe('16');
    expect(kpi(html, 'p50')).toBeNull();
    expect(kpi(html, 'latency')).toBe('');
    expect(html).toContain('--format openai');
    expect(html).toContain('not recorded');
    expect(html).toContain('data-key="HTTP_422"');

    const suites = (await parseJunit(fs.readFileSync(files.junit, 'utf8'))) as TestSuites;
    expect(suites).toMatchObject({ tests: 24, failures: 16 });
    const cases = suites.testsuite![0]!.testcase ?? [];
    expect(cases.map((c) => c.name).sort()).toEqual(
      mixed(24)
        .map((p) => (p as { id: string }).id)
        .sort(),
    );
    const timeout = cases.find((c) => c.name === 'ord-6')!;
    expect(timeout.failure![0]!.type).toBe('TIMEOUT');
    expect(timeout.failure![0]!.inner).not.toContain('duration: 0');
    expect(cases.find((c) => c.name === 'ord-4')!.failure![0]!.type).toBe('HTTP_422');
  });
});

test('a continued --format openai run reports every id of its --out, as batchpost report does', async () => {
  const out = path.join(dir, 'results.openai.ndjson.gz');
  const first = await runCli(runArgs(ndjsonFile(dir, mixed(6)), '--out', out));
  expect(first.code).toBe(1);
  const summary = path.join(dir, 'summary.json');
  const resumed = await runCli(
    runArgs(ndjsonFile(dir, mixed(12), 'more.ndjson'), '--out', out, '--resume', '--summary', summary),
  );
  expect(resumed.code).toBe(1);
  const s = readJson<SummaryFile>(summary);
  expect(counted(s)).toMatchObject({ total: 12, ok: 4, failed: 8 });
  expect(s.timings).toBe(false);
});

test('a torn last openai line is skipped and said; a line of another shape is RESULTS_CORRUPT naming it', async () => {
  const out = path.join(dir, 'results.openai.ndjson');
  expect((await runCli(runArgs(ndjsonFile(dir, mixed(3)), '--out', out))).code).toBe(1);
  const whole = fs.readFileSync(out, 'utf8');
  fs.appendFileSync(out, '{"id":"batch_req_0","custom_id":"ord-9","respo');
  const torn = await runCli(['report', out]);
  expect(torn.code).toBe(0);
  expect(torn.stderr).toContain(`${out}:4: skipped a torn last line`);
  expect(torn.stderr).toContain('(3 results)');

  fs.writeFileSync(out, whole + '{"id":"9","ok":true,"status":200}\n');
  const mixedShapes = await runCli(['report', out]);
  expect(mixedShapes.code).toBe(2);
  expect(mixedShapes.stderr).toContain(`${out}:4: not a result line`);
  expect(mixedShapes.stderr).toContain('[RESULTS_CORRUPT]');
});

test('a gzip results file whose name does not end in .gz is read by its magic bytes', async () => {
  const out = path.join(dir, 'results.openai.ndjson');
  expect((await runCli(runArgs(ndjsonFile(dir, mixed(6)), '--out', out))).code).toBe(1);
  const renamed = path.join(dir, 'results.openai.gzip');
  fs.writeFileSync(renamed, zlib.gzipSync(fs.readFileSync(out)));
  const summary = path.join(dir, 'summary.json');
  const r = await runCli(['report', renamed, '--summary', summary]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(counted(readJson<SummaryFile>(summary))).toMatchObject({ total: 6, ok: 2, failed: 4 });
});
