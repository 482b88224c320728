// How many sender threads a run gets (--threads). What threads must keep exact is tested end to end, in both modes,
// by the CLI suites (THREAD_MODES in helpers/cli.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SenderConfig } from '../src/engine/sender-config.js';
import { ThreadedSender, threadsFor } from '../src/threads/index.js';
import { runCli } from './helpers/cli.js';

describe('threadsFor', () => {
  test.each([
    [1, 0],
    [2, 0],
    [3, 1],
    [4, 2],
    [8, 4],
    [64, 4],
  ])("'auto' on %i cores: %i sender threads", (cores, threads) => {
    expect(threadsFor('auto', 64, cores)).toBe(threads);
  });

  test('a number is taken as given, but never more threads than requests in flight', () => {
    expect(threadsFor(3, 64, 2)).toBe(3);
    expect(threadsFor(0, 64, 16)).toBe(0);
    expect(threadsFor(8, 2, 16)).toBe(2);
    expect(threadsFor('auto', 1, 16)).toBe(1);
  });
});

describe('--threads on the command line', () => {
  test.each([
    ['65', /--threads 65: at most 64/],
    ['two', /--threads "two": expected a whole number/],
    ['-1', /--threads "-1": expected a whole number/],
  ])('--threads %s is a usage error (exit 2)', async (value, message) => {
    const r = await runCli(['run', '-', '--url', 'http://127.0.0.1:9/x', '--threads', value], { stdin: '{"a":1}\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('[USAGE]');
  });
});

describe('a sender thread that dies', () => {
  test('settles what it held as unfinished (null), stops the rest and says why with THREAD_FAILED', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-thread-'));
    const script = path.join(dir, 'dying-thread.mjs');
    // Takes the first batch of requests, then dies the way a bug would: an uncaught exception.
    fs.writeFileSync(
      script,
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => { throw new Error('boom'); });\n",
    );
    const config: SenderConfig = {
      concurrency: 4,
      rate: null,
      timeoutMs: 1000,
      transform: null,
      expect: null,
      includeHeaders: false,
      saveResponses: null,
      adaptive: true,
      authCommand: null,
      authRefreshMs: null,
      policy: {
        retries: 0,
        repeatable: false,
        unrepeatableReason: '',
        baseDelayMs: 10,
        maxDelayMs: 100,
        maxRetryAfterMs: 1000,
      },
    };
    const stats = { started: 0, inFlight: 0, retries: 0, throttle: null };
    const sender = new ThreadedSender(config, { connections: 4, timeoutMs: 1000 }, 2, stats, pathToFileURL(script));
    const settled: [string, unknown][] = [];
    const all = new Promise<void>((resolve) => {
      for (let i = 1; i <= 6; i++) {
        sender.submit(
          String(i),
          { method: 'POST', url: 'http://127.0.0.1:9/x', headers: {}, body: '{}' },
          (result, id) => {
            settled.push([id, result]);
            if (settled.length === 6) resolve();
          },
        );
      }
    });
    await all;
    expect(settled.map(([id]) => id).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(settled.every(([, result]) => result === null)).toBe(true);
    expect(sender.failure).toMatchObject({ code: 'THREAD_FAILED' });
    expect(sender.failure!.message).toContain('boom');
    // Stopped: what comes later is not sent either, and the threads are gone.
    let late: unknown = 'not settled';
    sender.submit(
      '7',
      { method: 'POST', url: 'http://127.0.0.1:9/x', headers: {}, body: '{}' },
      (result) => (late = result),
    );
    expect(late).toBeNull();
    await sender.exited();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
