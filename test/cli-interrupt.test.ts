// Interrupts, crashes and continuing a run: SIGINT/SIGTERM (graceful, then abort), kill -9 and --resume repairing
// a torn line, --retry-failed, OUTPUT_EXISTS, and input errors that stop a run. The CLI runs as a child process
// against the fixture server, which records every request (body, start and end time) for the assertions.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FixtureRequest } from '../fixtures/server.js';
import {
  ndjsonFile,
  readResults,
  runCli,
  shellWords,
  startCli,
  THREAD_MODES,
  waitFor,
  type CliResult,
} from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

interface ResultLine {
  id: string;
  ok: boolean;
  status: number | null;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
const tmpDir = useTmpDirs();

/** The fixture's clock (performance.timeOrigin + performance.now()), for comparing with startedAt / endedAt. */
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Payloads {n: 1..count}: with positional ids, payload n has id "n". */
const numbered = (count: number): Array<{ n: number }> => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
/**
 * Payloads {n, ms} for `/slow?ms={{ ms }}`: a first wave of `concurrency` answered in 300 ms, then a wave that takes
 * 2 s, then quick ones (so that --resume is quick). A signal sent early in the slow second wave leaves the run
 * nearly 2 s to stop before a graceful stop could be told from one that ignored the signal.
 */
const waves = (count: number, concurrency: number): Array<{ n: number; ms: number }> =>
  numbered(count).map(({ n }) => ({ n, ms: n <= concurrency ? 300 : n <= 2 * concurrency ? 2000 : 50 }));
const WAVES_URL = (): string => `${server.url}/slow?ms={{ ms }}`;
/** How long after the signal a start still counts as before it: slow enough a machine may take that long to react. */
const SIGNAL_SLACK_MS = 1000;
const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/** The id a fixture request was sent for: the `n` of its JSON body. */
function idOf(req: FixtureRequest): string {
  const body = JSON.parse(req.body) as { n?: unknown };
  if (typeof body.n !== 'number') throw new Error(`request without n: ${req.body}`);
  return String(body.n);
}

const sorted = (ids: Iterable<string>): string[] =>
  [...ids].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));

/** Ids of the results file, in file order (duplicates kept, so that tests can count them). */
const resultIds = (file: string): string[] => readResults<ResultLine>(file).map((r) => r.id);

/** Asserts the results file holds exactly one line per id in `expected`, each a whole JSON line. */
function expectOneLinePerId(file: string, expected: string[]): ResultLine[] {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const results = readResults<ResultLine>(file);
  const ids = results.map((r) => r.id);
  expect(sorted(ids)).toEqual(sorted(expected)); // sorted lists, so a duplicate shows as an extra element
  return results;
}

/** The pasteable command printed on stderr that continues the run with `flag`, as argv (without "batchpost"). */
function printedCommand(stderr: string, flag: '--resume' | '--retry-failed'): string[] {
  // On a line of its own (after an interrupt) or after a label ("failed   run again only the failures: …").
  const line = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.endsWith(` ${flag}`) && l.includes('batchpost run '))
    .map((l) => l.slice(l.indexOf('batchpost run ')))[0];
  if (line === undefined) throw new Error(`no "${flag}" command on stderr:\n${stderr}`);
  const words = shellWords(line);
  expect(words[0]).toBe('batchpost');
  return words.slice(1);
}

/** Starts the CLI and mirrors its stderr as it arrives, for waiting on notes while it runs. */
function startWatched(args: string[], options: Parameters<typeof startCli>[1] = {}) {
  const started = startCli(args, options);
  const live = { stderr: '', exited: false };
  started.child.stderr!.on('data', (d: string) => (live.stderr += d));
  void started.done.then(() => (live.exited = true));
  return { ...started, live };
}

/** Waits until the fixture has seen `count` requests, then a little longer: the signal lands mid-request. */
async function waitForRequests(count: number, what: string, thenMs = 60): Promise<void> {
  await waitFor(() => server.requests.length >= count, 10_000, what);
  await sleep(thenMs);
}

function describeRun(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout.slice(0, 2000)}`;
}

/** Checks a graceful stop: exit 130, the notes, every request seen is recorded once, nothing started late. */
function expectGracefulStop(r: CliResult, out: string, signalAt: number, total: number): string[] {
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 130, signal: null });
  expect(r.stderr).toMatch(/stopping/);
  expect(r.stderr).toMatch(/^\s*batchpost run .* --resume\s*$/m);

  // In-flight requests were let finish: every one the fixture saw has ended and is recorded, exactly once.
  const seen = server.requests.map(idOf);
  expect(server.requests.every((q) => q.endedAt !== null)).toBe(true);
  const recorded = resultIds(out);
  expect(recorded.length).toBe(new Set(recorded).size);
  expect(sorted(recorded)).toEqual(sorted(seen));
  expect(readResults<ResultLine>(out).every((l) => l.ok)).toBe(true);

  // Nothing new started once the signal was sent (with slack for a busy machine to deliver and handle it; the next
  // wave would start nearly 2 s after it, see `waves`).
  const late = server.requests.filter((q) => q.startedAt > signalAt + SIGNAL_SLACK_MS).map(idOf);
  expect(late).toEqual([]);
  // The stop was a real interruption, not a finished run.
  expect(recorded.length).toBeGreaterThan(0);
  expect(recorded.length).toBeLessThan(total);
  return recorded;
}

describe.each(THREAD_MODES)('SIGINT / SIGTERM (%s)', (_mode, threads) => {
  test('SIGINT lets requests in flight finish, records each once, starts nothing new; the printed --resume finishes the rest', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, waves(50, 5), 'in.ndjson');
    // Relative paths and a cwd: the printed command must work when pasted in the same directory.
    const args = ['run', 'in.ndjson', '--url', WAVES_URL(), '--concurrency', '5', '--out', 'out.ndjson', ...threads];
    const { child, done } = startWatched(args, { cwd: dir });
    child.stdin!.end();
    await waitForRequests(6, 'the second wave of requests');
    const signalAt = now();
    child.kill('SIGINT');
    const first = await done;
    const out = path.join(dir, 'out.ndjson');
    let recorded: string[];
    try {
      recorded = expectGracefulStop(first, out, signalAt, 50);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describeRun(first)}`);
    }

    server.reset();
    const resume = await runCli(printedCommand(first.stderr, '--resume'), { cwd: dir });
    expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
    expectOneLinePerId(out, range(1, 50));
    // Only what was not recorded went out again.
    const resent = server.requests.map(idOf);
    expect(sorted(resent)).toEqual(sorted(range(1, 50).filter((id) => !recorded.includes(id))));
  });

  test('a second SIGINT aborts requests in flight: exit 130 promptly, the aborted ones are not recorded', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(6));
    const out = path.join(dir, 'out.ndjson');
    const { child, done, live } = startWatched(
      ['run', input, '--url', `${server.url}/hang`, '--concurrency', '3', '--timeout', '60s', '--out', out, ...threads],
      { timeoutMs: 15_000 },
    );
    child.stdin!.end();
    await waitForRequests(3, 'three hanging requests');
    child.kill('SIGINT');
    await waitFor(() => /stopping/.test(live.stderr), 5_000, 'the "stopping" note');
    // The first signal only stops: the hanging requests keep the run alive.
    await sleep(300);
    expect(live.exited).toBe(false);

    const abortAt = Date.now();
    child.kill('SIGINT');
    const r = await done;
    const elapsed = Date.now() - abortAt;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 130, signal: null });
    expect(elapsed).toBeLessThan(5_000); // generous: an abort, not the 60 s timeout
    expect(r.stderr).toMatch(/abort/i);
    expect(r.stderr).toMatch(/^\s*batchpost run .* --resume\s*$/m);
    expect(server.requests.length).toBe(3);
    expect(fs.existsSync(out) ? readResults(out) : []).toEqual([]);
  });

  test('SIGTERM behaves like SIGINT', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, waves(20, 5));
    const out = path.join(dir, 'out.ndjson');
    const { child, done } = startWatched([
      'run',
      input,
      '--url',
      WAVES_URL(),
      '--concurrency',
      '5',
      '--out',
      out,
      ...threads,
    ]);
    child.stdin!.end();
    await waitForRequests(6, 'the second wave of requests');
    const signalAt = now();
    child.kill('SIGTERM');
    const r = await done;
    try {
      expectGracefulStop(r, out, signalAt, 20);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describeRun(r)}`);
    }
    expect(printedCommand(r.stderr, '--resume')).toEqual([
      'run',
      input,
      '--url',
      WAVES_URL(),
      '--concurrency',
      '5',
      '--out',
      out,
      ...threads,
      '--resume',
    ]);
  });

  test('stdin input: the resume hint says to feed the same input on stdin, and doing so finishes the run', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'out.ndjson');
    const text =
      numbered(20)
        .map((p) => JSON.stringify(p))
        .join('\n') + '\n';
    const args = ['run', '-', '--url', `${server.url}/slow?ms=300`, '--concurrency', '5', '--out', out, ...threads];
    const { child, done } = startWatched(args, { stdin: text });
    await waitForRequests(6, 'the second wave of requests');
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/same input on stdin/);
    const command = printedCommand(r.stderr, '--resume');
    expect(command).toContain('-');
    const recorded = resultIds(out);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThan(20);

    server.reset();
    const resume = await runCli(command, { stdin: text });
    expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
    expectOneLinePerId(out, range(1, 20));
    expect(sorted(server.requests.map(idOf))).toEqual(sorted(range(1, 20).filter((id) => !recorded.includes(id))));
  });
});

describe.each(THREAD_MODES)('kill -9 and --resume (%s)', (_mode, threads) => {
  test('after SIGKILL the file holds whole lines (but perhaps a torn last one); --resume repairs it and sends only the rest', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(40));
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/slow?ms=200`, '--concurrency', '5', '--out', out, ...threads];
    const { child, done } = startWatched(args);
    child.stdin!.end();
    // Killed 150 ms into the third wave: the first two were answered long enough ago to be in the file.
    await waitForRequests(11, 'the third wave of requests', 150);
    const killAt = now();
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');

    const text = fs.readFileSync(out, 'utf8');
    const pieces = text.split('\n');
    const tail = pieces.pop()!; // '' when the file ends with a newline, else a torn write
    const torn = tail !== '';
    const recorded = pieces.map((l) => (JSON.parse(l) as ResultLine).id); // every complete line is a whole result
    expect(recorded.length).toBe(new Set(recorded).size);
    // Results are flushed as they complete: what the fixture answered well before the kill is in the file.
    const answeredBefore = server.requests.filter((q) => q.endedAt !== null && q.endedAt < killAt - 100).map(idOf);
    // At least the first wave (with sender threads the waves need not stay aligned), so the check below is not empty.
    expect(answeredBefore.length).toBeGreaterThanOrEqual(5);
    expect(recorded).toEqual(expect.arrayContaining(answeredBefore));

    server.reset();
    const resume = await runCli([...args, '--resume']);
    expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
    if (torn) expect(resume.stderr).toMatch(/torn/);
    else expect(resume.stderr).not.toMatch(/torn/);
    expectOneLinePerId(out, range(1, 40));
    const resent = server.requests.map(idOf);
    expect(resent.filter((id) => recorded.includes(id))).toEqual([]);
    expect(sorted(resent)).toEqual(sorted(range(1, 40).filter((id) => !recorded.includes(id))));
  });

  test('--resume cuts a torn last line, says so, and re-sends that id', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(10));
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/echo`, '--out', out, ...threads];
    expect((await runCli(args)).code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(10);
    const kept = lines.slice(0, 6);
    fs.writeFileSync(out, kept.join('\n') + '\n' + lines[6]!.slice(0, 17)); // a write cut short by a crash
    const keptIds = kept.map((l) => (JSON.parse(l) as ResultLine).id);

    server.reset();
    const r = await runCli([...args, '--resume']);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stderr).toMatch(/torn/);
    expectOneLinePerId(out, range(1, 10));
    expect(sorted(server.requests.map(idOf))).toEqual(sorted(range(1, 10).filter((id) => !keptIds.includes(id))));
  });

  test('--resume keeps a whole last line that only lacks its newline (no torn note, nothing glued)', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(10));
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/echo`, '--out', out, ...threads];
    expect((await runCli(args)).code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const kept = lines.slice(0, 7);
    fs.writeFileSync(out, kept.join('\n')); // no final newline
    const keptIds = kept.map((l) => (JSON.parse(l) as ResultLine).id);

    server.reset();
    const r = await runCli([...args, '--resume']);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stderr).not.toMatch(/torn/);
    expectOneLinePerId(out, range(1, 10));
    expect(sorted(server.requests.map(idOf))).toEqual(sorted(range(1, 10).filter((id) => !keptIds.includes(id))));
  });
});

describe('kill -9 with sender threads', () => {
  // A sender thread answers a request and starts the next one before the main thread has written the first one's
  // result: killed in between, both are sent again. The kill lands the moment the fixture sees the first request
  // of a later wave (all of /slow's answers of one wave come together), which is exactly that moment.
  test('--resume re-sends at most --concurrency requests, wherever the kill lands (10 kills)', async () => {
    const total = 60;
    const concurrency = 10;
    const resent: number[] = [];
    for (let i = 0; i < 10; i++) {
      const dir = tmpDir();
      const input = ndjsonFile(dir, numbered(total));
      const out = path.join(dir, 'out.ndjson');
      const url = `${server.url}/slow?ms=50`;
      const args = ['run', input, '--url', url, '--concurrency', String(concurrency), '--out', out, '--threads', '2'];
      server.reset();
      const { child, done } = startWatched(args);
      child.stdin!.end();
      const killAt = concurrency * (1 + (i % 4)) + 1 + 2 * Math.floor(i / 4);
      server.onRequest = () => {
        if (server.requests.length === killAt) child.kill('SIGKILL');
      };
      const killed = await done;
      expect(killed.signal).toBe('SIGKILL');
      // Requests the dead process had already written reach the fixture before its connections close.
      await sleep(100);
      await waitFor(() => server.inFlight === 0, 10_000, "the killed run's connections to close");
      const sent = server.requests.length;

      server.reset();
      const resume = await runCli([...args, '--resume']);
      expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
      expectOneLinePerId(out, range(1, total));
      // Sent by the resume: every id the killed run never sent, and those it sent but did not record.
      resent.push(server.requests.length - (total - sent));
    }
    expect(resent.filter((n) => n > concurrency)).toEqual([]);
  }, 120_000);
});

describe('continuation flags and the results file', () => {
  test('--resume needs --out, and --format ndjson: exit 2 USAGE, nothing sent', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3));
    const noOut = await runCli(['run', input, '--url', `${server.url}/echo`, '--resume']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--resume/);
    expect(noOut.stderr).toMatch(/USAGE/);
    expect(noOut.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const csv = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '--out',
      path.join(dir, 'r.csv'),
      '--format',
      'csv',
      '--resume',
    ]);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toMatch(/USAGE/);
    expect(csv.stderr).toMatch(/--format/);

    const retryNoOut = await runCli(['run', input, '--url', `${server.url}/echo`, '--retry-failed']);
    expect(retryNoOut.code).toBe(2);
    expect(retryNoOut.stderr).toMatch(/USAGE/);
    expect(server.requests).toHaveLength(0);
  });

  test('an existing non-empty --out is refused with OUTPUT_EXISTS and left untouched; --overwrite replaces it', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(4));
    const out = path.join(dir, 'out.ndjson');
    const previous = '{"id":"old-1","ok":true,"status":200,"attempts":1,"durationMs":1,"response":null,"error":null}\n';
    fs.writeFileSync(out, previous);
    const args = ['run', input, '--url', `${server.url}/echo`, '--out', out];

    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/OUTPUT_EXISTS/);
    expect(refused.stderr).toMatch(/--resume|--overwrite/);
    expect(fs.readFileSync(out, 'utf8')).toBe(previous);
    expect(server.requests).toHaveLength(0);

    const replaced = await runCli([...args, '--overwrite']);
    expect({ code: replaced.code, stderr: replaced.stderr }).toMatchObject({ code: 0 });
    expectOneLinePerId(out, range(1, 4));
    expect(fs.readFileSync(out, 'utf8')).not.toContain('old-1');
  });

  test('--retry-failed re-sends only the failed ids and leaves one ok line per id', async () => {
    const dir = tmpDir();
    const failing = new Set(['3', '6', '9']);
    // /flaky/:key fails the first `fail` requests for a key (500), then answers 200: the same URL now succeeds.
    const payloads = numbered(10).map((p) => ({ ...p, fail: failing.has(String(p.n)) ? 1 : 0 }));
    const input = ndjsonFile(dir, payloads);
    const out = path.join(dir, 'out.ndjson');
    const first = await runCli(['run', input, '--url', `${server.url}/flaky/{{ n }}?fail={{ fail }}`, '--out', out]);
    expect({ code: first.code, stderr: first.stderr }).toMatchObject({ code: 1 });
    const firstResults = expectOneLinePerId(out, range(1, 10));
    expect(sorted(firstResults.filter((r) => !r.ok).map((r) => r.id))).toEqual(sorted(failing));
    expect(server.requests).toHaveLength(10); // POST 500 is not retried without an idempotency key

    const before = server.requests.length;
    const retry = await runCli(printedCommand(first.stderr, '--retry-failed'));
    expect({ code: retry.code, stderr: retry.stderr }).toMatchObject({ code: 0 });
    const resent = server.requests.slice(before).map(idOf);
    expect(resent).toHaveLength(failing.size);
    expect(sorted(resent)).toEqual(sorted(failing));
    const results = expectOneLinePerId(out, range(1, 10));
    expect(results.every((r) => r.ok)).toBe(true);
  });
});

describe('input errors', () => {
  const lines10 = (bad: string | null): string =>
    numbered(10)
      .map((p) => (p.n === 6 && bad !== null ? bad : JSON.stringify(p)))
      .join('\n') + '\n';

  test('a malformed line stops the run (exit 2, file:line, INPUT_INVALID_JSON); after the fix --resume sends only the rest', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in.ndjson');
    fs.writeFileSync(input, lines10('{"n": 6,'));
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/echo`, '--out', out];

    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${input}:6:`);
    expect(r.stderr).toMatch(/INPUT_INVALID_JSON/);
    expect(r.stderr).toMatch(/\b5 requests were sent/);
    expect(r.stderr).toMatch(/--resume/);
    expectOneLinePerId(out, range(1, 5));
    expect(sorted(server.requests.map(idOf))).toEqual(range(1, 5));

    fs.writeFileSync(input, lines10(null));
    server.reset();
    const resume = await runCli([...args, '--resume']);
    expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
    expect(sorted(server.requests.map(idOf))).toEqual(range(6, 10));
    expectOneLinePerId(out, range(1, 10));
  });

  test('--skip-invalid records the malformed line as INVALID_JSON and sends the other nine (exit 1)', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in.ndjson');
    fs.writeFileSync(input, lines10('{"n": 6,'));
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', out, '--skip-invalid']);
    expect(r.code).toBe(1);
    const results = expectOneLinePerId(out, range(1, 10));
    const six = results.find((x) => x.id === '6')!;
    expect(six.ok).toBe(false);
    expect(six.error?.code).toBe('INVALID_JSON');
    expect(results.filter((x) => x.id !== '6').every((x) => x.ok)).toBe(true);
    expect(sorted(server.requests.map(idOf))).toEqual(range(1, 10).filter((id) => id !== '6'));
  });

  test('--id-field: a duplicate id is DUPLICATE_ID naming its line; a missing one is MISSING_ID (exit 2)', async () => {
    const dir = tmpDir();
    const dup = ndjsonFile(
      dir,
      [
        { n: 1, sku: 'a' },
        { n: 2, sku: 'b' },
        { n: 3, sku: 'c' },
        { n: 4, sku: 'b' },
        { n: 5, sku: 'e' },
      ],
      'dup.ndjson',
    );
    const r1 = await runCli([
      'run',
      dup,
      '--url',
      `${server.url}/echo`,
      '--id-field',
      'sku',
      '--out',
      path.join(dir, 'dup.out'),
    ]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`${dup}:4:`);
    expect(r1.stderr).toMatch(/DUPLICATE_ID/);
    expect(r1.stderr).toMatch(/"b"/);
    expect(server.requests.map(idOf)).not.toContain('4');

    server.reset();
    const missing = ndjsonFile(
      dir,
      [{ n: 1, sku: 'a' }, { n: 2, sku: 'b' }, { n: 3 }, { n: 4, sku: 'd' }],
      'missing.ndjson',
    );
    const r2 = await runCli([
      'run',
      missing,
      '--url',
      `${server.url}/echo`,
      '--id-field',
      'sku',
      '--out',
      path.join(dir, 'missing.out'),
    ]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${missing}:3:`);
    expect(r2.stderr).toMatch(/MISSING_ID/);
    expect(server.requests.map(idOf)).not.toContain('3');
  });
});
