// --out FILE.gz: results as gzip members, one per flush, so the file is an ordinary .gz at every moment a
// process can die, a kill -9 tears at most the member being written, and --resume / --retry-failed work on it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, payloads, runCli, startCli, THREAD_MODES, tmpDir, waitFor } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

/** What `zcat` reads: the tool a user would reach for. */
const zcat = (file: string): string => execFileSync('zcat', [file], { encoding: 'utf8' });
const ids = (lines: Line[]) => lines.map((l) => l.id).sort((a, b) => Number(a) - Number(b));
const range = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
const idOf = (q: { body: string }) => String((JSON.parse(q.body) as { n: number }).n);

describe.each(THREAD_MODES)('--out FILE.gz (%s)', (_name, threads) => {
  test('writes gzip that zcat and gzip -t read; the lines are the ndjson result lines', async () => {
    const out = path.join(dir, 'results.ndjson.gz');
    const r = await runCli([
      'run',
      ndjsonFile(dir, payloads(30)),
      '--url',
      `${server.url}/echo`,
      '-o',
      out,
      ...threads,
    ]);
    expect(r.code).toBe(0);
    const bytes = fs.readFileSync(out);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    execFileSync('gzip', ['-t', out]);
    const lines = parseLines<Line>(zcat(out));
    expect(ids(lines)).toEqual(range(30));
    for (const l of lines) expect(l).toMatchObject({ ok: true, status: 200 });
  });

  test('kill -9: every member written is whole; --resume sends only what is missing', async () => {
    const out = path.join(dir, 'results.ndjson.gz');
    const input = ndjsonFile(dir, payloads(40));
    const args = ['run', input, '--url', `${server.url}/slow?ms=150`, '-c', '5', '-o', out, ...threads];
    const { child, done } = startCli(args);
    child.stdin!.end();
    await waitFor(() => server.requests.length >= 16, 15_000, 'the fourth wave of requests');
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    execFileSync('gzip', ['-t', out]); // no member torn: each was written whole before the next turn
    const recorded = ids(parseLines<Line>(zcat(out)));
    expect(recorded.length).toBeGreaterThanOrEqual(5);

    server.reset();
    const resumed = await runCli([...args, '--resume']);
    expect({ code: resumed.code, stderr: resumed.stderr }).toMatchObject({ code: 0 });
    expect(server.requests.map(idOf).filter((id) => recorded.includes(id))).toEqual([]);
    expect(ids(parseLines<Line>(zcat(out)))).toEqual(range(40));
  });
});

test('--resume cuts off a torn last member, says so, and sends its ids again', async () => {
  const out = path.join(dir, 'results.ndjson.gz');
  const input = ndjsonFile(dir, payloads(10));
  const args = ['run', input, '--url', `${server.url}/echo`, '-o', out];
  const lines = zcat((await runCli(args), out))
    .split('\n')
    .filter(Boolean);
  expect(lines).toHaveLength(10);
  // Six lines in two whole members, then a member cut short as a crash mid-write leaves it.
  const torn = zlib.gzipSync(lines.slice(6).join('\n') + '\n');
  fs.writeFileSync(
    out,
    Buffer.concat([
      zlib.gzipSync(lines.slice(0, 3).join('\n') + '\n'),
      zlib.gzipSync(lines.slice(3, 6).join('\n') + '\n'),
      torn.subarray(0, torn.length - 5),
    ]),
  );
  const kept = ids(lines.slice(0, 6).map((l) => JSON.parse(l) as Line));

  server.reset();
  const r = await runCli([...args, '--resume']);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(r.stderr).toContain('removed a torn last gzip member');
  expect(server.requests.map(idOf).sort()).toEqual(
    range(10)
      .filter((id) => !kept.includes(id))
      .sort(),
  );
  execFileSync('gzip', ['-t', out]);
  expect(ids(parseLines<Line>(zcat(out)))).toEqual(range(10));
});

test('--retry-failed rewrites the .gz with one line per id, still gzip', async () => {
  const out = path.join(dir, 'results.ndjson.gz');
  const input = ndjsonFile(
    dir,
    payloads(6, (i) => ({ n: i, status: i % 2 === 0 ? 500 : 200 })),
  );
  const args = ['run', input, '--url', `${server.url}/request-id?status={{ status }}`, '-o', out, '--retries', '0'];
  expect((await runCli(args)).code).toBe(1);
  fs.writeFileSync(
    input,
    payloads(6, (i) => ({ n: i, status: 200 }))
      .map((p) => JSON.stringify(p))
      .join('\n') + '\n',
  );
  server.reset();
  const r = await runCli([...args, '--retry-failed']);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(server.requests.map(idOf).sort()).toEqual(['2', '4', '6']);
  execFileSync('gzip', ['-t', out]);
  const lines = parseLines<Line>(zcat(out));
  expect(ids(lines)).toEqual(range(6));
  for (const l of lines) expect(l.ok).toBe(true);
});

test('an existing .gz is guarded like a plain file: results need --overwrite, anything else is never replaced', async () => {
  const input = ndjsonFile(dir, payloads(2));
  const foreign = path.join(dir, 'backup.ndjson.gz');
  fs.writeFileSync(foreign, zlib.gzipSync('{"name":"not results"}\n'));
  const refused = await runCli(['run', input, '--url', `${server.url}/echo`, '-o', foreign, '--overwrite']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('does not hold batchpost results');
  expect(zlib.gunzipSync(fs.readFileSync(foreign)).toString()).toBe('{"name":"not results"}\n');

  const out = path.join(dir, 'results.ndjson.gz');
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '-o', out])).code).toBe(0);
  const again = await runCli(['run', input, '--url', `${server.url}/echo`, '-o', out]);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain('already holds results');
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '-o', out, '--overwrite'])).code).toBe(0);
  expect(parseLines<Line>(zcat(out))).toHaveLength(2);
});

test('a .gz --out that is not gzip stops --resume with RESULTS_CORRUPT and is left as it was', async () => {
  const out = path.join(dir, 'results.ndjson.gz');
  const input = ndjsonFile(dir, payloads(2));
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '-o', out])).code).toBe(0);
  fs.appendFileSync(out, '{"id":"9","ok":true}\n');
  const before = fs.readFileSync(out);
  const r = await runCli(['run', input, '--url', `${server.url}/echo`, '-o', out, '--resume']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('RESULTS_CORRUPT');
  expect(fs.readFileSync(out)).toEqual(before);
});
