// --failed and the reports follow --out's rule: an existing file is never replaced unless the command says so
// (--overwrite, or a continuation of the run) and, for a report, it is one batchpost wrote. After --resume, the
// --failed file lists every failed payload of the results file, not only this run's.
import fs from 'node:fs';
import path from 'node:path';
import { ndjsonFile, runCli } from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

const server = useFixtureServer();
const tmpDir = useTmpDirs();

/** Payloads whose `code` is the status the fixture answers: 422s fail and are not retried. */
const coded = (codes: number[]) => codes.map((code, i) => ({ id: `p${i + 1}`, code }));
const runArgs = (input: string, ...more: string[]) => [
  'run',
  input,
  '--url',
  `${server.url}/status/{{ code }}`,
  '--id-field',
  'id',
  '--progress',
  'none',
  ...more,
];

describe('--failed is not replaced by surprise', () => {
  test('an existing --failed file is refused without --overwrite, and replaced with it', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, coded([200, 422]));
    const failed = path.join(dir, 'keep.ndjson');
    fs.writeFileSync(failed, '{"precious":true}\n');
    const refused = await runCli(runArgs(input, '--out', path.join(dir, 'r.ndjson'), '--failed', failed));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--failed ${failed} already exists`);
    expect(refused.stderr).toContain('[OUTPUT_EXISTS]');
    expect(refused.stderr).toContain('--overwrite');
    expect(fs.readFileSync(failed, 'utf8')).toBe('{"precious":true}\n');
    expect(server.requests).toHaveLength(0);

    const replaced = await runCli(
      runArgs(input, '--out', path.join(dir, 'r.ndjson'), '--failed', failed, '--overwrite'),
    );
    expect(replaced.code).toBe(1);
    expect(fs.readFileSync(failed, 'utf8')).toBe('{"id":"p2","code":422}\n');
  });

  test('after --resume, --failed lists the failures recorded earlier as well as this run’s', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'results.ndjson');
    const failed = path.join(dir, 'failed.ndjson');
    const first = ndjsonFile(dir, coded([200, 422]));
    expect((await runCli(runArgs(first, '--out', out, '--failed', failed))).code).toBe(1);
    const more = ndjsonFile(dir, coded([200, 422, 200, 422]), 'more.ndjson');
    const resumed = await runCli(runArgs(more, '--out', out, '--failed', failed, '--resume'));
    expect(resumed.code).toBe(1);
    expect(fs.readFileSync(failed, 'utf8')).toBe('{"id":"p2","code":422}\n{"id":"p4","code":422}\n');
    expect(server.requests).toHaveLength(4);
  });
});

describe('reports are replaced only when batchpost wrote them and the command says so', () => {
  test('run: a file that is not a report is never replaced, even with --overwrite', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, coded([200]));
    for (const [flag, name] of [
      ['--summary', 'notes.json'],
      ['--report', 'index.html'],
      ['--junit', 'other.xml'],
    ] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, '{"mine":1}\n');
      const r = await runCli(runArgs(input, '--out', path.join(dir, `${name}.results`), flag, file, '--overwrite'));
      expect({ flag, code: r.code }).toEqual({ flag, code: 2 });
      expect(r.stderr).toContain(`${flag} ${file} exists and is not a report batchpost wrote`);
      expect(fs.readFileSync(file, 'utf8')).toBe('{"mine":1}\n');
    }
    expect(server.requests).toHaveLength(0);
  });

  test('run: its own summary needs --overwrite; --resume rewrites it', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, coded([200]));
    const out = path.join(dir, 'r.ndjson');
    const summary = path.join(dir, 'summary.json');
    expect((await runCli(runArgs(input, '--out', out, '--summary', summary))).code).toBe(0);
    const written = fs.readFileSync(summary, 'utf8');
    const again = await runCli(runArgs(input, '--out', path.join(dir, 'r2.ndjson'), '--summary', summary));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`--summary ${summary} already exists`);
    expect(fs.readFileSync(summary, 'utf8')).toBe(written);
    const resumed = await runCli(runArgs(input, '--out', out, '--summary', summary, '--resume'));
    expect(resumed.code).toBe(0);
    const replaced = await runCli(
      runArgs(input, '--out', path.join(dir, 'r3.ndjson'), '--summary', summary, '--overwrite'),
    );
    expect(replaced.code).toBe(0);
  });

  test('after --resume, the reports cover every id in --out, not only this run’s', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'results.ndjson');
    const summary = path.join(dir, 'summary.json');
    const junit = path.join(dir, 'junit.xml');
    expect((await runCli(runArgs(ndjsonFile(dir, coded([200, 422])), '--out', out))).code).toBe(1);
    const more = ndjsonFile(dir, coded([200, 422, 200, 200]), 'more.ndjson');
    const resumed = await runCli(runArgs(more, '--out', out, '--resume', '--summary', summary, '--junit', junit));
    expect(resumed.code).toBe(1);
    const s = JSON.parse(fs.readFileSync(summary, 'utf8')) as { total: number; ok: number; failed: number };
    expect(s).toMatchObject({ total: 4, ok: 3, failed: 1 });
    expect(fs.readFileSync(junit, 'utf8')).toMatch(/<testsuite [^>]*tests="4"[^>]*failures="1"/);
  });

  test('report: an existing HTML report is replaced only with --overwrite', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, coded([200, 422]));
    const out = path.join(dir, 'r.ndjson');
    expect((await runCli(runArgs(input, '--out', out))).code).toBe(1);
    const html = path.join(dir, 'report.html');
    expect((await runCli(['report', out, '--html', html])).code).toBe(0);
    const first = fs.statSync(html).mtimeMs;
    const refused = await runCli(['report', out, '--html', html]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--html ${html} already exists`);
    expect(fs.statSync(html).mtimeMs).toBe(first);
    expect((await runCli(['report', out, '--html', html, '--overwrite'])).code).toBe(0);
    const notes = path.join(dir, 'notes.html');
    fs.writeFileSync(notes, '<p>mine</p>');
    const foreign = await runCli(['report', out, '--html', notes, '--overwrite']);
    expect(foreign.code).toBe(2);
    expect(fs.readFileSync(notes, 'utf8')).toBe('<p>mine</p>');
  });
});
