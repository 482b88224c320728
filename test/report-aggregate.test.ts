// Unit tests of the report's building blocks: the aggregator and its bounded parts, redaction, XML escaping, the
// tee sink and the results reader.
import { expect } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Result, Sink } from '../src/engine/types.js';
import { ReportAggregator, summaryFromSnapshot } from '../src/report/aggregate.js';
import { FailureSample } from '../src/report/failure-sample.js';
import { countLines, junitClassname, relativeHref } from '../src/report/files.js';
import { BIN_COUNT, binLowerMs, binOf, binPercentile, binUpperMs } from '../src/report/latency-bins.js';
import { readResults } from '../src/report/read-results.js';
import { redactArgv, redactHeaders, redactUrls, redactValue, REDACTED } from '../src/util/redact.js';
import { Slowest } from '../src/report/slowest.js';
import { teeSink } from '../src/report/tee-sink.js';
import { MAX_SPANS, ThrottleSpans } from '../src/report/throttle-spans.js';
import { MAX_BUCKETS, TimeBuckets } from '../src/report/time-buckets.js';
import { xmlAttr, xmlText } from '../src/report/xml.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function result(id: string, over: Partial<Result> = {}): Result {
  return {
    id,
    ok: true,
    status: 201,
    attempts: 1,
    durationMs: 10,
    response: null,
    error: null,
    startedAt: T0,
    ...over,
  };
}

function failure(id: string, code: string, over: Partial<Result> = {}): Result {
  const status = code.startsWith('HTTP_') ? Number(code.slice(5)) : null;
  return result(id, { ok: false, status, error: { code, message: `${code} for ${id}` }, ...over });
}

/** Nearest-rank percentile of exact values. */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('ReportAggregator', () => {
  test('counts outcomes, statuses, errors, attempts and retries exactly', () => {
    const agg = new ReportAggregator();
    agg.add(result('1'));
    agg.add(result('2', { attempts: 3 }));
    agg.add(failure('3', 'HTTP_500'));
    agg.add(failure('4', 'HTTP_429', { attempts: 2 }));
    agg.add(failure('5', 'TIMEOUT', { attempts: 3, durationMs: 300 }));
    agg.add(failure('6', 'INVALID_JSON', { attempts: 0, durationMs: 0 }));
    const s = agg.snapshot();
    expect(s).toMatchObject({ total: 6, ok: 2, failed: 4, attempts: 10, retries: 5, retried: 3, noStatus: 2 });
    expect(s.byStatus).toEqual({ '201': 2, '429': 1, '500': 1 });
    expect(Object.keys(s.byStatus)).toEqual(['201', '429', '500']); // most frequent first, then numeric
    expect(s.byError).toEqual({ HTTP_500: 1, HTTP_429: 1, TIMEOUT: 1, INVALID_JSON: 1 });
    expect(s.byAttempts).toEqual({ '0': 1, '1': 2, '2': 1, '3': 2 });
    expect(s.throttle).toMatchObject({ source: 'results', requests: 1, reasons: ['429'] });
    // The never-sent payload is neither in the latency histogram nor among the slowest.
    expect(s.histogram.reduce((n, b) => n + b.count, 0)).toBe(5);
    expect(s.slowest.map((r) => r.id)).not.toContain('6');
    expect(s.failures.map((f) => f.id)).toEqual(['3', '4', '5', '6']);
    expect(s.failuresLeftOut).toBe(0);
  });

  test('latency percentiles match exact ones within HDR precision', () => {
    const agg = new ReportAggregator();
    const values: number[] = [];
    let x = 7;
    for (let i = 0; i < 5000; i++) {
      x = (x * 48271) % 2147483647;
      const ms = Math.round((1 + (x % 100_000) / 100) * 10) / 10; // 1.0 .. 1001.0 ms
      values.push(ms);
      agg.add(result(String(i), { durationMs: ms, startedAt: T0 + i }));
    }
    const s = agg.snapshot();
    for (const p of [50, 90, 95, 99] as const) {
      const exact = exactPercentile(values, p);
      expect(Math.abs(s.latencyMs[`p${p}`] - exact)).toBeLessThanOrEqual(exact * 0.01 + 0.1);
    }
    expect(s.latencyMs.max).toBeCloseTo(Math.max(...values), 0);
    expect(s.latencyMs.min).toBeCloseTo(Math.min(...values), 0);
  });

  test('time series: started and completed per second land in their buckets', () => {
    const agg = new ReportAggregator();
    // 10 requests started in the first 100 ms bucket, each taking 250 ms; 5 started 1 s later, one of them failed.
    for (let i = 0; i < 10; i++) agg.add(result(`a${i}`, { startedAt: T0 + i, durationMs: 250 }));
    for (let i = 0; i < 5; i++)
      agg.add(
        i === 0
          ? failure(`b${i}`, 'HTTP_500', { startedAt: T0 + 1000 })
          : result(`b${i}`, { startedAt: T0 + 1000, attempts: 2 }),
      );
    const s = agg.snapshot();
    expect(s.bucketMs).toBe(100);
    const at = (t: number) => s.series.find((p) => p.t === t);
    expect(at(T0)).toMatchObject({ started: 10, completed: 0, failed: 0 });
    expect(at(T0 + 200)).toMatchObject({ started: 0, completed: 10 });
    expect(at(T0 + 1000)).toMatchObject({ started: 5, failed: 1, retried: 4 });
    expect(s.firstStartedAt).toBe(T0);
    expect(s.lastEndedAt).toBe(T0 + 1010);
    expect(summaryFromSnapshot(s)).toMatchObject({ total: 15, ok: 14, failed: 1, durationMs: 1010, retries: 4 });
  });

  test('results without startedAt are counted but not charted', () => {
    const agg = new ReportAggregator();
    agg.add(result('1', { startedAt: undefined }));
    agg.add(result('2'));
    const s = agg.snapshot();
    expect(s.total).toBe(2);
    expect(s.untimed).toBe(1);
    expect(s.series.reduce((n, p) => n + p.started, 0)).toBe(1);
  });

  test('memory stays bounded: a long run coarsens buckets, lists are capped and say what they left out', () => {
    const agg = new ReportAggregator({ slowest: 5, failures: 50, failuresPerCode: 20 });
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const startedAt = T0 + i * 250; // ~14 hours
      if (i % 10 === 0)
        agg.add(failure(String(i), i % 1000 === 0 ? 'TIMEOUT' : 'HTTP_500', { startedAt, durationMs: 5 }));
      else agg.add(result(String(i), { startedAt, durationMs: 1 + (i % 977) }));
    }
    const s = agg.snapshot();
    expect(s.series.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(s.bucketMs).toBeGreaterThanOrEqual((n * 250) / MAX_BUCKETS);
    expect(s.series.reduce((sum, p) => sum + p.started, 0)).toBe(n);
    expect(s.series.reduce((sum, p) => sum + p.completed, 0)).toBe(n);
    expect(s.series.reduce((sum, p) => sum + p.failed, 0)).toBe(n / 10);
    expect(s.slowest).toHaveLength(5);
    expect(s.slowest.every((r) => r.durationMs === 977)).toBe(true);
    expect(s.failures).toHaveLength(40); // 20 of each code: TIMEOUT has 200, HTTP_500 19,800
    expect(s.failures.filter((f) => f.code === 'TIMEOUT')).toHaveLength(20);
    expect(s.failuresLeftOut).toBe(n / 10 - 40);
    expect(JSON.stringify(s).length).toBeLessThan(400_000);
  });
});

describe('TimeBuckets', () => {
  test('coarsening merges whole buckets: no count is lost or split', () => {
    const b = new TimeBuckets();
    let total = 0;
    for (let i = 0; i < 3000; i++) {
      b.add(T0 + i * 37, 12, false, false, false);
      total++;
    }
    const entries = b.entries();
    expect(entries.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(entries.reduce((n, [, x]) => n + x.started, 0)).toBe(total);
    expect(entries.reduce((n, [, x]) => n + x.completed, 0)).toBe(total);
    for (const [t] of entries) expect(t % b.widthMs).toBe(0);
    const starts = entries.map(([t]) => t);
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
  });

  test('an out-of-order early result widens the span the same way', () => {
    const b = new TimeBuckets();
    b.add(T0 + 3_600_000, 1, false, false, false);
    b.add(T0, 1, false, false, false);
    expect(b.widthMs).toBeGreaterThanOrEqual(3_600_000 / MAX_BUCKETS);
    expect(b.entries().map(([, x]) => x.started)).toEqual([1, 1]);
  });
});

describe('latency bins', () => {
  test('every value lands in a bin whose edges hold it', () => {
    for (const ms of [0, 0.05, 0.1, 0.11, 1, 9.99, 10, 41.7, 388, 1234.5, 60_000, 1e9]) {
      const i = binOf(ms);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(BIN_COUNT);
      expect(binLowerMs(i)).toBeLessThanOrEqual(ms);
      expect(ms <= binUpperMs(i) || binUpperMs(i) === Infinity).toBe(true);
    }
  });

  test('a percentile from bins is within one bin of the exact value, and never above the maximum', () => {
    const bins = new Uint32Array(BIN_COUNT);
    const values = Array.from({ length: 1000 }, (_, i) => 5 + i * 0.5);
    for (const v of values) bins[binOf(v)]!++;
    const p95 = binPercentile(bins, values.length, 95, 504.5);
    expect(Math.abs(p95 - exactPercentile(values, 95)) / exactPercentile(values, 95)).toBeLessThan(0.05);
    expect(binPercentile(bins, values.length, 100, 504.5)).toBeLessThanOrEqual(504.5);
    expect(binPercentile(bins, 0, 50)).toBeNaN();
  });
});

describe('ThrottleSpans', () => {
  test('overlapping and touching intervals merge; the total is their union', () => {
    const t = new ThrottleSpans();
    t.add(T0, T0 + 100, ['429']);
    t.add(T0 + 50, T0 + 300, ['503']);
    t.add(T0 + 1000, T0 + 1100, ['429']);
    t.add(T0 + 300, T0 + 400, ['429']);
    expect(t.list()).toEqual([
      { start: T0, end: T0 + 400, count: 3, reasons: ['429', '503'] },
      { start: T0 + 1000, end: T0 + 1100, count: 1, reasons: ['429'] },
    ]);
    expect(t.totalMs()).toBe(500);
    // An interval covering both merges everything.
    t.add(T0 - 10, T0 + 2000, ['429']);
    expect(t.list()).toHaveLength(1);
    expect(t.totalMs()).toBe(2010);
  });

  test('the list is capped; bridged gaps do not count as throttled time', () => {
    const t = new ThrottleSpans();
    for (let i = 0; i < MAX_SPANS * 3; i++) t.add(T0 + i * 1000, T0 + i * 1000 + 10, ['429']);
    expect(t.size).toBeLessThanOrEqual(MAX_SPANS);
    expect(t.totalMs()).toBe(MAX_SPANS * 3 * 10);
    expect(t.list().reduce((n, s) => n + s.count, 0)).toBe(MAX_SPANS * 3);
  });
});

describe('Slowest and FailureSample', () => {
  test('Slowest keeps the N largest, slowest first', () => {
    const s = new Slowest(3);
    const ds = [5, 1, 9, 3, 7, 8, 2];
    ds.forEach((d, i) =>
      s.add({ id: String(i), line: i + 1, status: 200, code: null, attempts: 1, durationMs: d, startedAt: null }),
    );
    expect(s.list().map((r) => r.durationMs)).toEqual([9, 8, 7]);
  });

  test('FailureSample: codes take turns so a rare error is listed next to a flood', () => {
    const f = new FailureSample(10);
    for (let i = 0; i < 100; i++)
      f.add(
        { id: `a${i}`, line: i, status: 500, code: 'HTTP_500', attempts: 1, durationMs: 1, startedAt: null },
        'boom',
      );
    f.add(
      { id: 'rare', line: 1000, status: null, code: 'ECONNRESET', attempts: 1, durationMs: 1, startedAt: null },
      'x'.repeat(1000),
    );
    const list = f.list();
    expect(list).toHaveLength(10);
    expect(list.map((r) => r.id)).toContain('rare');
    expect(list[list.length - 1]!.id).toBe('rare'); // kept in arrival order
    expect(list.find((r) => r.id === 'rare')!.message.length).toBeLessThan(400);
    expect(f.total).toBe(101);
  });
});

describe('redaction', () => {
  test('secret headers, URL passwords and secret query parameters', () => {
    expect(
      redactHeaders({
        Authorization: 'Bearer x',
        'X-Api-Key': 'k',
        Cookie: 'c',
        'X-Session-Id': 's',
        Accept: 'application/json',
        'Content-Type': 'a/b',
      }),
    ).toEqual({
      Authorization: REDACTED,
      'X-Api-Key': REDACTED,
      Cookie: REDACTED,
      'X-Session-Id': REDACTED,
      Accept: 'application/json',
      'Content-Type': 'a/b',
    });
    expect(redactUrls('https://u:pw@h.example/a?x=1&api_key=SEC&access_token=T2#f')).toBe(
      `https://u:${REDACTED}@h.example/a?x=1&api_key=${REDACTED}&access_token=${REDACTED}#f`,
    );
    expect(redactUrls('POST https://h/orders?password=p1 answered 500')).toBe(
      `POST https://h/orders?password=${REDACTED} answered 500`,
    );
    expect(redactUrls('POST https://h/o?a=1&token=t:k: no answer')).toBe(
      `POST https://h/o?a=1&token=${REDACTED}: no answer`,
    );
    expect(redactUrls('see https://h/o?key=abc.')).toBe(`see https://h/o?key=${REDACTED}.`);
    expect(redactUrls('https://h/users/{{ id }}?page=2')).toBe('https://h/users/{{ id }}?page=2');
  });

  test('response bodies: secret keys at any depth, URLs in strings', () => {
    expect(
      redactValue({
        headers: { authorization: 'Bearer x', accept: '*/*' },
        list: [{ password: 'p', n: 1 }],
        url: 'https://h/?api_key=k',
        n: 2,
      }),
    ).toEqual({
      headers: { authorization: REDACTED, accept: '*/*' },
      list: [{ password: REDACTED, n: 1 }],
      url: `https://h/?api_key=${REDACTED}`,
      n: 2,
    });
    expect(redactValue('plain text')).toBe('plain text');
  });

  test('command lines: every form of -H and --url', () => {
    const argv = [
      'run',
      'in.ndjson',
      '-H',
      'Authorization: Bearer T',
      '--header=Cookie: a=b',
      '-HX-Token:t',
      '-H',
      'Accept: */*',
      '--url',
      'https://h/?token=zz',
      '--url=https://a:b@h/',
    ];
    expect(redactArgv(argv)).toEqual([
      'run',
      'in.ndjson',
      '-H',
      `Authorization: ${REDACTED}`,
      `--header=Cookie: ${REDACTED}`,
      `-HX-Token: ${REDACTED}`,
      '-H',
      'Accept: */*',
      '--url',
      `https://h/?token=${REDACTED}`,
      `--url=https://a:${REDACTED}@h/`,
    ]);
  });
});

describe('XML escaping', () => {
  test('markup, quotes, control characters and lone surrogates', () => {
    expect(xmlText('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
    expect(xmlAttr(`"x" 'y'\n\t<`)).toBe('&quot;x&quot; &apos;y&apos;&#10;&#9;&lt;');
    expect(xmlText('bell\u0007 nul\u0000 ok\n')).toBe('bell\uFFFD nul\uFFFD ok\n');
    expect(xmlText('lone \uD800 pair \uD83D\uDE00')).toBe('lone \uFFFD pair \uD83D\uDE00');
    expect(xmlAttr('plain-id_17')).toBe('plain-id_17');
  });
});

describe('teeSink', () => {
  test('writes to the real sink first, forwards ready and close, survives a throwing observer', async () => {
    const written: string[] = [];
    let closed = 0;
    const inner: Sink = {
      write: (r) => void written.push(r.id),
      ready: () => null,
      close: () => {
        closed++;
        return Promise.resolve();
      },
    };
    const seen: string[] = [];
    const tee = teeSink(inner, (r) => {
      if (r.id === 'bad') throw new Error('observer broke');
      seen.push(r.id);
    });
    tee.write(result('1'));
    tee.write(result('bad'));
    tee.write(result('2'));
    expect(written).toEqual(['1', 'bad', '2']);
    expect(seen).toEqual(['1']); // switched off after the first error
    expect(tee.observerError?.message).toBe('observer broke');
    expect(tee.ready?.()).toBeNull();
    await tee.close();
    expect(closed).toBe(1);
    expect('ready' in teeSink({ write: () => {}, close: async () => {} }, () => {})).toBe(false);
  });
});

describe('readResults and file helpers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-report-unit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  test('NDJSON with blank lines and a torn last line', async () => {
    const file = write(
      'a.ndjson',
      `${JSON.stringify(result('1'))}\n\n${JSON.stringify(failure('2', 'HTTP_500'))}\n{"id":"3","ok":tr`,
    );
    const seen: Array<[string, number]> = [];
    const outcome = await readResults(file, (r, line) => void seen.push([r.id, line]));
    expect(seen).toEqual([
      ['1', 1],
      ['2', 3],
    ]);
    expect(outcome).toEqual({ results: 2, format: 'ndjson', tornLine: 4 });
  });

  test('a malformed line that is not the last stops with RESULTS_CORRUPT naming it', async () => {
    const file = write('b.ndjson', `${JSON.stringify(result('1'))}\n{"nope":1}\n${JSON.stringify(result('3'))}\n`);
    await expect(readResults(file, () => {})).rejects.toMatchObject({
      code: 'RESULTS_CORRUPT',
      message: expect.stringContaining('b.ndjson:2'),
    });
  });

  test('--format json files (one entry per line) and long lines across read chunks', async () => {
    const big = 'x'.repeat(3 << 20);
    const text = `{\n"1":${JSON.stringify({ ...result('1'), id: undefined, response: big })},\n"2":${JSON.stringify({ ...failure('2', 'TIMEOUT'), id: undefined })}\n}\n`;
    const file = write('c.json', text);
    const seen: Array<[string, number, boolean]> = [];
    const outcome = await readResults(file, (r, line) => void seen.push([r.id, line, r.ok]));
    expect(seen).toEqual([
      ['1', 2, true],
      ['2', 3, false],
    ]);
    expect(outcome.format).toBe('json');
  });

  test('countLines, relativeHref, junitClassname', async () => {
    expect(await countLines(write('d', 'a\nb\n'))).toBe(2);
    expect(await countLines(write('e', 'a\nb'))).toBe(2);
    expect(await countLines(path.join(dir, 'missing'))).toBe(0);
    expect(relativeHref('/r/out/report.html', '/r/results dir/res#1.ndjson')).toBe('../results%20dir/res%231.ndjson');
    expect(junitClassname('data/orders.v2.ndjson')).toBe('batchpost.orders_v2');
    expect(junitClassname('-')).toBe('batchpost.stdin');
  });
});
