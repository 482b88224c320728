// The program run inside the test process: main(argv, io) with streams the test reads and a signal source it
// fires, against the fixture server. What the subprocess tests cannot reach directly: that a command writes only to
// the io it is given and hears only its signals, and how each way of stopping maps to an exit code and a hint.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { jest } from '@jest/globals';
import type { CliIO } from '../src/cli/io.js';
import { ndjsonFile, payloads, readResults, waitFor } from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

// resolveOptions as it is, unless a test makes it throw what the library throws for an option the CLI let through.
const options = await import('../src/engine/options.js');
let resolveThrows: Error | null = null;
jest.unstable_mockModule('../src/engine/options.js', () => ({
  ...options,
  resolveOptions: (o: Parameters<typeof options.resolveOptions>[0]) => {
    if (resolveThrows !== null) throw resolveThrows;
    return options.resolveOptions(o);
  },
}));
const { main } = await import('../src/cli/main.js');

/** A stream that keeps what is written, or fails every write with `failure` (a closed pipe). */
class Capture extends Writable {
  text = '';
  readonly isTTY = false;
  constructor(private readonly failure: Error | null = null) {
    super({ decodeStrings: false });
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.failure !== null) return done(this.failure);
    this.text += chunk.toString();
    done();
  }
}

function testIO(o: { stdin?: string; stdout?: Capture } = {}) {
  const stdout = o.stdout ?? new Capture();
  const stderr = new Capture();
  const signals = new EventEmitter();
  const io: CliIO = { stdin: Readable.from([o.stdin ?? '']), stdout, stderr, signals, env: {} };
  return { io, stdout, stderr, signals };
}

const server = useFixtureServer();
const tmpDir = useTmpDirs();

const ndjson = (items: object[]) => items.map((p) => JSON.stringify(p) + '\n').join('');

test('a run reads the injected stdin and writes its results to the injected stdout, its summary to stderr', async () => {
  const { io, stdout, stderr } = testIO({ stdin: ndjson(payloads(3)) });
  const code = await main(['run', '-', '--url', `${server.url}/echo`, '--threads', '0', '--progress', 'none'], io);
  expect({ code, stderr: stderr.text }).toEqual({ code: 0, stderr: expect.stringContaining('3 ok') as string });
  const lines = stdout.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; ok: boolean });
  expect(lines.map((l) => [l.id, l.ok]).sort()).toEqual([
    ['1', true],
    ['2', true],
    ['3', true],
  ]);
  expect(server.requests).toHaveLength(3);
});

test('--version prints the version of package.json on the injected stdout', async () => {
  const { io, stdout } = testIO();
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(await main(['--version'], io)).toBe(0);
  expect(stdout.text).toBe(`${pkg.version}\n`);
});

test('an injected SIGINT stops the run: exit 130, the resume line on the injected stderr; the process is not touched', async () => {
  const dir = tmpDir();
  const input = ndjsonFile(dir, payloads(20));
  const out = path.join(dir, 'out.ndjson');
  const { io, stderr, signals } = testIO();
  const processListeners = process.listenerCount('SIGINT');
  const args = ['run', input, '--url', `${server.url}/slow?ms=300`, '--concurrency', '2', '--out', out];
  const running = main([...args, '--threads', '0', '--progress', 'none'], io);
  await waitFor(() => server.requests.length >= 2, 10_000, 'the first requests');
  expect(signals.listenerCount('SIGINT')).toBe(1);
  expect(process.listenerCount('SIGINT')).toBe(processListeners);
  signals.emit('SIGINT', 'SIGINT');

  expect(await running).toBe(130);
  expect(stderr.text).toContain('batchpost: stopping — 2 requests in flight will finish');
  expect(stderr.text).toMatch(/ of 20 done \(\d+ ok, 0 failed\)\. Continue with:\n {2}batchpost run .* --resume\n$/);
  const recorded = readResults(out).length;
  expect(recorded).toBeGreaterThanOrEqual(2);
  expect(recorded).toBeLessThan(20);
  expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM')).toBe(0);
});

describe('OUTPUT_FAILED exits 1, as docs/errors.md says', () => {
  test('stdout closed under the run (EPIPE)', async () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const { io, stderr } = testIO({ stdin: ndjson(payloads(5)), stdout: new Capture(epipe) });
    const code = await main(['run', '-', '--url', `${server.url}/echo`, '--threads', '0', '--progress', 'none'], io);
    expect(code).toBe(1);
    expect(stderr.text).toContain('results could not be written: cannot write results to stdout: write EPIPE');
    expect(stderr.text).toContain('[OUTPUT_FAILED]');
  });

  test('--out in a folder that does not exist', async () => {
    const dir = tmpDir();
    const { io, stderr } = testIO({ stdin: ndjson(payloads(2)) });
    const out = path.join(dir, 'no-such-dir', 'out.ndjson');
    const code = await main(['run', '-', '--url', `${server.url}/echo`, '--out', out], io);
    expect(code).toBe(1);
    expect(stderr.text).toMatch(/^batchpost: cannot open .*out\.ndjson for results: .*ENOENT.* \[OUTPUT_FAILED\]\n/);
    expect(stderr.text).toContain('  Check that the folder exists and is writable.\n');
  });
});

test('a malformed CSV row stops the run with INPUT_INVALID_CSV (exit 2) and a hint about the row, not about ids', async () => {
  const dir = tmpDir();
  const input = path.join(dir, 'in.csv');
  fs.writeFileSync(input, 'sku,qty\nA,1\nB,2\nC,3,extra\nD,4\n');
  const out = path.join(dir, 'out.ndjson');
  const { io, stderr } = testIO();
  const code = await main(['run', input, '--url', `${server.url}/echo`, '--out', out, '--progress', 'none'], io);
  expect(code).toBe(2);
  const lines = stderr.text.trimEnd().split('\n');
  expect(lines.at(-2)).toMatch(/in\.csv:4: .* \[INPUT_INVALID_CSV\]$/);
  expect(lines.at(-1)).toBe('  2 requests were sent and recorded before this line. Fix the row, then add --resume.');
  expect(lines.at(-1)).not.toMatch(/\bids?\b/);
});

test('a RangeError from the library is an internal error (exit 1, with its stack), not a usage error', async () => {
  const { io, stderr } = testIO({ stdin: ndjson(payloads(1)) });
  resolveThrows = new RangeError('concurrency must be a positive integer, got 0');
  let code: number;
  try {
    code = await main(['run', '-', '--url', `${server.url}/echo`], io);
  } finally {
    resolveThrows = null;
  }
  expect(code).toBe(1);
  expect(stderr.text).toMatch(
    /^batchpost: internal error: RangeError: concurrency must be a positive integer, got 0\n\s+at /,
  );
  expect(stderr.text).not.toContain('[USAGE]');
  expect(server.requests).toHaveLength(0);
});

test('a flag out of range is still a usage error from the CLI parsers (exit 2), not an internal one', async () => {
  const { io, stderr } = testIO({ stdin: ndjson(payloads(1)) });
  const huge = '9'.repeat(400);
  const code = await main(['run', '-', '--url', `${server.url}/echo`, '--retries', huge], io);
  expect({ code, stderr: stderr.text }).toEqual({
    code: 2,
    stderr: `batchpost: --retries "${huge}": expected a whole number (0 or more) [USAGE]\n`,
  });
});

test('serve: the ready line on the injected stderr; an injected SIGTERM closes it (exit 0)', async () => {
  const { io, stderr, signals } = testIO();
  const serving = main(['serve', '--url', `${server.url}/echo`, '--port', '0', '--quiet'], io);
  await waitFor(() => stderr.text.includes('serving on'), 10_000, 'the ready line');
  signals.emit('SIGTERM', 'SIGTERM');
  expect(await serving).toBe(0);
  expect(stderr.text).toContain('batchpost: SIGTERM: stopping — no new connections; 0 batches in progress will finish');
  expect(stderr.text.endsWith('batchpost: stopped\n')).toBe(true);
  expect(signals.listenerCount('SIGTERM')).toBe(0);
});

test('worker: the ready line on the injected stderr; an injected SIGTERM stops it (exit 0)', async () => {
  const { io, stderr, signals } = testIO();
  const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const queueName = `inprocess-${process.pid}-${Date.now()}`;
  const working = main(['worker', '--queue', redis, '--queue-name', queueName], io);
  await waitFor(() => stderr.text.includes(`serving queue ${queueName}`), 10_000, 'the ready line');
  signals.emit('SIGTERM', 'SIGTERM');
  expect(await working).toBe(0);
  expect(stderr.text).toContain('batchpost worker: SIGTERM: stopping — 0 requests in flight will finish');
  expect(stderr.text.endsWith('batchpost worker: stopped; sent 0 requests (0 ok, 0 failed)\n')).toBe(true);
  expect(signals.listenerCount('SIGTERM')).toBe(0);
});
