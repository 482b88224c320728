// Reports end to end, as a user makes them: `batchpost run --report/--junit/--summary` against the fixture server
// on loopback, and `batchpost report RESULTS` after the fact. The JUnit file is read by a JUnit consumer from npm
// (junit2json), as a CI reporter would read it.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseJunit, type TestCase, type TestSuites } from 'junit2json';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, readResults, runCli, startCli, THREAD_MODES, tmpDir, waitFor } from './helpers/cli.js';
import { parseJson, readJson } from './helpers/json.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  durationMs: number;
  error: { code: string; message: string } | null;
  startedAt?: number;
}

/** A --summary file: the fields these tests look into by name, and the rest compared whole. */
interface SummaryFile {
  [field: string]: unknown;
  total: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  latencyMs: { p50: number; p95: number; p99: number };
  throughput: { ratePerSec: number };
  throttled: { ms: number; source: string; requests: number; periods: unknown[] };
}

const SECRETS = ['S3CRET-BEARER', 'K3Y-VALUE', 'TOK3N-VALUE'];
const WEIRD_ID = `x<&>"'ü 🚀`;

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A mix: successes, 500 and 422 (never retried for POST), 429 (retried, then given up), timeouts, an awkward id. */
function mixedPayloads(n: number): object[] {
  const list: object[] = [];
  for (let i = 1; i <= n; i++) {
    const kind = i % 10;
    const code = kind === 7 ? 500 : kind === 8 ? 422 : kind === 9 ? 429 : 201;
    const ms = i % 37 === 0 ? 600 : i % 13;
    list.push({ id: `ord-${i}`, code, ms });
  }
  list.push({ id: WEIRD_ID, code: 500, ms: 0 });
  return list;
}

function runArgs(input: string, url: string, extra: string[]): string[] {
  return [
    'run',
    input,
    '--url',
    `${url}/echo?status={{ code }}&ms={{ ms }}&token=TOK3N-VALUE`,
    '--id-field',
    'id',
    '-H',
    'Authorization: Bearer S3CRET-BEARER',
    '-H',
    'X-Api-Key: K3Y-VALUE',
    '--concurrency',
    '10',
    '--retries',
    '1',
    '--timeout',
    '300ms',
    '--progress',
    'none',
    ...extra,
  ];
}

function counts(lines: Line[]) {
  const byStatus: Record<string, number> = {};
  const byError: Record<string, number> = {};
  for (const l of lines) {
    if (l.status !== null) byStatus[l.status] = (byStatus[l.status] ?? 0) + 1;
    if (l.error) byError[l.error.code] = (byError[l.error.code] ?? 0) + 1;
  }
  return {
    total: lines.length,
    ok: lines.filter((l) => l.ok).length,
    failed: lines.filter((l) => !l.ok).length,
    retries: lines.reduce((n, l) => n + Math.max(0, l.attempts - 1), 0),
    attempts: lines.reduce((n, l) => n + l.attempts, 0),
    byStatus,
    byError,
  };
}

function kpi(html: string, key: string): string {
  const m = new RegExp(`data-kpi="${key}" data-value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no KPI ${key} in the report`);
  return m[1]!;
}

async function junitOf(file: string): Promise<{ suites: TestSuites; cases: TestCase[] }> {
  const suites = (await parseJunit(fs.readFileSync(file, 'utf8'))) as TestSuites;
  expect(suites.testsuite).toHaveLength(1);
  return { suites, cases: suites.testsuite![0]!.testcase ?? [] };
}

describe('run --report --junit --summary', () => {
  test('writes all three, with numbers that match the results file and no secrets', async () => {
    const input = ndjsonFile(dir, mixedPayloads(120));
    const out = path.join(dir, 'results.ndjson');
    const files = {
      html: path.join(dir, 'report.html'),
      junit: path.join(dir, 'junit.xml'),
      summary: path.join(dir, 'summary.json'),
    };
    const r = await runCli(
      runArgs(input, server.url, [
        '--out',
        out,
        '--report',
        files.html,
        '--junit',
        files.junit,
        '--summary',
        files.summary,
      ]),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`report   ${files.html}`);
    expect(r.stderr).toContain(`junit    ${files.junit}`);
    expect(r.stderr).toContain(`summary  ${files.summary}`);

    const lines = readResults<Line>(out);
    const want = counts(lines);
    expect(want.total).toBe(121);
    expect(want.byError.TIMEOUT).toBeGreaterThan(0);
    expect(want.byStatus['429']).toBeGreaterThan(0);

    // Summary JSON
    const summary = readJson<SummaryFile>(files.summary);
    expect(summary).toMatchObject({
      source: 'run',
      exitCode: 1,
      results: out,
      total: want.total,
      ok: want.ok,
      failed: want.failed,
      retries: want.retries,
      attempts: want.attempts,
      byStatus: want.byStatus,
      byError: want.byError,
      interrupted: false,
    });
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(summary.latencyMs.p95);
    expect(summary.throttled.requests).toBe((want.byStatus['429'] ?? 0) + (want.byStatus['503'] ?? 0));
    expect(summary.throttled.ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(summary.endedAt) - Date.parse(summary.startedAt)).toBe(summary.durationMs);
    expect(summary.throughput.ratePerSec).toBeGreaterThan(0);

    // JUnit, read by a JUnit consumer
    const { suites, cases } = await junitOf(files.junit);
    expect(suites).toMatchObject({ tests: want.total, failures: want.failed, errors: 0 });
    expect(suites.testsuite![0]).toMatchObject({
      tests: want.total,
      failures: want.failed,
      name: 'batchpost run in.ndjson',
    });
    expect(cases.map((c) => c.name).sort()).toEqual(lines.map((l) => l.id).sort());
    expect(cases.find((c) => c.name === WEIRD_ID)).toBeDefined();
    const byId = new Map(lines.map((l) => [l.id, l]));
    for (const c of cases) {
      const l = byId.get(c.name!)!;
      expect(c.classname).toBe('batchpost.in');
      expect(c.time).toBeCloseTo(l.durationMs / 1000, 3);
      if (l.ok) {
        expect(c.failure).toBeUndefined();
      } else {
        expect(c.failure).toHaveLength(1);
        expect(c.failure![0]!.type).toBe(l.error!.code);
        expect(c.failure![0]!.message).toBe(l.error!.message.replace('TOK3N-VALUE', '[redacted]'));
        expect(c.failure![0]!.inner).toContain(`${l.error!.code}: `);
      }
    }

    // HTML: the headline numbers
    const html = fs.readFileSync(files.html, 'utf8');
    expect(kpi(html, 'total')).toBe(String(want.total));
    expect(kpi(html, 'ok')).toBe(String(want.ok));
    expect(kpi(html, 'failed')).toBe(String(want.failed));
    expect(kpi(html, 'retries')).toBe(String(want.retries));
    expect(html).toContain('Authorization: [redacted]');

    // Nothing secret in any report; no temporary file left behind.
    for (const file of Object.values(files)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
    expect(fs.readFileSync(out, 'utf8')).toContain('TOK3N-VALUE'); // the results file itself is the user's own record
    expect(fs.readdirSync(dir).sort()).toEqual([
      'in.ndjson',
      'junit.xml',
      'report.html',
      'results.ndjson',
      'summary.json',
    ]);
  });

  test('the report made after the fact agrees with the one made during the run', async () => {
    const input = ndjsonFile(dir, mixedPayloads(60));
    const out = path.join(dir, 'results.ndjson');
    const a = { html: path.join(dir, 'a.html'), junit: path.join(dir, 'a.xml'), summary: path.join(dir, 'a.json') };
    const b = { html: path.join(dir, 'b.html'), junit: path.join(dir, 'b.xml'), summary: path.join(dir, 'b.json') };
    const run = await runCli(
      runArgs(input, server.url, [
        '--out',
        out,
        '--report',
        a.html,
        '--junit',
        a.junit,
        '--summary',
        a.summary,
        '--no-adaptive',
      ]),
    );
    expect(run.code).toBe(1);
    const rep = await runCli(['report', out, '--html', b.html, '--junit', b.junit, '--summary', b.summary]);
    expect(rep.stderr).toContain(`html     ${b.html}`);
    expect(rep.code).toBe(0);
    expect(rep.stderr).toMatch(/ok .*failed/);

    const [ha, hb] = [fs.readFileSync(a.html, 'utf8'), fs.readFileSync(b.html, 'utf8')];
    for (const key of ['total', 'ok', 'failed', 'p50', 'p95', 'p99', 'retries', 'throttled'])
      expect(kpi(hb, key)).toBe(kpi(ha, key));
    const [sa, sb] = [readJson<SummaryFile>(a.summary), readJson<SummaryFile>(b.summary)];
    for (const key of [
      'total',
      'ok',
      'failed',
      'retries',
      'attempts',
      'byStatus',
      'byError',
      'byAttempts',
      'throttled',
    ])
      expect(sb[key]).toEqual(sa[key]);
    expect(sb).toMatchObject({ source: 'report', exitCode: null });
    // With --no-adaptive, throttling is read from the 429 answers in both.
    expect(sa.throttled.source).toBe('results');
    expect(sa.throttled.periods.length).toBeGreaterThan(0);

    const [ja, jb] = [await junitOf(a.junit), await junitOf(b.junit)];
    const key = (c: TestCase) => `${c.name} ${c.failure?.[0]?.type ?? 'ok'}`;
    expect(jb.cases.map(key).sort()).toEqual(ja.cases.map(key).sort());
    expect(jb.suites.testsuite![0]!.name).toBe('batchpost results.ndjson');
  });

  test('links point at the right line after --resume appends, and with --format json', async () => {
    const out = path.join(dir, 'results.ndjson');
    const first = ndjsonFile(dir, mixedPayloads(30).slice(0, 20), 'first.ndjson');
    expect((await runCli(runArgs(first, server.url, ['--out', out]))).code).toBe(1);
    const all = ndjsonFile(dir, mixedPayloads(30), 'all.ndjson');
    const html = path.join(dir, 'r.html');
    expect((await runCli(runArgs(all, server.url, ['--out', out, '--resume', '--report', html]))).code).toBe(1);
    const fileLines = fs.readFileSync(out, 'utf8').split('\n');
    const text = fs.readFileSync(html, 'utf8');
    // Ids link to their own row in the page (anchored by results line), which shows that line's number.
    const links = [
      ...text.matchAll(/<tr id="line-(\d+)" data-id="[^"]*"><td class="mono"><a href="#line-\1">([^<]*)<\/a>/g),
    ];
    expect(links.length).toBeGreaterThan(0);
    // After --resume the report covers the whole file: the first run's lines as well as the appended ones.
    for (const [, line, id] of links) expect(parseJson<Line>(fileLines[Number(line) - 1]!).id).toBe(unescapeHtml(id!));

    const jsonOut = path.join(dir, 'results.json');
    const jsonHtml = path.join(dir, 'j.html');
    expect(
      (await runCli(runArgs(first, server.url, ['--out', jsonOut, '--format', 'json', '--report', jsonHtml]))).code,
    ).toBe(1);
    const jsonLines = fs.readFileSync(jsonOut, 'utf8').split('\n');
    const jsonLinks = [
      ...fs
        .readFileSync(jsonHtml, 'utf8')
        .matchAll(/<tr id="line-(\d+)" data-id="[^"]*"><td class="mono"><a href="#line-\1">([^<]*)<\/a>/g),
    ];
    expect(jsonLinks.length).toBeGreaterThan(0);
    for (const [, line, id] of jsonLinks)
      expect(jsonLines[Number(line) - 1]!.startsWith(`${JSON.stringify(unescapeHtml(id!))}:`)).toBe(true);
    // ...and `report` reads the --format json file too.
    const rep = await runCli(['report', jsonOut, '--summary', path.join(dir, 'j.json')]);
    expect(rep.code).toBe(0);
    expect(readJson<SummaryFile>(path.join(dir, 'j.json')).total).toBe(20);
  });

  test('results on stdout: the report has no links, the results stay clean NDJSON', async () => {
    const input = ndjsonFile(dir, mixedPayloads(10));
    const html = path.join(dir, 'r.html');
    const r = await runCli(runArgs(input, server.url, ['--report', html]));
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(11);
    const text = fs.readFileSync(html, 'utf8');
    expect(text).not.toContain('class="line"');
    // Every id still links within the page: to its row, anchored by the id itself.
    const hrefs = [...text.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]!);
    expect(hrefs.length).toBeGreaterThan(0);
    expect(hrefs.every((h) => h.startsWith('#id-'))).toBe(true);
    for (const h of hrefs) expect(text).toContain(`id="${h.slice(1)}"`);
    expect(kpi(text, 'total')).toBe('11');
  });

  test('an interrupted run still writes its reports, saying it stopped early', async () => {
    const input = ndjsonFile(
      dir,
      Array.from({ length: 40 }, (_, i) => ({ id: `s${i}` })),
    );
    const out = path.join(dir, 'results.ndjson');
    const files = { html: path.join(dir, 'r.html'), junit: path.join(dir, 'j.xml'), summary: path.join(dir, 's.json') };
    const { child, done } = startCli([
      'run',
      input,
      '--url',
      `${server.url}/slow?ms=150`,
      '--id-field',
      'id',
      '--concurrency',
      '4',
      '--progress',
      'none',
      '--out',
      out,
      '--report',
      files.html,
      '--junit',
      files.junit,
      '--summary',
      files.summary,
    ]);
    child.stdin!.end();
    await waitFor(
      () => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length > 5,
      10_000,
      'some results',
    );
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    const recorded = readResults<Line>(out).length;
    expect(recorded).toBeLessThan(40);
    const summary = readJson<SummaryFile>(files.summary);
    expect(summary).toMatchObject({ exitCode: 130, interrupted: true, total: recorded });
    expect(fs.readFileSync(files.html, 'utf8')).toContain('Stopped early: interrupted');
    const { suites } = await junitOf(files.junit);
    expect(suites.tests).toBe(recorded);
  });

  test('a report path that cannot be written stops the run before anything is sent', async () => {
    const input = ndjsonFile(dir, mixedPayloads(5));
    const out = path.join(dir, 'results.ndjson');
    const r = await runCli(
      runArgs(input, server.url, ['--out', out, '--report', path.join(dir, 'no-such-dir', 'r.html')]),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--report');
    expect(r.stderr).toContain('[OUTPUT_FAILED]');
    expect(server.requests).toHaveLength(0);
    expect(fs.existsSync(out)).toBe(false);

    const same = await runCli(runArgs(input, server.url, ['--out', out, '--junit', out]));
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('--junit');
    expect(same.stderr).toContain('the same file as --out');
    expect(server.requests).toHaveLength(0);
  });
});

describe('batchpost report', () => {
  test.each(THREAD_MODES)(
    'adaptive pace (%s): the results record when it held the run back, and the report made later shows it',
    async (_mode, threads) => {
      const input = ndjsonFile(
        dir,
        Array.from({ length: 16 }, (_, i) => ({ id: `t${i + 1}` })),
      );
      const out = path.join(dir, 'results.ndjson');
      const live = { html: path.join(dir, 'a.html'), summary: path.join(dir, 'a.json') };
      const later = { html: path.join(dir, 'b.html'), summary: path.join(dir, 'b.json') };
      const run = await runCli([
        'run',
        input,
        '--url',
        `${server.url}/limited/report-pace?limit=5&windowMs=1000`,
        '--id-field',
        'id',
        '--concurrency',
        '4',
        '--retries',
        '6',
        '--progress',
        'none',
        '--out',
        out,
        '--report',
        live.html,
        '--summary',
        live.summary,
        ...threads,
      ]);
      expect(run.code).toBe(0);
      const lines = readResults<Line & { throttled?: { since: number; by: string[] } }>(out);
      const paced = lines.filter((l) => l.throttled !== undefined);
      expect(paced.length).toBeGreaterThan(0);
      for (const l of paced) {
        expect(l.throttled!.by).toContain('429');
        expect(l.throttled!.since).toBeLessThanOrEqual(l.startedAt!);
      }
      // The field is absent, not null, on requests that ran at full pace.
      expect(lines.some((l) => !('throttled' in l))).toBe(true);

      const rep = await runCli(['report', out, '--html', later.html, '--summary', later.summary]);
      expect(rep.code).toBe(0);
      expect(rep.stderr).toMatch(/throttled [\d.]+m?s \(429[^)]*\)\n/);
      const [a, b] = [readJson<SummaryFile>(live.summary), readJson<SummaryFile>(later.summary)];
      expect(a.throttled.source).toBe('run');
      expect(b.throttled.source).toBe('run');
      expect(b.throttled.ms).toBeGreaterThan(0);
      expect(b.throttled.periods.length).toBeGreaterThan(0);
      const html = fs.readFileSync(later.html, 'utf8');
      expect(html).not.toContain('Not throttled');
      expect(html).toMatch(/Throttled, [\d.]+m?s in \d+ periods?: adaptive pace held the run back \(429/);
      expect(kpi(html, 'throttled')).toBe(String(b.throttled.ms));
    },
  );

  test('the failures table shows the start of each answer, escaped and with secrets redacted', async () => {
    const file = path.join(dir, 'results.ndjson');
    const line = (id: string, status: number, response: unknown) =>
      JSON.stringify({
        id,
        ok: false,
        status,
        attempts: 1,
        durationMs: 12,
        response,
        error: { code: `HTTP_${status}`, message: `POST http://h/x answered ${status}` },
        startedAt: 1_790_000_000_000,
      });
    fs.writeFileSync(
      file,
      [
        line('a1', 422, { detail: 'sku ZX-99 is out of stock', token: 'T0P-SECRET-1' }),
        line('a2', 500, '<script>alert(1)</script> see https://h/x?api_key=T0P-SECRET-2'),
        line('a3', 400, JSON.stringify({ password: 'T0P-SECRET-3', why: 'bad' })),
        line('a4', 502, null),
      ].join('\n') + '\n',
    );
    const html = path.join(dir, 'r.html');
    expect((await runCli(['report', file, '--html', html])).code).toBe(0);
    const text = fs.readFileSync(html, 'utf8');
    const cell = (id: string) =>
      new RegExp(`<tr id="line-\\d+" data-id="${id}">.*<td class="msg mono response">([^<]*)</td></tr>`).exec(
        text,
      )?.[1];
    expect(cell('a1')).toBe(
      '{&quot;detail&quot;:&quot;sku ZX-99 is out of stock&quot;,&quot;token&quot;:&quot;[redacted]&quot;}',
    );
    expect(cell('a2')).toBe('&lt;script&gt;alert(1)&lt;/script&gt; see https://h/x?api_key=[redacted]');
    expect(cell('a3')).toBe('{&quot;password&quot;:&quot;[redacted]&quot;,&quot;why&quot;:&quot;bad&quot;}');
    expect(cell('a4')).toBe('');
    expect(text).not.toContain('T0P-SECRET');
    expect(text).not.toContain('<script>alert');
  });

  test('a missing file, a corrupt line, a torn last line, no outputs', async () => {
    const missing = await runCli(['report', path.join(dir, 'nope.ndjson'), '--html', path.join(dir, 'r.html')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[INPUT_NOT_FOUND]');

    const ok = (id: string) =>
      JSON.stringify({
        id,
        ok: true,
        status: 200,
        attempts: 1,
        durationMs: 5,
        response: null,
        error: null,
        startedAt: 1_790_000_000_000,
      });
    const corrupt = path.join(dir, 'corrupt.ndjson');
    fs.writeFileSync(corrupt, `${ok('1')}\n{"id":1}\n${ok('3')}\n`);
    const c = await runCli(['report', corrupt, '--html', path.join(dir, 'r.html')]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('corrupt.ndjson:2');
    expect(c.stderr).toContain('[RESULTS_CORRUPT]');
    expect(fs.existsSync(path.join(dir, 'r.html'))).toBe(false);

    const torn = path.join(dir, 'torn.ndjson');
    fs.writeFileSync(torn, `${ok('1')}\n${ok('2')}\n{"id":"3","ok":tr`);
    const t = await runCli(['report', torn]);
    expect(t.code).toBe(0);
    expect(t.stderr).toContain('torn.ndjson:3: skipped a torn last line');
    expect(t.stderr).toMatch(/2 ok/);
  });

  test('60,000 results: the HTML stays small, the failure list is capped with a note, JUnit has every case', async () => {
    const n = 60_000;
    const file = path.join(dir, 'big.ndjson');
    const t0 = 1_790_000_000_000;
    const parts: string[] = [];
    for (let i = 1; i <= n; i++) {
      const failed = i % 50 === 0;
      parts.push(
        JSON.stringify({
          id: `r${i}`,
          ok: !failed,
          status: failed ? (i % 100 === 0 ? 429 : 500) : 201,
          attempts: failed ? 2 : 1,
          durationMs: 5 + (i % 400) / 10,
          response: { n: i },
          error: failed
            ? {
                code: i % 100 === 0 ? 'HTTP_429' : 'HTTP_500',
                message: `POST http://h/x answered ${i % 100 === 0 ? 429 : 500}`,
              }
            : null,
          startedAt: t0 + i * 3,
        }),
      );
    }
    fs.writeFileSync(file, parts.join('\n') + '\n');
    const html = path.join(dir, 'big.html');
    const junit = path.join(dir, 'big.xml');
    const r = await runCli(['report', file, '--html', html, '--junit', junit], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const text = fs.readFileSync(html, 'utf8');
    expect(text.length).toBeLessThan(600_000);
    expect(kpi(text, 'total')).toBe(String(n));
    expect(kpi(text, 'failed')).toBe(String(n / 50));
    const listed = [...text.matchAll(/<tr id="line-\d+" data-id="[^"]*"><td class="mono"><a href/g)].length;
    expect(listed).toBe(500);
    expect(text).toContain(`data-left-out="${n / 50 - 500}"`);
    expect(text).toContain('429'); // both codes are listed, taking turns

    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(n);
    expect(xml.match(/<failure /g)).toHaveLength(n / 50);
    expect(xml).toContain(`tests="${n}" failures="${n / 50}"`);
    expect(xml.endsWith('</testsuites>\n')).toBe(true);
  }, 90_000);
});

function unescapeHtml(s: string): string {
  return s.replace(
    /&(lt|gt|quot|#39|amp);/g,
    (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!,
  );
}
