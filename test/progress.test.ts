// Progress displays, the end-of-run summary and the shared formatters: what the user sees on stderr.
import { createStats } from '../src/engine/stats.js';
import { readHold } from '../src/progress/view.js';
import { jest } from '@jest/globals';
import type { RunStats, Summary } from '../src/engine/types.js';
import {
  BarProgress,
  createProgress,
  formatBarLine,
  formatCount,
  formatDuration,
  formatEta,
  formatLatency,
  formatPercent,
  formatRate,
  formatSummary,
  LinesProgress,
  NoneProgress,
  RateMeter,
  useColor,
  type ProgressStream,
  type ProgressView,
} from '../src/progress/index.js';

// SGR (colour) sequences only; the bar also writes cursor-control sequences, which are not colour.
/* eslint-disable no-control-regex -- terminal escape sequences start with ESC, a control character */
const SGR = /\x1b\[[0-9;]*m/;
const ANY_ESCAPE = /\x1b/;
/* eslint-enable no-control-regex */

class FakeStream {
  chunks: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns = 120,
  ) {}
  write(chunk: unknown): boolean {
    this.chunks.push(String(chunk));
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
  /** The bar frames drawn so far (chunks that hold the count), last one last. */
  frames(): string[] {
    return this.chunks.filter((c) => /\d+(\/[\d,]+| done)/.test(c));
  }
  asStream(): ProgressStream {
    return this as unknown as ProgressStream;
  }
}

function makeStats(total: number | null, fields: Partial<RunStats> = {}): RunStats {
  return { ...createStats(total), ...fields };
}

function complete(stats: RunStats, ok: number, failed: number): void {
  stats.ok += ok;
  stats.failed += failed;
  stats.done += ok + failed;
}

function visibleWidth(s: string): number {
  // eslint-disable-next-line no-control-regex -- colour sequences start with ESC and take no columns
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}

describe('formatters', () => {
  test('counts have en-US thousands separators and are whole', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999.6)).toBe('1,000');
    expect(formatCount(-0.2)).toBe('0');
  });

  test('durations shrink precision as they grow', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(999.6)).toBe('1.0s');
    expect(formatDuration(12_345)).toBe('12.3s');
    expect(formatDuration(59_960)).toBe('1m00s');
    expect(formatDuration(109_000)).toBe('1m49s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(formatDuration(Number.NaN)).toBe('?');
  });

  test('latencies keep two or three significant digits', () => {
    expect(formatLatency(0.8)).toBe('0.8ms');
    expect(formatLatency(9.96)).toBe('10ms');
    expect(formatLatency(41.2)).toBe('41ms');
    expect(formatLatency(388)).toBe('388ms');
    expect(formatLatency(1234)).toBe('1.2s');
  });

  test('rates: separators above 10/s, one decimal below', () => {
    expect(formatRate(1842.3)).toBe('1,842/s');
    expect(formatRate(2.5)).toBe('2.5/s');
    expect(formatRate(0)).toBe('0/s');
  });

  test('ETAs are whole seconds, rounded up', () => {
    expect(formatEta(37_000)).toBe('37s');
    expect(formatEta(200)).toBe('1s');
    expect(formatEta(86_000)).toBe('1m26s');
    expect(formatEta(3_720_000)).toBe('1h02m');
  });

  test('percent rounds down so 100% means finished', () => {
    expect(formatPercent(131_072, 200_000)).toBe('65%');
    expect(formatPercent(199_999, 200_000)).toBe('99%');
    expect(formatPercent(200_000, 200_000)).toBe('100%');
  });
});

describe('RateMeter', () => {
  test('reports nothing until there is some history', () => {
    const meter = new RateMeter(5000, 500);
    meter.add(0, 0);
    expect(meter.perSecond()).toBeNull();
    meter.add(100, 50);
    expect(meter.perSecond()).toBeNull();
    meter.add(1000, 1000);
    expect(meter.perSecond()).toBe(1000);
  });

  test('is the recent rate, not the lifetime average', () => {
    const meter = new RateMeter(5000, 500);
    // 1,000/s for 10 s, then 100/s for 10 s, sampled 10x a second.
    let count = 0;
    for (let t = 0; t <= 20_000; t += 100) {
      meter.add(t, count);
      count += t < 10_000 ? 100 : 10;
    }
    // The lifetime average would be ~550/s.
    expect(meter.perSecond()).toBeCloseTo(100, 0);
  });
});

describe('lines display (not a TTY)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('prints one plain line per interval with count, percent, rate, counts and ETA', () => {
    const out = new FakeStream(false);
    const stats = makeStats(200_000);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    complete(stats, 39_990, 10);
    jest.advanceTimersByTime(4999);
    expect(out.text).toBe('');
    jest.advanceTimersByTime(1);
    // 40,000 in 5 s is 8,000/s; 160,000 left at that rate is 20 s.
    expect(out.text).toBe('batchpost: 40,000/200,000 (20%) 8,000/s ok 39,990 failed 10 eta 20s\n');
    progress.stop();
  });

  test('without a total: done count and rate, no percent or ETA', () => {
    const out = new FakeStream(false);
    const stats = makeStats(null);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    complete(stats, 39_990, 10);
    jest.advanceTimersByTime(5000);
    expect(out.text).toBe('batchpost: 40,000 done 8,000/s ok 39,990 failed 10\n');
    progress.stop();
  });

  test('a resumed run shows its own work: total is what it will send, skipped ids are not progress', () => {
    const out = new FakeStream(false);
    // 200,000 payloads, 100,000 already recorded: the CLI sets total to the 100,000 left to send.
    const stats = makeStats(100_000, { skipped: 100_000 });
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    complete(stats, 10_000, 0);
    jest.advanceTimersByTime(5000);
    expect(out.text).toBe('batchpost: 10,000/100,000 (10%) 2,000/s ok 10,000 failed 0 eta 45s\n');
    progress.stop();
  });

  test('keeps printing while the run stalls, and honours intervalMs', () => {
    const out = new FakeStream(false);
    const stats = makeStats(10);
    const progress = new LinesProgress({ stream: out.asStream(), intervalMs: 1000 });
    progress.start(stats);
    complete(stats, 1, 0);
    jest.advanceTimersByTime(3000);
    expect(out.text.split('\n').filter(Boolean)).toHaveLength(3);
    progress.stop();
  });

  test('stop() adds a final line when something changed since the last one, and only then', () => {
    const out = new FakeStream(false);
    const stats = makeStats(100);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    complete(stats, 40, 0);
    jest.advanceTimersByTime(5000);
    complete(stats, 59, 1);
    progress.stop();
    const lines = out.text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^batchpost: 100\/100 \(100%\) .*ok 99 failed 1$/);
    expect(lines[1]).not.toContain('eta');

    const quiet = new FakeStream(false);
    const unchanged = new LinesProgress({ stream: quiet.asStream() });
    const s2 = makeStats(100);
    unchanged.start(s2);
    complete(s2, 5, 0);
    jest.advanceTimersByTime(5000);
    unchanged.stop();
    expect(quiet.text.split('\n').filter(Boolean)).toHaveLength(1);
  });

  test('a short run still ends with one line', () => {
    const out = new FakeStream(false);
    const stats = makeStats(3);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    complete(stats, 3, 0);
    progress.stop();
    expect(out.text).toBe('batchpost: 3/3 (100%) ok 3 failed 0\n');
  });

  test('stop() is idempotent and clears the timer', () => {
    const out = new FakeStream(false);
    const stats = makeStats(100);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    expect(jest.getTimerCount()).toBe(1);
    complete(stats, 1, 0);
    progress.stop();
    const after = out.text;
    complete(stats, 1, 0);
    progress.stop();
    jest.advanceTimersByTime(60_000);
    expect(jest.getTimerCount()).toBe(0);
    expect(out.text).toBe(after);
  });

  test('notes are plain lines; nothing has colour or escapes', () => {
    const out = new FakeStream(false);
    const stats = makeStats(100);
    const progress = new LinesProgress({ stream: out.asStream() });
    progress.start(stats);
    progress.note('batchpost: stopping — 20 requests in flight will finish');
    complete(stats, 50, 5);
    jest.advanceTimersByTime(5000);
    progress.stop();
    expect(out.chunks[0]).toBe('batchpost: stopping — 20 requests in flight will finish\n');
    expect(out.text).not.toMatch(ANY_ESCAPE);
    expect(out.text).not.toMatch(/[✓✗▕█]/);
  });

  test('rejects a nonsensical interval', () => {
    expect(() => new LinesProgress({ stream: new FakeStream(false).asStream(), intervalMs: 0 })).toThrow(RangeError);
  });
});

describe('bar display (TTY)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('draws done/total, percent, rate, ETA and counts, without colour when color=false', () => {
    const out = new FakeStream(true, 120);
    const stats = makeStats(200_000);
    const progress = new BarProgress({ stream: out.asStream(), color: false });
    progress.start(stats);
    for (let i = 0; i < 20; i++) {
      complete(stats, 6_544, 9);
      jest.advanceTimersByTime(100);
    }
    // Land exactly on the UX example's numbers.
    complete(stats, 130_904 - stats.ok, 168 - stats.failed);
    jest.advanceTimersByTime(100);
    const frame = out.frames().at(-1)!;
    expect(frame).toMatch(/^▕█+[▏▎▍▌▋▊▉]? +▏ 131,072\/200,000 {2}65% {2}[\d,]+\/s {2}ETA \d+s {2}✓ 130,904 {2}✗ 168$/);
    expect(out.text).not.toMatch(SGR);
    progress.stop();
  });

  test('colours ✓ green and ✗ red (only when something failed) when color=true', () => {
    const out = new FakeStream(true);
    const stats = makeStats(10);
    const progress = new BarProgress({ stream: out.asStream(), color: true });
    progress.start(stats);
    complete(stats, 2, 0);
    jest.advanceTimersByTime(100);
    let frame = out.frames().at(-1)!;
    expect(frame).toContain('\x1b[32m✓ 2\x1b[39m');
    expect(frame).not.toContain('\x1b[31m');
    complete(stats, 0, 1);
    jest.advanceTimersByTime(100);
    frame = out.frames().at(-1)!;
    expect(frame).toContain('\x1b[31m✗ 1\x1b[39m');
    progress.stop();
  });

  test('without a total: done count and rate, no bar, percent or ETA', () => {
    const out = new FakeStream(true);
    const stats = makeStats(null);
    const progress = new BarProgress({ stream: out.asStream(), color: false });
    progress.start(stats);
    for (let i = 0; i < 20; i++) {
      complete(stats, 100, 0);
      jest.advanceTimersByTime(100);
    }
    const frame = out.frames().at(-1)!;
    expect(frame).toBe('2,000 done  1,000/s  ✓ 2,000  ✗ 0');
    progress.stop();
  });

  test('reads the stats on its own clock, about ten times a second', () => {
    const out = new FakeStream(true);
    const stats = makeStats(1000);
    const progress = new BarProgress({ stream: out.asStream(), color: false });
    progress.start(stats);
    const before = out.frames().length;
    complete(stats, 5, 0);
    // Nothing is drawn because the counters moved; only the timer draws.
    expect(out.frames()).toHaveLength(before);
    jest.advanceTimersByTime(1000);
    const drawn = out.frames().length - before;
    expect(drawn).toBeGreaterThanOrEqual(9);
    expect(drawn).toBeLessThanOrEqual(11);
    progress.stop();
  });

  test('note() prints a whole line above the bar and redraws the bar below it', () => {
    const out = new FakeStream(true);
    const stats = makeStats(100);
    const progress = new BarProgress({ stream: out.asStream(), color: false });
    progress.start(stats);
    complete(stats, 7, 0);
    progress.note('batchpost: stopping — 20 requests in flight will finish');
    const noteAt = out.chunks.findIndex((c) => c.includes('stopping'));
    expect(noteAt).toBeGreaterThan(0);
    expect(out.chunks[noteAt]).toMatch(/batchpost: stopping — 20 requests in flight will finish\n/);
    // The bar line was erased before the note, so the note does not start mid-bar.
    // eslint-disable-next-line no-control-regex -- the erase-line sequence starts with ESC
    expect(out.chunks.slice(0, noteAt).join('')).toMatch(/\x1b\[2K$/);
    expect(out.chunks.slice(noteAt + 1).join('')).toContain('7/100');
    progress.stop();
  });

  test('stop() erases the bar, restores line wrapping, clears the timer, and is idempotent', () => {
    const out = new FakeStream(true);
    const stats = makeStats(100);
    const progress = new BarProgress({ stream: out.asStream(), color: false });
    progress.start(stats);
    expect(jest.getTimerCount()).toBe(1);
    complete(stats, 50, 0);
    jest.advanceTimersByTime(500);
    progress.stop();
    // eslint-disable-next-line no-control-regex -- terminal control sequences start with ESC
    expect(out.text).toMatch(/\x1b\[\?7h\x1b\[1G\x1b\[0J$/); // wrap back on, cursor home, line erased
    expect(jest.getTimerCount()).toBe(0);
    const after = out.text;
    progress.stop();
    complete(stats, 50, 0);
    jest.advanceTimersByTime(5000);
    expect(out.text).toBe(after);
    // Notes after stop() still reach the user, as plain lines.
    progress.note('done');
    expect(out.text).toBe(`${after}done\n`);
  });

  test('a line fits the terminal: the bar gives way first, then the least useful numbers', () => {
    const view: ProgressView = {
      total: 200_000,
      position: 131_072,
      ok: 130_904,
      failed: 168,
      ratePerSec: 1842,
      etaMs: 37_000,
      hold: 'throttled 4s (429)',
    };
    for (let width = 20; width <= 200; width++) {
      for (const color of [false, true]) {
        const line = formatBarLine(view, { color, width });
        expect(visibleWidth(line)).toBeLessThanOrEqual(width - 1);
        expect(line).toContain('131,072/200,000');
      }
    }
    expect(formatBarLine(view, { color: false, width: 200 })).toBe(
      '▕██████████████████▎         ▏ 131,072/200,000  65%  1,842/s  ETA 37s  ✓ 130,904  ✗ 168  ⏸ throttled 4s (429)',
    );
    // 80 columns without a hold reason: the bar is still there.
    expect(formatBarLine({ ...view, hold: null }, { color: false, width: 80 })).toMatch(/^▕.+▏ 131,072/);
    // Narrow: no bar, failures kept over the rest.
    expect(formatBarLine(view, { color: false, width: 40 })).toBe('131,072/200,000  ✗ 168');
  });

  test('symbols: false draws the same line in plain ASCII (NO_COLOR, TERM=dumb)', () => {
    const view: ProgressView = {
      total: 200_000,
      position: 131_072,
      ok: 130_904,
      failed: 168,
      ratePerSec: 1842,
      etaMs: 37_000,
      hold: 'throttled 4s (429)',
    };
    expect(formatBarLine(view, { color: false, width: 200, symbols: false })).toBe(
      '[##################..........] 131,072/200,000  65%  1,842/s  ETA 37s  ok 130,904  failed 168  throttled 4s (429)',
    );
    for (let width = 20; width <= 200; width++) {
      const line = formatBarLine(view, { color: false, width, symbols: false });
      expect(line.length).toBeLessThanOrEqual(width - 1);
      expect(line).toMatch(/^[\x20-\x7e]*$/);
    }
    expect(formatBarLine({ ...view, total: null, etaMs: null }, { color: false, width: 80, symbols: false })).toBe(
      '131,072 done  1,842/s  ok 130,904  failed 168  throttled 4s (429)',
    );
  });
});

describe('timers never keep the process alive', () => {
  const liveTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  test.each(['bar', 'lines'] as const)('%s', (mode) => {
    const before = liveTimers();
    const progress = createProgress(mode, {
      stream: new FakeStream(mode === 'bar').asStream(),
      color: false,
      intervalMs: 50,
    });
    try {
      progress.start(makeStats(10));
      // A ref'd timer would show up here; an unref'd one does not.
      expect(liveTimers()).toBe(before);
      progress.note('a note re-arms the bar timer');
      expect(liveTimers()).toBe(before);
    } finally {
      progress.stop(); // so a failure here does not hang jest as well
    }
  });
});

describe('none display and the factory', () => {
  test('none prints only notes', () => {
    const out = new FakeStream(true);
    const progress = createProgress('none', { stream: out.asStream(), color: true });
    expect(progress).toBeInstanceOf(NoneProgress);
    const stats = makeStats(10);
    progress.start(stats);
    complete(stats, 10, 0);
    progress.note('hello');
    progress.stop();
    progress.stop();
    expect(out.text).toBe('hello\n');
  });

  test('auto is the bar on a TTY and lines elsewhere; a forced bar off a TTY is lines too', () => {
    const tty = new FakeStream(true).asStream();
    const pipe = new FakeStream(false).asStream();
    expect(createProgress('auto', { stream: tty, color: false })).toBeInstanceOf(BarProgress);
    expect(createProgress('auto', { stream: pipe, color: false })).toBeInstanceOf(LinesProgress);
    expect(createProgress('bar', { stream: tty, color: false })).toBeInstanceOf(BarProgress);
    expect(createProgress('bar', { stream: pipe, color: false })).toBeInstanceOf(LinesProgress);
    expect(createProgress('lines', { stream: tty, color: false })).toBeInstanceOf(LinesProgress);
  });

  test('an unknown mode is refused', () => {
    expect(() => createProgress('fancy' as 'bar', { stream: new FakeStream(true).asStream(), color: false })).toThrow(
      /unknown progress mode "fancy"/,
    );
  });
});

describe('useColor', () => {
  const tty = { isTTY: true };
  test('a TTY with NO_COLOR unset gets colour', () => {
    expect(useColor(tty, { TERM: 'xterm-256color' })).toBe(true);
  });
  test('NO_COLOR set to anything non-empty turns colour off', () => {
    expect(useColor(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(tty, { NO_COLOR: 'false' })).toBe(false);
  });
  test('NO_COLOR set but empty does not', () => {
    expect(useColor(tty, { NO_COLOR: '' })).toBe(true);
  });
  test('not a TTY, or a dumb terminal: no colour', () => {
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
    expect(useColor(tty, { TERM: 'dumb' })).toBe(false);
  });
});

describe('formatSummary', () => {
  const base: Summary = {
    total: 200_000,
    ok: 200_000,
    failed: 0,
    skipped: 0,
    retries: 0,
    byStatus: { '201': 200_000 },
    byError: {},
    latencyMs: { p50: 41.2, p95: 120.4, p99: 388.1, max: 1500 },
    durationMs: 109_000,
    ratePerSec: 1834.9,
    interrupted: false,
    inputError: null,
    throttle: null,
    changed: null,
  };
  const mixed: Summary = {
    ...base,
    ok: 199_713,
    failed: 287,
    retries: 512,
    // Deliberately not in count order: the summary sorts.
    byStatus: { '422': 7, '201': 199_713, '500': 241 },
    byError: { HTTP_422: 7, TIMEOUT: 39, HTTP_500: 241 },
  };
  const retry = 'batchpost run orders.ndjson … --out results.ndjson --retry-failed';
  const plain = { color: false, symbols: true };

  test('throttled: how long, why, and the pace it settled at', () => {
    const throttled = { ...base, throttle: { ms: 4200, reasons: ['429', 'Retry-After'], concurrency: 5, rate: null } };
    expect(formatSummary(throttled, plain).split('\n')[1]).toBe(
      '  latency p50 41ms  p95 120ms  p99 388ms   throttled 4.2s (429, Retry-After), settled at 5 in flight',
    );
    const paced = { ...base, throttle: { ms: 61_000, reasons: ['RateLimit'], concurrency: 10, rate: 12.5 } };
    expect(formatSummary(paced, plain)).toContain('throttled 1m01s (RateLimit), settled at 13/s');
    const hold = readHold(
      {
        ...createStats(10),
        throttle: { active: true, reasons: ['429'], since: 1_000, totalMs: 0, concurrency: 2, rate: null },
      },
      5_000,
    );
    expect(hold).toBe('throttled 4.0s (429) at 2 in flight');
    expect(readHold(createStats(10))).toBeNull();
  });

  test('all ok: one headline, no failure talk', () => {
    const text = formatSummary(base, { ...plain, resultsPath: 'results.ndjson', retryFailedCommand: retry });
    expect(text).toBe(
      [
        '✓ 200,000 ok   in 1m49s, 1,835/s',
        '  latency p50 41ms  p95 120ms  p99 388ms',
        '  status   201 200,000',
        '  results  results.ndjson',
      ].join('\n'),
    );
  });

  test('mixed failures: errors and statuses by count, retries, and the command to retry', () => {
    const text = formatSummary(mixed, { ...plain, resultsPath: 'results.ndjson', retryFailedCommand: retry });
    expect(text).toBe(
      [
        '✓ 199,713 ok   ✗ 287 failed (HTTP_500 241, TIMEOUT 39, HTTP_422 7)   in 1m49s, 1,835/s',
        '  latency p50 41ms  p95 120ms  p99 388ms   retries 512',
        '  status   201 199,713  500 241  422 7',
        '  results  results.ndjson',
        `  failed   run again only the failures: ${retry}`,
      ].join('\n'),
    );
  });

  test('symbols off: the same words without ✓ ✗ or colour', () => {
    const text = formatSummary(mixed, { color: false, symbols: false });
    expect(text.split('\n')[0]).toBe(
      '199,713 ok   287 failed (HTTP_500 241, TIMEOUT 39, HTTP_422 7)   in 1m49s, 1,835/s',
    );
    expect(text).not.toMatch(/[✓✗]/);
    expect(text).not.toMatch(ANY_ESCAPE);
  });

  test('colour: ok green, failures red', () => {
    const text = formatSummary(mixed, { color: true, symbols: true });
    expect(text).toContain('\x1b[32m✓ 199,713 ok\x1b[39m');
    expect(text).toContain('\x1b[31m✗ 287 failed\x1b[39m');
    expect(formatSummary(base, { color: true, symbols: true })).not.toContain('\x1b[31m');
  });

  test('many error codes are cut to the top five', () => {
    const byError = { A: 6, B: 5, C: 4, D: 3, E: 2, F: 1, G: 1 };
    const text = formatSummary({ ...mixed, failed: 22, byError }, plain);
    expect(text.split('\n')[0]).toContain('(A 6, B 5, C 4, D 3, E 2, +2 more)');
  });

  test('interrupted: says so and how far it got', () => {
    const text = formatSummary(
      { ...mixed, total: 52_311, ok: 52_300, failed: 11, interrupted: true, byError: { HTTP_500: 11 } },
      plain,
    );
    expect(text).toContain('\n  stopped  interrupted: 52,311 recorded');
    expect(text).not.toContain(' of ');
    expect(formatSummary(base, plain)).not.toContain('stopped');
  });

  test('interrupted with a total beyond what was recorded: "of N"', () => {
    const text = formatSummary({ ...base, ok: 52_000, skipped: 311, interrupted: true }, plain);
    expect(text).toContain('  stopped  interrupted: 52,311 of 200,000 recorded');
  });

  test('stopped by the input: names the code', () => {
    const inputError = { code: 'INPUT_INVALID_JSON', message: 'not valid JSON', line: 3, excerpt: '{"sku":' };
    const text = formatSummary({ ...base, total: 2, ok: 2, inputError }, plain);
    expect(text).toContain('  stopped  by an input error (INPUT_INVALID_JSON): 2 recorded');
  });

  test('skipped by --resume: shown when there were any', () => {
    expect(formatSummary({ ...base, skipped: 1200 }, plain)).toContain('\n  skipped  1,200 already recorded');
    expect(formatSummary(base, plain)).not.toContain('skipped');
  });

  test('nothing sent (all already recorded): no latency or rate', () => {
    const text = formatSummary(
      { ...base, total: 0, ok: 0, skipped: 1200, byStatus: {}, durationMs: 12, ratePerSec: 0 },
      plain,
    );
    expect(text).toBe(['✓ 0 ok   in 12ms', '  skipped  1,200 already recorded'].join('\n'));
  });

  test('sub-millisecond and multi-second latencies', () => {
    const text = formatSummary({ ...base, latencyMs: { p50: 0.8, p95: 41, p99: 1234, max: 2000 } }, plain);
    expect(text).toContain('  latency p50 0.8ms  p95 41ms  p99 1.2s');
  });
});
