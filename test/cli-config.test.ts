// --config FILE and $BATCHPOST_CONFIG: options kept in a JSON or YAML file by their long names. Values apply, flags
// typed win (repeatable ones add up), unknown keys and values of the wrong kind stop with CONFIG_INVALID naming
// the key, values of the right kind fail with exactly the message the same flag gives, and the command printed to
// continue an interrupted run names the file, never the secrets in it.
import fs from 'node:fs';
import path from 'node:path';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, payloads, readResults, runCli, shellWords, startCli, tmpDir, waitFor } from './helpers/cli.js';

const server = useFixtureServer();
let dir: string;
beforeEach(() => {
  dir = tmpDir();
});

function config(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

describe('values apply, flags win', () => {
  test('url, concurrency and headers from a JSON file are used', async () => {
    const input = ndjsonFile(dir, payloads(12));
    const file = config('ci.json', {
      url: `${server.url}/echo?ms=60`,
      concurrency: 2,
      header: ['X-Team: blue', 'X-Env: ci'],
      'no-adaptive': true,
      out: path.join(dir, 'out.ndjson'),
    });
    const r = await runCli(['run', input, '--config', file, '--progress', 'none']);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(server.requests).toHaveLength(12);
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
    expect(server.requests[0]!.headers).toMatchObject({ 'x-team': 'blue', 'x-env': 'ci' });
    expect(readResults(path.join(dir, 'out.ndjson'))).toHaveLength(12);
  });

  test('flags typed win over the file; a header typed replaces the same header of the file, others add up', async () => {
    const input = ndjsonFile(dir, payloads(20));
    const file = config('ci.json', {
      url: `${server.url}/status/500`,
      concurrency: 1,
      header: ['X-Team: blue', 'X-Env: ci'],
      method: 'PUT',
    });
    const r = await runCli(
      ['run', input, '--config', file, '--url', `${server.url}/echo?ms=100`, '-c', '4', '-H', 'X-Team: red'],
      { cwd: dir },
    );
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(server.requests.every((q) => q.path === '/echo' && q.method === 'PUT')).toBe(true);
    expect(server.requests[0]!.headers).toMatchObject({ 'x-team': 'red', 'x-env': 'ci' });
    // Twenty requests of 100 ms with four allowed at once: more than the file's one were in flight together.
    expect(server.maxInFlight).toBeGreaterThan(1);
    expect(server.maxInFlight).toBeLessThanOrEqual(4);
  });

  test('YAML works too, and $BATCHPOST_CONFIG names a file; --config wins over it', async () => {
    const input = ndjsonFile(dir, payloads(2));
    const yaml = config('ci.yaml', `# a CI job's options\nurl: ${server.url}/echo\nheader:\n  - "X-From: yaml"\n`);
    const other = config('other.yml', `url: ${server.url}/echo\nheader: "X-From: other"\n`);
    const byEnv = await runCli(['run', input], { cwd: dir, env: { BATCHPOST_CONFIG: yaml } });
    expect({ code: byEnv.code, stderr: byEnv.stderr }).toMatchObject({ code: 0 });
    expect(server.requests.map((q) => q.headers['x-from'])).toEqual(['yaml', 'yaml']);
    server.reset();
    const byFlag = await runCli(['run', input, '--config', other], { cwd: dir, env: { BATCHPOST_CONFIG: yaml } });
    expect({ code: byFlag.code, stderr: byFlag.stderr }).toMatchObject({ code: 0 });
    expect(server.requests.map((q) => q.headers['x-from'])).toEqual(['other', 'other']);
  });

  test('a switch is true or false; "adaptive": false is the same as "no-adaptive": true', async () => {
    const input = ndjsonFile(dir, payloads(1));
    const file = config('c.json', { url: `${server.url}/echo`, adaptive: false, 'dry-run': true });
    const r = await runCli(['run', input, '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('nothing was sent');
    expect(server.requests).toHaveLength(0);
  });

  test('report and serve take --config too', async () => {
    const results = path.join(dir, 'results.ndjson');
    fs.writeFileSync(results, `${JSON.stringify({ id: '1', ok: true, status: 200, attempts: 1, error: null })}\n`);
    const summary = path.join(dir, 'summary.json');
    const report = await runCli(['report', results, '--config', config('r.json', { summary })]);
    expect({ code: report.code, stderr: report.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(fs.readFileSync(summary, 'utf8'))).toMatchObject({ total: 1, ok: 1 });

    const serveConfig = config('s.yaml', `url: ${server.url}/echo\nport: 0\nquiet: true\n`);
    const { child, done } = startCli(['serve', '--config', serveConfig], { timeoutMs: 15_000 });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
    await waitFor(() => /serving on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 10_000, 'the ready line');
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});

describe('mistakes stop before anything is sent', () => {
  test.each([
    [{ concurency: 3 }, /unknown option "concurency" \(did you mean "concurrency"\?\)/],
    [{ port: 8080 }, /"port" is not an option of batchpost run \(it is one of serve\)/],
    [{ concurrency: { n: 1 } }, /"concurrency": expected a string or a number for --concurrency, not object/],
    [{ method: ['GET', 'PUT'] }, /"method": expected one value \(--method is given once\), not a list/],
    [{ location: 'yes' }, /"location": expected true or false \(--location is a switch\)/],
    [{ config: 'other.json' }, /"config": a config file cannot name another one/],
    ['[1, 2]', /expected one object of options/],
    ['{"url": ', /not valid JSON/],
  ])('%j: exit 2, CONFIG_INVALID naming the file and the key', async (content, message) => {
    const input = ndjsonFile(dir, payloads(2));
    const file = config('bad.json', typeof content === 'string' ? content : { url: `${server.url}/echo`, ...content });
    const r = await runCli(['run', input, '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: `);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('[CONFIG_INVALID]');
    expect(server.requests).toHaveLength(0);
  });

  test('a file that does not exist: CONFIG_INVALID, also from $BATCHPOST_CONFIG', async () => {
    const input = ndjsonFile(dir, payloads(1));
    const missing = path.join(dir, 'nope.json');
    for (const [args, env] of [
      [['--config', missing], {}],
      [[], { BATCHPOST_CONFIG: missing }],
    ] as const) {
      const r = await runCli(['run', input, '--url', `${server.url}/echo`, ...args], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${missing}: cannot read the config file: no such file [CONFIG_INVALID]`);
    }
  });

  test.each([
    ['concurrency', 0, '0'],
    ['format', 'xml', 'xml'],
    ['timeout', 'soon', 'soon'],
    ['rate', -5, '-5'],
  ])('"%s": %j fails with the message the flag gives', async (key, value, typed) => {
    const input = ndjsonFile(dir, payloads(1));
    const url = `${server.url}/echo`;
    const file = config('c.json', { url, [key]: value });
    const fromFile = await runCli(['run', input, '--config', file]);
    const fromFlag = await runCli(['run', input, '--url', url, `--${key}`, typed]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/\[USAGE\]/);
    expect(fromFile.stderr).toBe(fromFlag.stderr);
  });

  test('--help works even when $BATCHPOST_CONFIG names a broken file', async () => {
    const r = await runCli(['run', '--help'], { env: { BATCHPOST_CONFIG: config('bad.json', '{') } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config <file>');
  });
});

describe('secrets in the file stay there', () => {
  test.each([
    ['--config', true],
    ['BATCHPOST_CONFIG', false],
  ])(
    'after Ctrl-C the continue command names the file (%s), never its values, and runs as printed',
    async (_how, typed) => {
      const input = ndjsonFile(dir, payloads(30), 'in.ndjson');
      config('secret.json', {
        url: `${server.url}/slow?ms=150&access_token=tok-s3cret`,
        header: ['Authorization: Bearer hdr-s3cret'],
        concurrency: 2,
        out: 'out.ndjson',
      });
      const args = ['run', 'in.ndjson', ...(typed ? ['--config', 'secret.json'] : [])];
      const env: Record<string, string> = typed ? {} : { BATCHPOST_CONFIG: 'secret.json' };
      const { child, done } = startCli(args, { cwd: dir, env, timeoutMs: 20_000 });
      child.stdin!.end();
      await waitFor(() => server.requests.length >= 3, 10_000, 'three requests');
      child.kill('SIGINT');
      const first = await done;
      expect(first.stderr + first.stdout).not.toMatch(/s3cret/);
      const line = first.stderr
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('batchpost run ') && l.endsWith(' --resume'));
      expect(line).toBe('batchpost run in.ndjson --config secret.json --resume');
      expect(input).toBe(path.join(dir, 'in.ndjson'));
      const resume = await runCli(shellWords(line!).slice(1), { cwd: dir });
      expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
      expect(resume.stderr).not.toMatch(/s3cret/);
      const ids = readResults<{ id: string }>(path.join(dir, 'out.ndjson')).map((r) => Number(r.id));
      expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    },
  );
});
