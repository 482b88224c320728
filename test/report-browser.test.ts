// The HTML report as a person sees it: opened from disk in headless Chromium (Debian's, driven by playwright-core;
// no browser is ever downloaded). Charts must render, nothing may be fetched from a network, the console must stay
// clean, the numbers shown must be those of the results file, and the failure search must work.
// Without /usr/bin/chromium these tests are skipped on a developer's machine and fail in CI (CI=true).
// BATCHPOST_SCREENSHOT=docs/report.png also saves the demo run's report as the README's screenshot.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { ndjsonFile, readResults, ROOT, runCli, tmpDir } from './helpers/cli.js';
import { parseJson } from './helpers/json.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const inCI = process.env.CI === 'true';
const suite = haveChromium || inCI ? describe : describe.skip;
if (!haveChromium && !inCI)
  process.stderr.write(
    `report-browser: ${CHROMIUM} is missing (apt-get install chromium); skipped here, a failure in CI\n`,
  );

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  durationMs: number;
  error: { code: string; message: string } | null;
}

/** The DOM an evaluateAll callback uses: it runs in the page, and the test program has no DOM types. */
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}

const WEIRD_ID = `x<&>"'ü 🚀`;

interface Opened {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Requests for anything but the report itself (aborted). */
  external: string[];
}

let server: FixtureServer;
let dir: string;
let userDataDir: string;
let context: BrowserContext;

async function open(file: string): Promise<Opened> {
  const page = await context.newPage();
  const errors: string[] = [];
  const external: string[] = [];
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (r.url() !== url) external.push(r.url());
  });
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url, { timeout: 15_000 });
  return { page, errors, external };
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
}

/**
 * Pixels of a chart's canvas close to an RGB colour (anti-aliasing tolerated) with an alpha in `alpha` (the canvas
 * is transparent: a translucent band keeps its colour and a low alpha).
 */
function countPixels(
  page: Page,
  chartId: string,
  rgb: [number, number, number],
  tolerance = 40,
  alpha: [number, number] = [128, 255],
): Promise<number> {
  return page.evaluate(
    ([id, [r, g, b], tol, [amin, amax]]) => {
      // Runs in the page; the test program has no DOM types, so the little it uses is typed here.
      interface Canvas {
        width: number;
        height: number;
        getContext(
          kind: '2d',
        ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
      }
      const doc = (globalThis as unknown as { document: { querySelector(selector: string): Canvas | null } }).document;
      const canvas = doc.querySelector(`#${id} canvas`);
      if (!canvas || canvas.width === 0 || canvas.height === 0) return -1;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (
          data[i + 3]! >= amin &&
          data[i + 3]! <= amax &&
          Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) <= tol
        )
          n++;
      }
      return n;
    },
    [chartId, rgb, tolerance, alpha] as const,
  );
}

/** The values at the nearest rank and its neighbours: percentile definitions differ by one rank. */
function percentileRange(values: number[], p: number): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return [sorted[Math.max(0, rank - 1)]!, sorted[Math.min(sorted.length - 1, rank + 1)]!];
}

suite('the HTML report in headless Chromium', () => {
  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
    server = await startFixtureServer();
    dir = tmpDir();
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the network check catches a page that loads something', async () => {
    const file = path.join(dir, 'control.html');
    fs.writeFileSync(
      file,
      `<!doctype html><img src="http://127.0.0.1:9/pixel.png"><script src="http://127.0.0.1:9/lib.js"></script><script>throw new Error('control error')</script>`,
    );
    const { page, errors, external } = await open(file);
    await page.waitForLoadState('load', { timeout: 15_000 });
    expect(external).toEqual(expect.arrayContaining(['http://127.0.0.1:9/pixel.png', 'http://127.0.0.1:9/lib.js']));
    expect(errors.join('\n')).toContain('control error');
    await page.close();
  }, 30_000);

  test('a run with failures: charts, numbers, failure search, links, no network, no console errors', async () => {
    const payloads: object[] = [];
    for (let i = 1; i <= 150; i++) {
      const kind = i % 10;
      payloads.push({
        id: `ord-${i}`,
        code: kind === 7 ? 500 : kind === 8 ? 422 : kind === 9 ? 429 : 201,
        ms: i % 37 === 0 ? 600 : i % 17,
      });
    }
    payloads.push({ id: WEIRD_ID, code: 500, ms: 0 });
    const input = ndjsonFile(dir, payloads);
    const out = path.join(dir, 'results.ndjson');
    const html = path.join(dir, 'report.html');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo?status={{ code }}&ms={{ ms }}`,
      '--id-field',
      'id',
      '--concurrency',
      '8',
      '--retries',
      '1',
      '--timeout',
      '300ms',
      '--progress',
      'none',
      '--out',
      out,
      '--report',
      html,
      '-H',
      'Authorization: Bearer S3CRET',
    ]);
    expect(r.code).toBe(1);
    const lines = readResults<Line>(out);
    const failed = lines.filter((l) => !l.ok);

    const { page, errors, external } = await open(html);
    await ready(page);

    // Charts: a canvas each, with the series drawn (their colours present), throttled periods shaded.
    for (const id of ['chart-throughput', 'chart-latency', 'chart-histogram'])
      expect(await page.locator(`#${id} canvas`).count()).toBe(1);
    expect(await countPixels(page, 'chart-throughput', [9, 105, 218])).toBeGreaterThan(50); // started
    expect(await countPixels(page, 'chart-throughput', [207, 34, 46])).toBeGreaterThan(20); // failed
    expect(await countPixels(page, 'chart-latency', [191, 135, 0])).toBeGreaterThan(50); // p95
    expect(await countPixels(page, 'chart-histogram', [9, 105, 218], 120)).toBeGreaterThan(200); // bars
    expect(lines.some((l) => l.status === 429)).toBe(true);
    expect(await countPixels(page, 'chart-throughput', [207, 34, 46], 12, [20, 60])).toBeGreaterThan(100); // throttled band

    // Headline numbers, as shown.
    const shown = async (key: string) => (await page.locator(`[data-kpi="${key}"] .value`).innerText()).trim();
    expect(await shown('total')).toBe(lines.length.toLocaleString('en-US'));
    expect(await shown('ok')).toBe((lines.length - failed.length).toLocaleString('en-US'));
    expect(await shown('failed')).toBe(failed.length.toLocaleString('en-US'));
    expect(await shown('retries')).toBe(
      lines.reduce((n, l) => n + Math.max(0, l.attempts - 1), 0).toLocaleString('en-US'),
    );
    const sent = lines.filter((l) => l.attempts > 0).map((l) => l.durationMs);
    for (const p of [50, 95, 99]) {
      const value = Number(await page.locator(`[data-kpi="p${p}"]`).getAttribute('data-value'));
      const [lo, hi] = percentileRange(sent, p);
      expect(value).toBeGreaterThanOrEqual(lo * 0.99 - 0.1);
      expect(value).toBeLessThanOrEqual(hi * 1.01 + 0.1);
    }
    expect(await page.locator('#verdict').innerText()).toContain(`${failed.length} of ${lines.length} requests failed`);

    // Outcome tables.
    const table = async (id: string) =>
      Object.fromEntries(
        await page
          .locator(`#${id} tbody tr[data-key]`)
          .evaluateAll((rows: PageElement[]) =>
            rows.map((r): [string, number] => [
              r.getAttribute('data-key')!,
              Number(r.querySelector('td.num')!.textContent!.replace(/,/g, '')),
            ]),
          ),
      );
    const byStatus: Record<string, number> = {};
    const byError: Record<string, number> = {};
    for (const l of lines) {
      if (l.status !== null) byStatus[l.status] = (byStatus[l.status] ?? 0) + 1;
      else byStatus['no answer'] = (byStatus['no answer'] ?? 0) + 1;
      if (l.error) byError[l.error.code] = (byError[l.error.code] ?? 0) + 1;
    }
    expect(await table('by-status')).toEqual(byStatus);
    expect(await table('by-error')).toEqual(byError);

    // Slowest: the largest durations of the file, slowest first.
    const slowest = await page
      .locator('#slowest-table tbody tr')
      .evaluateAll((rows: PageElement[]) => rows.map((r) => Number(r.getAttribute('data-duration'))));
    expect(slowest).toEqual(sent.sort((a, b) => b - a).slice(0, 20));

    // Failures: every one listed, ids linked to their own row, which shows their line in the results file.
    const rows = page.locator('#failure-table tbody tr');
    expect(await rows.count()).toBe(failed.length);
    expect((await rows.evaluateAll((rs: PageElement[]) => rs.map((r) => r.getAttribute('data-id')))).sort()).toEqual(
      failed.map((l) => l.id).sort(),
    );
    const fileLines = fs.readFileSync(out, 'utf8').split('\n');
    for (const link of await page
      .locator('#failure-table a')
      .evaluateAll((as: PageElement[]) =>
        as.slice(0, 10).map((a): [string, string] => [a.getAttribute('href') ?? '', a.textContent ?? '']),
      )) {
      const m = /^#line-(\d+)$/.exec(link[0]);
      expect(m).not.toBeNull();
      expect(parseJson<Line>(fileLines[Number(m![1]) - 1]!).id).toBe(link[1]);
      expect(await page.locator(`#failure-table tr[id="line-${m![1]}"]`).getAttribute('data-id')).toBe(link[1]);
    }

    // Failure search.
    const search = page.locator('#failure-search');
    const visible = () => page.locator('#failure-table tbody tr:not(.hidden)');
    const n422 = failed.filter((l) => l.error!.code === 'HTTP_422').length;
    await search.fill('http_422');
    expect(await visible().count()).toBe(n422);
    expect((await visible().allInnerTexts()).every((t) => t.includes('HTTP_422'))).toBe(true);
    expect(await page.locator('#failure-count').innerText()).toContain(`${n422} of ${failed.length}`);
    await search.fill(WEIRD_ID);
    expect(await visible().count()).toBe(1);
    expect(await visible().first().getAttribute('data-id')).toBe(WEIRD_ID);
    await search.fill('timeout ord-');
    expect(await visible().count()).toBe(failed.filter((l) => l.error!.code === 'TIMEOUT').length);
    await search.fill('no-such-failure-zzz');
    expect(await visible().count()).toBe(0);
    await search.fill('');
    expect(await visible().count()).toBe(failed.length);

    // Redacted parameters; nothing fetched; nothing logged.
    const params = await page.locator('#parameters').innerText();
    expect(params).toContain('Authorization: [redacted]');
    expect(await page.content()).not.toContain('S3CRET');
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('a copy opened from anywhere: id links jump to their row; the answers are shown and searchable', async () => {
    const results = path.join(dir, 'answers.ndjson');
    const line = (id: string, status: number, response: unknown, durationMs: number) =>
      JSON.stringify({
        id,
        ok: status < 300,
        status,
        attempts: 1,
        durationMs,
        response,
        error: status < 300 ? null : { code: `HTTP_${status}`, message: `POST http://h/x answered ${status}` },
        startedAt: 1_790_000_000_000,
      });
    fs.writeFileSync(
      results,
      [
        line('ok-1', 201, { n: 1 }, 5),
        line('a1', 422, { detail: 'sku ZX-99 is out of stock', token: 'T0P-SECRET' }, 40),
        line('a2', 422, { detail: 'sku QQ-11 is out of stock' }, 30),
        line(WEIRD_ID, 500, '<b>boom</b>', 20),
      ].join('\n') + '\n',
    );
    const made = path.join(dir, 'answers.html');
    expect((await runCli(['report', results, '--html', made])).code).toBe(0);
    // Moved away from its results file: in-page links must not care.
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-copy-'));
    const copy = path.join(elsewhere, 'sent by mail.html');
    fs.copyFileSync(made, copy);
    try {
      const { page, errors, external } = await open(copy);
      await ready(page);
      const targeted = () =>
        page.evaluate(() => {
          const doc = (globalThis as unknown as { document: { querySelector(s: string): PageElement | null } })
            .document;
          return doc.querySelector(':target')?.getAttribute('data-id') ?? null;
        });
      // A failed request's id in the slowest table leads to its row among the failures.
      await page.locator('#slowest-table a', { hasText: 'a1' }).click();
      expect(new URL(page.url()).hash).toBe('#line-2');
      expect(await targeted()).toBe('a1');
      expect(await page.locator('#failure-table tr:target').count()).toBe(1);
      await page.locator('#failure-table a', { hasText: WEIRD_ID }).click();
      expect(await targeted()).toBe(WEIRD_ID);
      // A request that did not fail links to its own row in the slowest table.
      await page.locator('#slowest-table a', { hasText: 'ok-1' }).click();
      expect(await page.locator('#slowest-table tr:target').getAttribute('data-id')).toBe('ok-1');

      // The answers: shown (redacted, as text), and found by the search.
      const a1 = page.locator('#failure-table tr[data-id="a1"] td.response');
      expect(await a1.innerText()).toBe('{"detail":"sku ZX-99 is out of stock","token":"[redacted]"}');
      expect(
        await page.locator(`#failure-table tr[data-id="${WEIRD_ID.replace(/"/g, '\\"')}"] td.response`).innerText(),
      ).toBe('<b>boom</b>');
      const visible = () => page.locator('#failure-table tbody tr:not(.hidden)');
      await page.locator('#failure-search').fill('zx-99');
      expect(await visible().count()).toBe(1);
      expect(await visible().first().getAttribute('data-id')).toBe('a1');
      await page.locator('#failure-search').fill('out of stock');
      expect(await visible().count()).toBe(2);
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
      await page.close();
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 60_000);

  test('results without startedAt, and no results at all: the page still opens cleanly', async () => {
    const old = path.join(dir, 'old.ndjson');
    fs.writeFileSync(
      old,
      `${JSON.stringify({ id: '1', ok: true, status: 201, attempts: 1, durationMs: 12.4, response: null, error: null })}\n` +
        `${JSON.stringify({ id: '2', ok: false, status: 500, attempts: 1, durationMs: 84.2, response: null, error: { code: 'HTTP_500', message: 'boom' } })}\n`,
    );
    const empty = path.join(dir, 'empty.ndjson');
    fs.writeFileSync(empty, '');
    for (const [file, total, histogram] of [
      [old, '2', 1],
      [empty, '0', 0],
    ] as const) {
      const html = `${file}.html`;
      expect((await runCli(['report', file, '--html', html])).code).toBe(0);
      const { page, errors, external } = await open(html);
      await ready(page);
      expect(await page.locator('[data-kpi="total"] .value').innerText()).toBe(total);
      expect(await page.locator('#chart-throughput').count()).toBe(0);
      expect(await page.locator('#chart-histogram canvas').count()).toBe(histogram);
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
      await page.close();
    }
    expect(fs.readFileSync(`${old}.html`, 'utf8')).toContain('carry no <code>startedAt</code>');
  }, 30_000);

  test('--format openai results (gzip): the page opens cleanly and says the timings are not recorded', async () => {
    const line = (id: string, status: number | null, error: object | null) =>
      JSON.stringify({
        id: `batch_req_${id.padStart(32, '0')}`,
        custom_id: id,
        response: status === null ? null : { status_code: status, request_id: null, body: { n: id } },
        error,
      });
    const file = path.join(dir, 'openai.ndjson.gz');
    fs.writeFileSync(
      file,
      zlib.gzipSync(
        [line('1', 200, null), line('2', 422, null), line('3', null, { code: 'TIMEOUT', message: 'no answer' })]
          .map((l) => `${l}\n`)
          .join(''),
      ),
    );
    const html = `${file}.html`;
    expect((await runCli(['report', file, '--html', html])).code).toBe(0);
    const { page, errors, external } = await open(html);
    await ready(page);
    expect(await page.locator('[data-kpi="total"] .value').innerText()).toBe('3');
    expect(await page.locator('[data-kpi="failed"] .value').innerText()).toBe('2');
    expect(await page.locator('[data-kpi="latency"] .value').innerText()).toBe('not recorded');
    expect(await page.locator('#no-timings').count()).toBe(1);
    expect(await page.locator('#chart-latency, #chart-histogram').count()).toBe(0);
    expect(await page.locator('#failure-table tbody tr').count()).toBe(2);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  }, 30_000);

  test('the demo run: 1,500 orders, all succeeded, charts drawn (and the README screenshot)', async () => {
    const work = tmpDir();
    try {
      fs.mkdirSync(path.join(work, 'fixtures'));
      fs.copyFileSync(path.join(ROOT, 'fixtures/orders.ndjson'), path.join(work, 'fixtures/orders.ndjson'));
      fs.mkdirSync(path.join(work, 'demo-results'));
      const r = await runCli(
        [
          'run',
          'fixtures/orders.ndjson',
          '--url',
          `${server.url}/orders`,
          '--concurrency',
          '20',
          '--id-field',
          'orderId',
          '--out',
          'demo-results/results.ndjson',
          '--progress',
          'none',
          '--report',
          'demo-results/report.html',
        ],
        { cwd: work, timeoutMs: 60_000 },
      );
      expect(r.code).toBe(0);
      const html = path.join(work, 'demo-results/report.html');
      expect(fs.statSync(html).size).toBeLessThan(300_000);
      const { page, errors, external } = await open(html);
      await ready(page);
      expect(await page.locator('#verdict').innerText()).toContain('All 1,500 requests succeeded');
      expect(await page.locator('[data-kpi="total"] .value').innerText()).toBe('1,500');
      expect(await page.locator('#failures').innerText()).toContain('No failures.');
      for (const id of ['chart-throughput', 'chart-latency', 'chart-histogram'])
        expect(await countPixels(page, id, [9, 105, 218], 60)).toBeGreaterThan(50);
      expect(external).toEqual([]);
      expect(errors).toEqual([]);
      const shot = process.env.BATCHPOST_SCREENSHOT;
      if (shot) {
        // The top of the page, down to the outcome tables: what the README shows.
        const box = (await page.locator('#outcomes').boundingBox())!;
        await page.screenshot({
          path: path.resolve(ROOT, shot),
          fullPage: true,
          clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 24) },
        });
      }
      await page.close();
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 90_000);
});
