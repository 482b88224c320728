// The retry policy, the pacer and the option parsers: pure functions, tested as data.
import { Governor } from '../src/engine/adaptive.js';
import { Pacer } from '../src/engine/pacer.js';
import { parseRetryAfter, retryDelayMs, shouldRetry, type RetryPolicy } from '../src/engine/retry.js';
import { commandLine } from '../src/cli/command-line.js';
import { parseDuration, parseFailOn, parseHeaders, parseRate } from '../src/options/parse.js';
import { shellQuote } from '../src/util/shell-quote.js';
import { failedExitCode } from '../src/cli/exit.js';
import type { Summary } from '../src/engine/types.js';

const policy = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  retries: 2,
  repeatable: false,
  unrepeatableReason: 'POST without an idempotency key',
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  ...over,
});

describe('shouldRetry', () => {
  test.each([
    ['ECONNREFUSED', false, true],
    ['ENOTFOUND', false, true],
    ['HTTP_429', false, true],
    ['HTTP_503', false, true],
    ['HTTP_500', false, false],
    ['HTTP_502', false, false],
    ['HTTP_504', false, false],
    ['TIMEOUT', false, false],
    ['ECONNRESET', false, false],
    ['HTTP_500', true, true],
    ['TIMEOUT', true, true],
    ['ECONNRESET', true, true],
    ['HTTP_400', true, false],
    ['HTTP_404', true, false],
    ['HTTP_422', true, false],
  ])('%s (repeatable=%s) → retry %s', (code, repeatable, expected) => {
    expect(shouldRetry(policy({ repeatable }), code, 1).retry).toBe(expected);
  });

  test('the unsafe refusal says what would make it safe', () => {
    const v = shouldRetry(policy(), 'HTTP_500', 1);
    expect(v).toEqual({
      retry: false,
      note: 'not retried: POST without an idempotency key (add --idempotency-key or --retry-unsafe)',
    });
  });

  test('gives up after 1 + retries attempts', () => {
    expect(shouldRetry(policy({ retries: 2 }), 'HTTP_503', 2).retry).toBe(true);
    expect(shouldRetry(policy({ retries: 2 }), 'HTTP_503', 3)).toEqual({
      retry: false,
      note: 'gave up after 3 attempts',
    });
    expect(shouldRetry(policy({ retries: 0 }), 'HTTP_503', 1)).toEqual({
      retry: false,
      note: 'gave up after 1 attempt',
    });
  });
});

describe('retryDelayMs', () => {
  test('full jitter within the exponential ceiling', () => {
    expect(retryDelayMs(policy(), 1, null, () => 0.999)).toBeCloseTo(199.8);
    expect(retryDelayMs(policy(), 3, null, () => 0.5)).toBe(400);
    expect(retryDelayMs(policy(), 20, null, () => 1)).toBe(10_000);
    expect(retryDelayMs(policy(), 2, null, () => 0)).toBe(0);
  });
  test('Retry-After wins, capped by --max-retry-after', () => {
    expect(retryDelayMs(policy(), 1, 3000)).toBe(3000);
    expect(retryDelayMs(policy({ maxRetryAfterMs: 1000 }), 1, 3000)).toBe(1000);
  });
  test('parseRetryAfter: seconds, HTTP-date, junk', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(['5'])).toBe(5000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(undefined)).toBeNull();
  });
});

describe('Pacer', () => {
  test('spaces starts one interval apart on a fake clock', async () => {
    let t = 0;
    const pacer = new Pacer(10, () => t); // one every 100 ms
    expect(pacer.acquire()).toBeNull();
    const second = pacer.acquire();
    expect(second).not.toBeNull();
    t = 50;
    const third = pacer.acquire(); // queued behind the second, never ahead of it
    expect(third).not.toBeNull();
    let thirdStarted = false;
    third!.then(
      () => (thirdStarted = true),
      () => {},
    );
    t = 100;
    await second;
    expect(thirdStarted).toBe(false); // due at 200, not before
    pacer.cancel(new Error('done'));
    await expect(third).rejects.toThrow('done');
  });

  test('the grid begins at the first start, wherever the clock stands', async () => {
    let t = 12_345.6;
    const pacer = new Pacer(100, () => t); // one every 10 ms
    expect(pacer.acquire()).toBeNull();
    t += 8.5; // a grid on the clock's own multiples of 10 ms would have let this one go now
    const second = pacer.acquire();
    expect(second).not.toBeNull();
    pacer.cancel(new Error('done'));
    await expect(second).rejects.toThrow('done');
  });

  test('real clock: 20 starts at 100/s take about 190 ms, never bunched', async () => {
    const pacer = new Pacer(100);
    const starts: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        await pacer.acquire();
        starts.push(performance.now() - t0);
      }),
    );
    expect(starts[19]!).toBeGreaterThanOrEqual(180);
    // Never bunched, however late the timers fire on a busy machine: a late start may fall close to the next one
    // (the grid skips ahead, it does not catch up), so any k + 1 starts span at least k - 1 intervals.
    for (let i = 0; i < starts.length; i++)
      for (let j = i + 2; j < starts.length; j++)
        expect(starts[j]! - starts[i]!).toBeGreaterThanOrEqual((j - i - 1) * 10 - 1);
  });
});

describe('option parsers', () => {
  test('durations', () => {
    expect(parseDuration('250ms', '--timeout')).toBe(250);
    expect(parseDuration('30s', '--timeout')).toBe(30_000);
    expect(parseDuration('2m', '--timeout')).toBe(120_000);
    expect(parseDuration('1.5s', '--timeout')).toBe(1500);
    expect(() => parseDuration('soon', '--timeout')).toThrow(
      '--timeout "soon": expected a duration such as 500ms, 30s or 2m',
    );
  });
  test('rates', () => {
    expect(parseRate('50')).toBe(50);
    expect(parseRate('30/s')).toBe(30);
    expect(parseRate('300/m')).toBe(5);
    expect(() => parseRate('fast')).toThrow(
      '--rate "fast": expected a number per second or minute, e.g. --rate 50 or --rate 300/m',
    );
    expect(() => parseRate('0')).toThrow();
  });
  test('headers', () => {
    expect(parseHeaders(['Authorization: Bearer a:b', 'X-N:1'])).toEqual({ Authorization: 'Bearer a:b', 'X-N': '1' });
    expect(() => parseHeaders(['nocolon'])).toThrow('expected "Name: value"');
    expect(() => parseHeaders(['X: a\r\nY: b'])).toThrow('line break');
  });
  test('--fail-on and exit codes', () => {
    const s = (failed: number, total: number) => ({ failed, total }) as Summary;
    expect(failedExitCode(parseFailOn('any'), s(0, 10))).toBe(0);
    expect(failedExitCode(parseFailOn('any'), s(1, 10))).toBe(1);
    expect(failedExitCode(parseFailOn('none'), s(10, 10))).toBe(0);
    expect(failedExitCode(parseFailOn('10%'), s(1, 10))).toBe(0);
    expect(failedExitCode(parseFailOn('10%'), s(2, 10))).toBe(1);
    // A bare number is a count of failures tolerated.
    expect(failedExitCode(parseFailOn('2'), s(2, 10))).toBe(0);
    expect(failedExitCode(parseFailOn('1'), s(2, 10))).toBe(1);
    expect(() => parseFailOn('2.5')).toThrow('--fail-on "2.5"');
    expect(() => parseFailOn('lots')).toThrow('--fail-on "lots"');
  });
  test('continuation commands are quoted and carry one continuation flag', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(
      commandLine(['run', 'in.ndjson', '--url', 'http://x/{{ id }}', '--out', 'r.ndjson', '--overwrite'], 'resume'),
    ).toBe("batchpost run in.ndjson --url 'http://x/{{ id }}' --out r.ndjson --resume");
    expect(commandLine(['run', 'a', '--resume'], 'retry-failed')).toBe('batchpost run a --retry-failed');
  });
});

describe('Governor (adaptive pace)', () => {
  const make = (maxConcurrency = 8, maxRate: number | null = null) => {
    let t = 1_000_000;
    const changes: [number, number | null][] = [];
    const g = new Governor(
      maxConcurrency,
      maxRate,
      60_000,
      (c, r) => changes.push([c, r]),
      () => t,
    );
    return { g, changes, advance: (ms: number) => (t += ms), now: () => t };
  };

  test('a 429 with Retry-After pauses starts, halves concurrency once per second, then recovers additively', () => {
    const { g, changes, advance } = make(8);
    expect(g.gate()).toBeNull();
    g.observe(429, { 'retry-after': '2' });
    g.observe(429, { 'retry-after': '2' }); // same burst: no second halving
    expect(changes).toEqual([[4, null]]);
    expect(g.gate()).not.toBeNull();
    expect(g.throttle).toMatchObject({ active: true, reasons: ['429', 'Retry-After'], concurrency: 4 });
    advance(2000);
    expect(g.gate()).toBeNull();
    for (let i = 0; i < 200; i++) g.observe(200, {});
    expect(changes.at(-1)).toEqual([8, null]);
    expect(g.throttle.active).toBe(false);
    expect(g.throttle.totalMs).toBeGreaterThanOrEqual(2000);
    g.close();
  });

  test('RateLimit-Remaining: 0 pauses until the reset, X-RateLimit-Reset as epoch seconds; never below one', () => {
    const { g, now } = make(2);
    g.observe(200, { 'ratelimit-remaining': '0', 'ratelimit-reset': '3' });
    expect(g.throttle.reasons).toEqual(['RateLimit']);
    expect(g.gate()).not.toBeNull();
    g.close();
    const second = make(1);
    second.g.observe(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(now() / 1000) + 5) });
    expect(second.g.throttle).toMatchObject({ reasons: ['X-RateLimit'], concurrency: 1 });
    second.g.close();
    const third = make(4);
    third.g.observe(200, { 'ratelimit-remaining': '7', 'ratelimit-reset': '3' });
    expect(third.g.throttle.active).toBe(false);
  });

  test('with --rate the rate halves too and never exceeds the ceiling when it recovers', () => {
    const { g, changes, advance } = make(4, 100);
    g.observe(503, {});
    expect(changes).toEqual([[2, 50]]);
    advance(10);
    for (let i = 0; i < 5000; i++) g.observe(200, {});
    expect(changes.at(-1)).toEqual([4, 100]);
    expect(Math.max(...changes.map((c) => c[1]!))).toBe(100);
  });
});
