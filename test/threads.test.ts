// How many sender threads a run gets (--threads). What threads must keep exact is tested end to end, in both modes,
// by the CLI suites (THREAD_MODES in helpers/cli.ts).
import { threadsFor } from '../src/threads/index.js';
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
