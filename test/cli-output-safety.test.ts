// What a run writes never destroys what it was given: --out, --failed and the reports are never the input nor one
// another (symlinks and hard links included), --overwrite replaces only batchpost's own results, a FIFO or a
// device is written in place, one run at a time holds a results file, and every write failure is told (exit 1)
// while a reader that left (stderr closed, `--dry-run | head`) stops nothing. The CLI runs as a child process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ndjsonFile, readResults, runCli, startCli, waitFor } from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

const server = useFixtureServer();
const tmpDir = useTmpDirs();

const numbered = (count: number): Array<{ n: number }> => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
const RESULT = (id: string, ok = true): string =>
  JSON.stringify({ id, ok, status: ok ? 200 : 500, attempts: 1, durationMs: 1, response: null, error: null }) + '\n';

describe('outputs are never the input nor each other', () => {
  test('--out naming the input (as is, through a symlink, a hard link) is refused, even with --overwrite', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3), 'orders.ndjson');
    const before = fs.readFileSync(input, 'utf8');
    fs.symlinkSync(input, path.join(dir, 'link.ndjson'));
    fs.linkSync(input, path.join(dir, 'hard.ndjson'));
    for (const out of [input, path.join(dir, 'link.ndjson'), path.join(dir, 'hard.ndjson')]) {
      const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', out, '--overwrite']);
      expect({ code: r.code, out }).toEqual({ code: 2, out });
      expect(r.stderr).toContain('[USAGE]');
      expect(r.stderr).toContain(`--out ${out}`);
      expect(r.stderr).toContain(input);
      expect(fs.readFileSync(input, 'utf8')).toBe(before);
    }
    expect(server.requests).toHaveLength(0);
  });

  test('--failed or a report on --out (or on one another) is refused and nothing is touched', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3));
    const out = path.join(dir, 'results.ndjson');
    fs.writeFileSync(out, RESULT('1', false));
    fs.symlinkSync(out, path.join(dir, 'alias.ndjson'));
    const base = ['run', input, '--url', `${server.url}/status/500`, '--out', out, '--resume'];
    const failedOnOut = await runCli([...base, '--failed', path.join(dir, 'alias.ndjson')]);
    expect(failedOnOut.code).toBe(2);
    expect(failedOnOut.stderr).toContain(`--failed ${path.join(dir, 'alias.ndjson')}: the same file as --out ${out}`);
    const reportOnFailed = await runCli([
      ...base,
      '--failed',
      path.join(dir, 'f.ndjson'),
      '--summary',
      path.join(dir, 'f.ndjson'),
    ]);
    expect(reportOnFailed.code).toBe(2);
    expect(reportOnFailed.stderr).toContain('the same file as --failed');
    expect(fs.readFileSync(out, 'utf8')).toBe(RESULT('1', false));
    expect(fs.existsSync(path.join(dir, 'f.ndjson'))).toBe(false);
    expect(server.requests).toHaveLength(0);
  });

  test('--overwrite replaces a results file, but never a file that does not hold results', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const notes = path.join(dir, 'notes.txt');
    fs.writeFileSync(notes, 'my notes\n');
    const refused = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', notes, '--overwrite']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('[OUTPUT_EXISTS]');
    expect(refused.stderr).toContain('does not hold batchpost results');
    expect(fs.readFileSync(notes, 'utf8')).toBe('my notes\n');

    const results = path.join(dir, 'results.ndjson');
    fs.writeFileSync(results, RESULT('old'));
    const replaced = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', results, '--overwrite']);
    expect(replaced.code).toBe(0);
    expect(readResults<{ id: string }>(results).map((r) => r.id)).toEqual(['1', '2']);
  });
});

describe('report targets that are not regular files', () => {
  test('a FIFO is written in place, not replaced by a regular file', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const fifo = path.join(dir, 'summary.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    let read = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (read += d));
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '--out',
      path.join(dir, 'r.ndjson'),
      '--summary',
      fifo,
    ]);
    reader.kill('SIGKILL');
    expect(r.code).toBe(0);
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    expect(read).toContain('"ok"');
  });

  test('--summary - writes the summary to stdout; without --out (results on stdout) it is refused', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '--out',
      path.join(dir, 'r.ndjson'),
      '--summary',
      '-',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 2 });
    const refused = await runCli(['run', input, '--url', `${server.url}/echo`, '--summary', '-']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--summary -');
    expect(refused.stdout).toBe('');
  });

  test('batchpost report --summary - writes the summary to stdout', async () => {
    const dir = tmpDir();
    const results = path.join(dir, 'results.ndjson');
    fs.writeFileSync(results, RESULT('1') + RESULT('2', false));
    const r = await runCli(['report', results, '--summary', '-']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 2, failed: 1 });
    expect(fs.existsSync(path.join(dir, '-'))).toBe(false);
  });

  test('a report on a full disk (/dev/full through a symlink) is reported, exit 1, the link left alone', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const full = path.join(dir, 'summary.json');
    fs.symlinkSync('/dev/full', full);
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '--out',
      path.join(dir, 'r.ndjson'),
      '--summary',
      full,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_FAILED]');
    expect(fs.lstatSync(full).isSymbolicLink()).toBe(true);
    expect(readResults(path.join(dir, 'r.ndjson'))).toHaveLength(2);
  });
});

describe('one run at a time per results file', () => {
  test('a second run on a file in use exits 2 OUTPUT_LOCKED naming the pid; the lock goes with the run', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(200));
    const out = path.join(dir, 'results.ndjson');
    const args = ['run', input, '--url', `${server.url}/slow?ms=200`, '--concurrency', '2', '--out', out, '--resume'];
    const first = startCli(args);
    first.child.stdin!.end();
    await waitFor(() => fs.existsSync(out) && fs.statSync(out).size > 0, 10_000, 'first results');
    const second = await runCli(args);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('[OUTPUT_LOCKED]');
    expect(second.stderr).toContain(String(first.child.pid));
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
    const ids = readResults<{ id: string }>(out).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('after kill -9 the next run finds the stale lock, takes it, and removes it at the end', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(30));
    const out = path.join(dir, 'results.ndjson');
    const args = ['run', input, '--url', `${server.url}/slow?ms=50`, '--concurrency', '2', '--out', out, '--resume'];
    const first = startCli(args);
    first.child.stdin!.end();
    await waitFor(() => fs.existsSync(`${out}.lock`) && fs.existsSync(out) && fs.statSync(out).size > 0);
    first.child.kill('SIGKILL');
    await first.done;
    expect(fs.existsSync(`${out}.lock`)).toBe(true);
    const next = await runCli([...args.slice(0, 3), `${server.url}/echo`, ...args.slice(4)]);
    expect({ code: next.code, stderr: next.stderr }).toMatchObject({ code: 0 });
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
    const ids = readResults<{ id: string }>(out).map((r) => r.id);
    expect(new Set(ids).size).toBe(30);
  });

  test('--retry-failed killed with -9 mid-rewrite: the next run removes its results.ndjson.tmp-PID', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'empty.ndjson');
    fs.writeFileSync(input, '');
    const out = path.join(dir, 'results.ndjson');
    // Large enough that the rewrite takes a moment to catch.
    const pad = 'x'.repeat(60);
    const lines = Array.from({ length: 150_000 }, (_, i) =>
      JSON.stringify({
        id: String(i),
        ok: i % 2 === 0,
        status: 200,
        attempts: 1,
        durationMs: 1,
        response: pad,
        error: null,
      }),
    );
    fs.writeFileSync(out, lines.join('\n') + '\n');
    const args = ['run', input, '--url', `${server.url}/echo`, '--out', out, '--retry-failed'];
    const first = startCli(args);
    first.child.stdin!.end();
    const tmpOf = () => fs.readdirSync(dir).filter((n) => n.startsWith('results.ndjson.tmp-'));
    await waitFor(() => tmpOf().length > 0, 60_000, 'the rewrite to start');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(tmpOf()).toEqual([`results.ndjson.tmp-${first.child.pid}`]);
    const next = await runCli(args, { timeoutMs: 60_000 });
    expect(next.code).toBe(0);
    expect(tmpOf()).toEqual([]);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
    expect(readResults(out)).toHaveLength(75_000);
  }, 120_000);

  test('a rewrite left by a killed --retry-failed (results.ndjson.tmp-PID of a dead pid) is removed', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(2));
    const out = path.join(dir, 'results.ndjson');
    fs.writeFileSync(out, RESULT('1') + RESULT('2', false));
    const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const leftover = `${out}.tmp-${victim.pid}`;
    fs.writeFileSync(leftover, RESULT('1'));
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.on('exit', resolve));
    const alive = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(alive, '');
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', out, '--retry-failed']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.existsSync(alive)).toBe(true);
  });
});

describe('write failures are told, a reader that left stops nothing', () => {
  test('stderr closed: the run completes, results intact, exit 0', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(30));
    const out = path.join(dir, 'r.ndjson');
    const { child, done } = startCli([
      'run',
      input,
      '--url',
      `${server.url}/slow?ms=20`,
      '--out',
      out,
      '--progress',
      'lines',
      '--progress-interval',
      '10ms',
    ]);
    child.stderr!.destroy();
    child.stdin!.end();
    const r = await done;
    expect(r.code).toBe(0);
    expect(readResults(out)).toHaveLength(30);
  });

  test('--dry-run with stdout closed exits quietly with its own code', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(30));
    const { child, done } = startCli(['run', input, '--url', `${server.url}/echo`, '--dry-run']);
    child.stdout!.destroy();
    child.stdin!.end();
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.stderr).toContain('30 payloads read');
  });

  test('an unwritable --failed is refused before anything is sent (exit 2)', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3));
    const failed = path.join(dir, 'no-such-dir', 'failed.ndjson');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/status/500`,
      '--out',
      path.join(dir, 'r.ndjson'),
      '--failed',
      failed,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--failed');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(server.requests).toHaveLength(0);
  });

  test('--failed on a full disk is OUTPUT_FAILED (exit 1) and the results recorded stay', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, numbered(3));
    const failed = path.join(dir, 'failed.ndjson');
    fs.symlinkSync('/dev/full', failed);
    const out = path.join(dir, 'r.ndjson');
    const r = await runCli(['run', input, '--url', `${server.url}/status/500`, '--out', out, '--failed', failed]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_FAILED]');
    expect(r.stderr).toContain(failed);
    expect(readResults(out).length).toBeGreaterThan(0);
  });
});
