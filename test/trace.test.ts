// --trace FILE: every attempt's exchange as NDJSON (request, answer, timing, error), secrets hidden; --trace-failed
// keeps the requests that ended ok:false; the trace never replaces a file that is not one.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, readResults, runCli, tmpDir } from './helpers/cli.js';

interface TraceLine {
  id: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  request: { method: string; url: string; headers: Record<string, string>; body?: string; bodyBytes?: number };
  response: {
    status: number;
    statusText: string;
    headers: Record<string, string | string[]>;
    body?: string;
    bodyBytes?: number;
    truncated?: true;
  } | null;
  error: { code: string; message: string } | null;
  next: 'retry' | 'done' | 'interrupted';
  result?: { ok: boolean; status: number | null; error: { code: string; message: string } | null };
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

const SECRETS = ['Bearer s3cr3t-TOKEN', 'k3y-VALUE', 'q-T0KEN', 'hunter2-PW'];

test('every attempt of every request, in order per request, with its outcome on the last; secrets hidden', async () => {
  const trace = path.join(dir, 'trace.ndjson');
  const input = ndjsonFile(dir, [
    { n: 1, password: 'hunter2-PW' },
    { n: 2, password: 'hunter2-PW' },
  ]);
  const r = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/flaky/k{{ n }}?fail={{ n }}&code=503&retryAfter=0&token=q-T0KEN`,
    '-X',
    'PUT',
    '-H',
    'Authorization: Bearer s3cr3t-TOKEN',
    '-H',
    'X-Api-Key: k3y-VALUE',
    '--trace',
    trace,
    '--threads',
    '2',
  ]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  const text = fs.readFileSync(trace, 'utf8');
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  const lines = parseLines<TraceLine>(text);
  const of = (id: string) => lines.filter((l) => l.id === id);
  expect(of('1').map((l) => [l.attempt, l.response?.status, l.next])).toEqual([
    [1, 503, 'retry'],
    [2, 200, 'done'],
  ]);
  expect(of('2').map((l) => [l.attempt, l.response?.status, l.next])).toEqual([
    [1, 503, 'retry'],
    [2, 503, 'retry'],
    [3, 200, 'done'],
  ]);
  const first = of('1')[0]!;
  expect(first.request).toMatchObject({
    method: 'PUT',
    url: expect.stringContaining('token=[redacted]') as string,
    headers: { Authorization: '[redacted]', 'X-Api-Key': '[redacted]', 'content-type': 'application/json' },
    body: '{"n":1,"password":"[redacted]"}',
    bodyBytes: 31,
  });
  expect(first.response).toMatchObject({
    status: 503,
    statusText: 'Service Unavailable',
    headers: { 'retry-after': '0' },
    body: '{"error":"flaky"}',
    bodyBytes: 17,
  });
  expect(first.error).toBeNull();
  expect(first.startedAt).toBeGreaterThan(Date.now() - 60_000);
  expect(first.durationMs).toBeGreaterThanOrEqual(0);
  expect(of('1')[1]!.result).toEqual({ ok: true, status: 200, error: null });
  expect(of('1')[0]!.result).toBeUndefined();
});

test('an answer that echoes secrets is hidden in the excerpt too; long bodies are cut and say so', async () => {
  const trace = path.join(dir, 'trace.ndjson');
  const input = ndjsonFile(dir, [{ n: 1, filler: 'x'.repeat(5000) }]);
  const r = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/echo`,
    '-H',
    'Authorization: Bearer s3cr3t-TOKEN',
    '--trace',
    trace,
  ]);
  expect(r.code).toBe(0);
  const text = fs.readFileSync(trace, 'utf8');
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  const [line] = parseLines<TraceLine>(text);
  expect(line!.response!.body).toContain('"authorization":"[redacted]"');
  expect(line!.response!.truncated).toBe(true);
  expect(line!.response!.bodyBytes).toBeGreaterThan(5000);
  expect(Buffer.byteLength(line!.request.body!)).toBeLessThanOrEqual(2048);
});

test('no answer: the attempt records the transport error and no response', async () => {
  const trace = path.join(dir, 'trace.ndjson');
  const port = await freePort();
  const r = await runCli([
    'run',
    ndjsonFile(dir, [{ n: 1 }]),
    '--url',
    `http://127.0.0.1:${port}/x`,
    '--retries',
    '1',
    '--trace',
    trace,
  ]);
  expect(r.code).toBe(1);
  const lines = readResults<TraceLine>(trace);
  expect(lines.map((l) => [l.attempt, l.response, l.error?.code, l.next])).toEqual([
    [1, null, 'ECONNREFUSED', 'retry'],
    [2, null, 'ECONNREFUSED', 'done'],
  ]);
  expect(lines[1]!.result).toMatchObject({ ok: false, status: null, error: { code: 'ECONNREFUSED' } });
});

test('--trace-failed keeps every attempt of the failed requests only; - writes to stderr', async () => {
  const input = ndjsonFile(dir, [
    { n: 1, s: 200 },
    { n: 2, s: 500 },
    { n: 3, s: 201 },
  ]);
  const r = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/status/{{ s }}`,
    '-X',
    'PUT',
    '--retries',
    '1',
    '--progress',
    'none',
    '--trace',
    '-',
    '--trace-failed',
  ]);
  expect(r.code).toBe(1);
  const traced = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{"id"'))
    .map((l) => JSON.parse(l) as TraceLine);
  expect(traced.map((l) => [l.id, l.attempt, l.next])).toEqual([
    ['2', 1, 'retry'],
    ['2', 2, 'done'],
  ]);
  expect(traced[1]!.result!.error!.code).toBe('HTTP_500');
  expect(parseLines(r.stdout)).toHaveLength(3);
});

test('the trace never replaces a file that is not a trace; a trace is replaced by the next run', async () => {
  const input = ndjsonFile(dir, [{ n: 1 }]);
  const notes = path.join(dir, 'notes.txt');
  fs.writeFileSync(notes, 'my notes\n');
  const refused = await runCli(['run', input, '--url', `${server.url}/echo`, '--trace', notes]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('OUTPUT_EXISTS');
  expect(fs.readFileSync(notes, 'utf8')).toBe('my notes\n');
  expect(server.requests).toHaveLength(0);

  const same = await runCli(['run', input, '--url', `${server.url}/echo`, '--trace', input]);
  expect(same.code).toBe(2);
  expect(same.stderr).toContain('--trace');

  const trace = path.join(dir, 'trace.ndjson');
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '--trace', trace])).code).toBe(0);
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '--trace', trace])).code).toBe(0);
  expect(readResults(trace)).toHaveLength(1);

  const alone = await runCli(['run', input, '--url', `${server.url}/echo`, '--trace-failed']);
  expect(alone.code).toBe(2);
  expect(alone.stderr).toContain('--trace-failed goes with --trace');
});
