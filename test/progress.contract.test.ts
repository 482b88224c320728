// The Progress contract, run against every display: bar, lines, json and none. A display is started with live RunStats and
// stopped once the run is over; it must never keep the process alive, must stop drawing when stopped, must let every
// note through, and must tolerate stop() twice.
import { createStats } from '../src/engine/stats.js';
import { jest } from '@jest/globals';
import type { Progress, RunStats } from '../src/engine/types.js';
import {
  BarProgress,
  createProgress,
  JsonProgress,
  LinesProgress,
  NoneProgress,
  type ProgressStream,
} from '../src/progress/index.js';

class FakeStream {
  chunks: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns = 100,
  ) {}
  write(chunk: unknown, ...rest: unknown[]): boolean {
    this.chunks.push(String(chunk));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
  asStream(): ProgressStream {
    return this as unknown as ProgressStream;
  }
}

function makeStats(fields: Partial<RunStats> = {}): RunStats {
  return { ...createStats(100), ...fields };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timers and intervals that keep the event loop alive (unref'd ones are not counted by Node). */
const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

interface ProgressCase {
  /** A display over `stream`. */
  make(stream: ProgressStream): Progress;
  /** The stream kind the display is meant for. */
  tty: boolean;
  /** How often it draws on its own while running (ms), or null for a display that never draws. */
  tickMs: number | null;
}

export function describeProgress(name: string, c: ProgressCase): void {
  describe(`Progress contract: ${name}`, () => {
    let stream: FakeStream;
    let progress: Progress;
    let stats: RunStats;
    beforeEach(() => {
      stream = new FakeStream(c.tty);
      progress = c.make(stream.asStream());
      stats = makeStats();
    });
    afterEach(() => {
      progress.stop();
      jest.useRealTimers();
    });

    it('start() then stop() leaves no timer behind (fake timers: none pending)', () => {
      jest.useFakeTimers();
      const p = c.make(stream.asStream()); // made under fake timers, so every timer it arms is visible
      expect(jest.getTimerCount()).toBe(0);
      p.start(stats);
      stats.done = 10;
      stats.ok = 10;
      jest.advanceTimersByTime(1000);
      // The fake clock does see the display's timer (so the check below is not vacuous).
      if (c.tickMs !== null) expect(jest.getTimerCount()).toBeGreaterThan(0);
      p.stop();
      expect(jest.getTimerCount()).toBe(0);
    });

    it('after stop() nothing more is drawn (real timers, several draw intervals later)', async () => {
      progress.start(stats);
      stats.done = 5;
      stats.ok = 5;
      await sleep(c.tickMs === null ? 50 : c.tickMs * 2 + 20);
      progress.stop();
      const written = stream.text;
      stats.done = 50; // a timer still running would draw this
      stats.ok = 50;
      await sleep(c.tickMs === null ? 100 : c.tickMs * 4 + 50);
      expect(stream.text).toBe(written);
    });

    it("while running it never keeps the process alive (its timers are unref'd)", () => {
      const before = refTimers();
      progress.start(stats);
      expect(refTimers()).toBe(before);
      progress.stop();
      expect(refTimers()).toBe(before);
    });

    it('after stop() no process listener is left behind', () => {
      const before = process.listenerCount('exit');
      progress.start(stats);
      progress.stop();
      expect(process.listenerCount('exit')).toBe(before);
    });

    it('note() text reaches the stream: before start, while running, and after stop', async () => {
      progress.note('note before start');
      expect(stream.text).toContain('note before start\n');
      progress.start(stats);
      stats.done = 3;
      progress.note('stopping… (press Ctrl-C again to abort)');
      expect(stream.text).toContain('stopping… (press Ctrl-C again to abort)\n');
      if (c.tickMs !== null) await sleep(c.tickMs + 20);
      progress.note('a second note, mid-run');
      progress.stop();
      expect(stream.text).toContain('a second note, mid-run\n');
      progress.note('resume with: batchpost run in.ndjson --resume');
      expect(stream.text).toContain('resume with: batchpost run in.ndjson --resume\n');
    });

    it('note() then stop() straight away still shows the note (not lost with the display)', () => {
      progress.start(stats);
      progress.note('last words');
      progress.stop();
      expect(stream.text).toContain('last words\n');
    });

    it('note() ends a message with exactly one newline', () => {
      progress.note('already ends\n');
      expect(stream.text).toContain('already ends\n');
      expect(stream.text).not.toContain('already ends\n\n');
    });

    it('stop() is idempotent (twice, and without start) and draws nothing the second time', () => {
      const fresh = c.make(new FakeStream(c.tty).asStream());
      expect(() => fresh.stop()).not.toThrow();
      expect(() => fresh.stop()).not.toThrow();

      progress.start(stats);
      stats.done = 7;
      stats.ok = 7;
      progress.stop();
      const written = stream.text;
      expect(() => progress.stop()).not.toThrow();
      expect(stream.text).toBe(written);
    });

    it('start() after stop() does not bring the display back', async () => {
      progress.start(stats);
      progress.stop();
      const written = stream.text;
      const before = refTimers();
      progress.start(stats);
      expect(refTimers()).toBe(before);
      await sleep(c.tickMs === null ? 20 : c.tickMs * 2 + 20);
      expect(stream.text).toBe(written);
    });

    const tickMs = c.tickMs;
    if (tickMs !== null) {
      it('draws on its own clock while running (the contract tests above can see a live timer)', async () => {
        progress.start(stats);
        const atStart = stream.chunks.length;
        stats.done = 20;
        stats.ok = 20;
        await sleep(tickMs * 3 + 50);
        expect(stream.chunks.length).toBeGreaterThan(atStart);
        expect(stream.text).toMatch(/20/);
      });
    }
  });
}

const LINES_INTERVAL_MS = 25;

describeProgress('bar', {
  tty: true,
  tickMs: 100, // cli-progress redraws at 10 fps
  make: (stream) => {
    const p = createProgress('bar', { stream, color: false });
    expect(p).toBeInstanceOf(BarProgress);
    return p;
  },
});

describeProgress('lines', {
  tty: false,
  tickMs: LINES_INTERVAL_MS,
  make: (stream) => {
    const p = createProgress('lines', { stream, color: false, intervalMs: LINES_INTERVAL_MS });
    expect(p).toBeInstanceOf(LinesProgress);
    return p;
  },
});

describeProgress('none', {
  tty: false,
  tickMs: null,
  make: (stream) => {
    const p = createProgress('none', { stream, color: false });
    expect(p).toBeInstanceOf(NoneProgress);
    return p;
  },
});

describeProgress('json', {
  tty: false,
  tickMs: LINES_INTERVAL_MS,
  make: (stream) => {
    const p = createProgress('json', { stream, color: false, intervalMs: LINES_INTERVAL_MS });
    expect(p).toBeInstanceOf(JsonProgress);
    return p;
  },
});
