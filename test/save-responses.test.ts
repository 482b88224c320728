// --save-responses DIR: each answer body streamed to DIR/<id>.<ext>, byte for byte, never held whole in memory;
// the result line names the file. Names are safe (nothing outside DIR, no case collisions) and reversible.
import fs from 'node:fs';
import path from 'node:path';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, runCli, startCli, THREAD_MODES, tmpDir } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  response: unknown;
  error: { code: string; message: string } | null;
  file?: string;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

/** The fixture's /download body: bytes 0..255 repeating, restarting every 64 KiB chunk. */
function pattern(total: number): Buffer {
  const chunk = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i % 256));
  const out = Buffer.alloc(total);
  for (let at = 0; at < total; at += chunk.length) chunk.copy(out, at, 0, Math.min(chunk.length, total - at));
  return out;
}

const listing = (d: string) => fs.readdirSync(d).sort();

describe.each(THREAD_MODES)('--save-responses (%s)', (_name, threads) => {
  test('bodies byte for byte in DIR/<id>.<ext>; names safe, reversible, never colliding by case', async () => {
    const ids = ['a', 'A', '../escape', 'x y.json', 'ünï/cødé', 'CON'];
    const input = ndjsonFile(
      dir,
      ids.map((id) => ({ id })),
    );
    const saved = path.join(dir, 'bodies');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/download?bytes=150000&type=application/pdf`,
      '--id-field',
      'id',
      '--save-responses',
      saved,
      ...threads,
    ]);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const lines = parseLines<Line>(r.stdout);
    expect(lines).toHaveLength(ids.length);
    const names = listing(saved).filter((n) => n !== '.batchpost-responses');
    expect(names).toHaveLength(ids.length);
    expect(names).toContain('a.pdf');
    expect(names).toContain('%41.pdf');
    expect(names).toContain('%2E%2E%2Fescape.pdf');
    // Case-insensitive file systems fold case: no two names may differ only in it.
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    for (const name of names) {
      expect(name).not.toMatch(/^\.|[/\\]/);
      expect(ids).toContain(decodeURIComponent(name.slice(0, name.indexOf('.'))));
    }
    expect(fs.existsSync(path.join(dir, 'escape.pdf'))).toBe(false);
    const body = pattern(150000);
    for (const line of lines) {
      expect(line).toMatchObject({ ok: true, status: 200, response: null });
      expect(path.dirname(line.file!)).toBe(saved);
      expect(fs.readFileSync(line.file!).equals(body)).toBe(true);
    }
  });

  test('a 200 MB body is streamed to disk, not held: peak RSS stays under 200 MB', async () => {
    const saved = path.join(dir, 'bodies');
    const bytes = 200_000_000;
    const { child, done } = startCli(
      [
        'run',
        ndjsonFile(dir, [{ n: 1 }]),
        '--url',
        `${server.url}/download?bytes=${bytes}`,
        '--save-responses',
        saved,
        '--max-response-size',
        '256mb',
        ...threads,
      ],
      { timeoutMs: 120_000 },
    );
    let peakKb = 0;
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // gone
      }
    }, 20);
    child.stdin!.end();
    const r = await done.finally(() => clearInterval(sample));
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const [line] = parseLines<Line>(r.stdout);
    expect(line!.file).toBe(path.join(saved, '1.bin'));
    expect(fs.statSync(line!.file!).size).toBe(bytes);
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(200 * 1024);
  }, 150_000);
});

test('the extension follows the Content-Type; the file holds the body as sent', async () => {
  const saved = path.join(dir, 'bodies');
  const input = ndjsonFile(dir, [{ n: 1 }]);
  for (const [route, name] of [
    ['/echo', '1.json'],
    ['/text', '1.txt'],
  ] as const) {
    const r = await runCli(['run', input, '--url', `${server.url}${route}`, '--save-responses', saved, '--overwrite']);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(parseLines<Line>(r.stdout)[0]!.file).toBe(path.join(saved, name));
  }
  expect(fs.readFileSync(path.join(saved, '1.txt'), 'utf8')).toBe('hello');
  expect(JSON.parse(fs.readFileSync(path.join(saved, '1.json'), 'utf8'))).toMatchObject({ body: { n: 1 } });
});

test('a retried request leaves the body of its last attempt; a body cut off leaves no file', async () => {
  const saved = path.join(dir, 'bodies');
  const input = ndjsonFile(dir, [{ n: 1 }]);
  const r = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/flaky/k1?fail=1&code=503&retryAfter=0`,
    '-X',
    'PUT',
    '--save-responses',
    saved,
  ]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(parseLines<Line>(r.stdout)[0]).toMatchObject({ ok: true, attempts: 2, file: path.join(saved, '1.json') });
  expect(JSON.parse(fs.readFileSync(path.join(saved, '1.json'), 'utf8'))).toEqual({ ok: true, attempt: 2 });

  const big = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/big?bytes=3000000&length=0`,
    '--save-responses',
    saved,
    '--max-response-size',
    '1mb',
    '--overwrite',
  ]);
  expect(big.code).toBe(1);
  const [line] = parseLines<Line>(big.stdout);
  expect(line).toMatchObject({ ok: false, status: 200, error: { code: 'RESPONSE_TOO_LARGE' } });
  expect(line!.file).toBeUndefined();
  expect(listing(saved)).toEqual(['.batchpost-responses', '1.json']);
});

test('an existing DIR: foreign files are never written into; saved responses need --resume or --overwrite', async () => {
  const input = ndjsonFile(dir, [{ n: 1 }, { n: 2 }]);
  const foreign = path.join(dir, 'photos');
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, '1.json'), 'mine');
  const refused = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/echo`,
    '--save-responses',
    foreign,
    '--overwrite',
  ]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('OUTPUT_EXISTS');
  expect(listing(foreign)).toEqual(['1.json']);
  expect(server.requests).toHaveLength(0);

  const saved = path.join(dir, 'bodies');
  const out = path.join(dir, 'results.ndjson');
  const args = ['run', input, '--url', `${server.url}/echo`, '--save-responses', saved, '-o', out];
  fs.writeFileSync(input, JSON.stringify({ n: 1 }) + '\n');
  expect((await runCli(args)).code).toBe(0);
  const again = await runCli([...args, '--overwrite']);
  expect(again.code).toBe(0);
  const fresh = await runCli(['run', input, '--url', `${server.url}/echo`, '--save-responses', saved]);
  expect(fresh.code).toBe(2);
  expect(fresh.stderr).toContain('already holds saved responses');
  fs.writeFileSync(input, [{ n: 1 }, { n: 2 }].map((p) => JSON.stringify(p)).join('\n') + '\n');
  server.reset();
  const resumed = await runCli([...args, '--resume']);
  expect(resumed.code).toBe(0);
  expect(server.requests).toHaveLength(1);
  expect(listing(saved)).toEqual(['.batchpost-responses', '1.json', '2.json']);
});

test('a symlink planted in DIR is not followed: RESPONSE_NOT_SAVED, its target untouched', async () => {
  const saved = path.join(dir, 'bodies');
  const input = ndjsonFile(dir, [{ n: 1 }]);
  expect((await runCli(['run', input, '--url', `${server.url}/echo`, '--save-responses', saved])).code).toBe(0);
  const target = path.join(dir, 'precious.txt');
  fs.writeFileSync(target, 'keep me');
  fs.rmSync(path.join(saved, '1.json'));
  fs.symlinkSync(target, path.join(saved, '1.json'));
  const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--save-responses', saved, '--overwrite']);
  expect(r.code).toBe(1);
  expect(parseLines<Line>(r.stdout)[0]).toMatchObject({
    ok: false,
    status: 200,
    error: { code: 'RESPONSE_NOT_SAVED' },
  });
  expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
});

test('--format openai names the file in response.file; --transform sees body null', async () => {
  const saved = path.join(dir, 'bodies');
  const input = ndjsonFile(dir, [{ n: 1 }]);
  const r = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/request-id`,
    '--save-responses',
    saved,
    '--format',
    'openai',
  ]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(parseLines(r.stdout)[0]).toMatchObject({
    custom_id: '1',
    response: { status_code: 200, body: null, file: path.join(saved, '1.json') },
    error: null,
  });
  // --transform and --expect see the answer without its body (body: null): it is on disk.
  const transformed = await runCli([
    'run',
    input,
    '--url',
    `${server.url}/request-id`,
    '--save-responses',
    path.join(dir, 'other'),
    '--transform',
    '{status: status, body: body}',
  ]);
  expect(parseLines(transformed.stdout)[0]).toMatchObject({ response: { status: 200, body: null } });
});
