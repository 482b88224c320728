// --failed FILE.gz: the failed payloads gzip-compressed, decided by the name as for --out, written as whole gzip
// members (a kill -9 leaves a valid .gz), and read straight back as input (`batchpost run FILE.gz`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, readResults, runCli, startCli, tmpDir, waitFor } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What `zcat` reads: the tool a user would reach for. */
const zcat = (file: string): string => execFileSync('zcat', [file], { encoding: 'utf8' });
/** The file's text so far, '' while it is missing or not yet gzip. */
const gunzipped = (file: string): string => {
  try {
    return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  } catch {
    return '';
  }
};
const isGzipBytes = (file: string) => {
  const bytes = fs.readFileSync(file);
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
};
/** Payloads whose `code` is the status the fixture answers: 422s fail and are not retried. */
const coded = (codes: number[]) => codes.map((code, i) => ({ id: `p${i + 1}`, code }));
const runArgs = (input: string, ...more: string[]) => [
  'run',
  input,
  '--url',
  `${server.url}/echo?status={{ code }}`,
  '--id-field',
  'id',
  '--progress',
  'none',
  ...more,
];
const sentIds = () => server.requests.map((q) => (JSON.parse(q.body) as { id: string }).id).sort();

describe('--failed FILE.gz', () => {
  test.each([
    ['ndjson', 'in.ndjson', 'failed.ndjson.gz'],
    ['json', 'in.json', 'failed.json.gz'],
    ['csv', 'in.csv', 'failed.csv.gz'],
  ])(
    'is gzip (%s input); zcat gives the failed payloads as read; running it sends just those',
    async (fmt, name, f) => {
      const items = coded([200, 422, 200, 422, 422, 201]);
      const input = path.join(dir, name);
      const text =
        fmt === 'csv'
          ? 'id,code\n' + items.map((p) => `${p.id},${p.code}`).join('\n') + '\n'
          : fmt === 'json'
            ? '[\n' + items.map((p) => ' ' + JSON.stringify(p)).join(',\n') + '\n]\n'
            : items.map((p) => JSON.stringify(p)).join('\n') + '\n';
      fs.writeFileSync(input, text);
      const failed = path.join(dir, f);
      const first = await runCli(runArgs(input, '--out', path.join(dir, 'r.ndjson'), '--failed', failed));
      expect(first.code).toBe(1);
      expect(isGzipBytes(failed)).toBe(true);
      execFileSync('gzip', ['-t', failed]);
      const back = zcat(failed);
      if (fmt === 'csv') expect(back).toBe('id,code\np2,422\np4,422\np5,422\n');
      else if (fmt === 'json') expect(JSON.parse(back)).toEqual([items[1], items[3], items[4]]);
      else expect(back).toBe([items[1], items[3], items[4]].map((p) => JSON.stringify(p) + '\n').join(''));

      server.reset();
      const again = await runCli(['run', failed, '--url', `${server.url}/echo`, '--id-field', 'id']);
      expect({ code: again.code, stderr: again.stderr }).toMatchObject({ code: 0 });
      expect(sentIds()).toEqual(['p2', 'p4', 'p5']);
      expect(
        parseLines<Line>(again.stdout)
          .map((l) => l.id)
          .sort(),
      ).toEqual(['p2', 'p4', 'p5']);
    },
  );

  test('a run without failures leaves a valid, empty .gz', async () => {
    const failed = path.join(dir, 'failed.ndjson.gz');
    const r = await runCli(runArgs(ndjsonFile(dir, coded([200, 201])), '--failed', failed));
    expect(r.code).toBe(0);
    expect(isGzipBytes(failed)).toBe(true);
    execFileSync('gzip', ['-t', failed]);
    expect(zcat(failed)).toBe('');
  });

  test('a name without .gz stays plain text', async () => {
    const failed = path.join(dir, 'failed.ndjson');
    expect((await runCli(runArgs(ndjsonFile(dir, coded([422])), '--failed', failed))).code).toBe(1);
    expect(fs.readFileSync(failed, 'utf8')).toBe('{"id":"p1","code":422}\n');
  });

  test('after --resume, the .gz lists the failures recorded earlier as well as this run’s, still gzip', async () => {
    const out = path.join(dir, 'results.ndjson.gz');
    const failed = path.join(dir, 'failed.ndjson.gz');
    const first = ndjsonFile(dir, coded([200, 422]));
    expect((await runCli(runArgs(first, '--out', out, '--failed', failed))).code).toBe(1);
    const more = ndjsonFile(dir, coded([200, 422, 200, 422]), 'more.ndjson');
    server.reset();
    const resumed = await runCli(runArgs(more, '--out', out, '--failed', failed, '--resume'));
    expect(resumed.code).toBe(1);
    expect(sentIds()).toEqual(['p3', 'p4']);
    execFileSync('gzip', ['-t', failed]);
    expect(zcat(failed)).toBe('{"id":"p2","code":422}\n{"id":"p4","code":422}\n');
  });

  test('kill -9 mid-run leaves a valid .gz of the failures so far; --resume completes it', async () => {
    const out = path.join(dir, 'results.ndjson');
    const failed = path.join(dir, 'failed.ndjson.gz');
    const items = Array.from({ length: 40 }, (_, i) => ({ id: `p${i + 1}`, code: i % 2 === 0 ? 422 : 200 }));
    const input = ndjsonFile(dir, items);
    const args = [
      'run',
      input,
      '--url',
      `${server.url}/echo?status={{ code }}&ms=150`,
      '--id-field',
      'id',
      '-c',
      '4',
      '--out',
      out,
      '--failed',
      failed,
    ];
    const { child, done } = startCli(args);
    child.stdin!.end();
    await waitFor(() => gunzipped(failed).length > 0, 15_000, 'a failed payload listed');
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    execFileSync('gzip', ['-t', failed]); // each member was written whole
    const listed = parseLines<{ id: string; code: number }>(zcat(failed));
    expect(listed.length).toBeGreaterThan(0);
    for (const p of listed) expect(p.code).toBe(422);

    const resumed = await runCli([...args, '--resume']);
    expect(resumed.code).toBe(1);
    execFileSync('gzip', ['-t', failed]);
    const all = parseLines<{ id: string }>(zcat(failed)).map((p) => p.id);
    expect(all.sort()).toEqual(
      items
        .filter((p) => p.code === 422)
        .map((p) => p.id)
        .sort(),
    );
  });

  test('an existing .gz is not replaced without --overwrite', async () => {
    const failed = path.join(dir, 'keep.ndjson.gz');
    const precious = zlib.gzipSync('{"precious":true}\n');
    fs.writeFileSync(failed, precious);
    const input = ndjsonFile(dir, coded([422]));
    const refused = await runCli(runArgs(input, '--out', path.join(dir, 'r.ndjson'), '--failed', failed));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('[OUTPUT_EXISTS]');
    expect(fs.readFileSync(failed)).toEqual(precious);
    expect(server.requests).toHaveLength(0);
    const replaced = await runCli(
      runArgs(input, '--out', path.join(dir, 'r.ndjson'), '--failed', failed, '--overwrite'),
    );
    expect(replaced.code).toBe(1);
    expect(zcat(failed)).toBe('{"id":"p1","code":422}\n');
  });

  test('on a full disk it is OUTPUT_FAILED (exit 1) and the results recorded stay', async () => {
    const failed = path.join(dir, 'failed.ndjson.gz');
    fs.symlinkSync('/dev/full', failed);
    const out = path.join(dir, 'r.ndjson');
    const r = await runCli(runArgs(ndjsonFile(dir, coded([422, 422, 422])), '--out', out, '--failed', failed));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_FAILED]');
    expect(r.stderr).toContain(failed);
    expect(readResults(out).length).toBeGreaterThan(0);
  });
});
