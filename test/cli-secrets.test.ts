// Secrets and terminal safety, as a user meets them: a secret header, a URL password or token never shows in what
// batchpost prints or writes (continue commands, hints, results, usage errors, dry runs), the printed commands still
// run (-H @FILE), user:password in --url goes out as Basic credentials, and bad input lines cannot drive the terminal.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../fixtures/server.js';
import { ndjsonFile, readResults, runCli, shellWords, startCli, waitFor, type CliResult } from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

const TOKEN = 'S3CRET-BEARER-9f2c';
const PASS = 'PASS-w0rd-77';
const QUERY_TOKEN = 'QT0KEN-41aa';
const API_KEY = 'AP1KEY-d00d';
const SECRETS = [TOKEN, PASS, QUERY_TOKEN, API_KEY];

const server = useFixtureServer();
const tmpDir = useTmpDirs();

const numbered = (count: number) => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));

/** Every file in `dir` and the run's output streams: none may hold a secret. */
function expectNoSecret(r: CliResult, dir?: string): void {
  const texts: [string, string][] = [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ];
  if (dir !== undefined)
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith('headers')) continue; // the header file holds the secret on purpose
      texts.push([f, fs.readFileSync(path.join(dir, f), 'utf8')]);
    }
  for (const [where, text] of texts)
    for (const s of SECRETS) expect({ where, leaks: text.includes(s) }).toEqual({ where, leaks: false });
}

/** The printed command ending in `flag`, as argv (without "batchpost"). */
function printedCommand(stderr: string, flag: string): string[] {
  const line = stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.endsWith(` ${flag}`) && l.includes('batchpost run '));
  if (line === undefined) throw new Error(`no "${flag}" command on stderr:\n${stderr}`);
  return shellWords(line.slice(line.indexOf('batchpost run '))).slice(1);
}

/** Starts a run against /slow, waits until requests are in flight, sends SIGINT; the run's result. */
async function interrupted(args: string[], dir: string): Promise<CliResult> {
  const { child, done } = startCli(args, { cwd: dir });
  child.stdin!.end();
  await waitFor(() => server.requests.length >= 6, 10_000, 'requests in flight');
  child.kill('SIGINT');
  const r = await done;
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 130 });
  return r;
}

describe('the continue command after an interrupt', () => {
  test('headers from -H @FILE: the command repeats -H @FILE, holds no secret, and resumes the run', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(40), 'in.ndjson');
    fs.writeFileSync(
      path.join(dir, 'headers.txt'),
      `# credentials for the orders API\n\nAuthorization: Bearer ${TOKEN}\r\nX-Trace: yes\n`,
    );
    const args = ['run', 'in.ndjson', '--url', `${server.url}/slow?ms=300`, '-H', '@headers.txt', '-c', '4'];
    const first = await interrupted([...args, '--out', 'out.ndjson'], dir);
    expectNoSecret(first, dir);
    // Every request carried the headers of the file.
    expect(server.requests.every((q) => q.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(server.requests.every((q) => q.headers['x-trace'] === 'yes')).toBe(true);
    const command = printedCommand(first.stderr, '--resume');
    expect(command).toContain('@headers.txt');
    expect(first.stderr).not.toContain('<hidden>');

    server.reset();
    const resume = await runCli(command, { cwd: dir });
    expect({ code: resume.code, stderr: resume.stderr }).toMatchObject({ code: 0 });
    expectNoSecret(resume, dir);
    expect(readResults(path.join(dir, 'out.ndjson')).length).toBe(40);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.every((q) => q.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  test('a secret -H and a URL token are printed as <hidden>, with a line saying how to put them back', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(40), 'in.ndjson');
    const url = `${server.url}/slow?ms=300&access_token=${QUERY_TOKEN}`;
    const args = ['run', 'in.ndjson', '--url', url, '-H', `Authorization: Bearer ${TOKEN}`, '-c', '4'];
    const r = await interrupted([...args, '-H', `X-Api-Key: ${API_KEY}`, '--out', 'out.ndjson'], dir);
    expectNoSecret(r, dir);
    const command = printedCommand(r.stderr, '--resume');
    expect(command).toContain('Authorization: <hidden>');
    expect(command).toContain('X-Api-Key: <hidden>');
    expect(command).toContain(`${server.url}/slow?ms=300&access_token=<hidden>`);
    expect(r.stderr).toMatch(/<hidden>: put them back .*-H @FILE/);
  });
});

describe('results, hints and messages of failed requests', () => {
  test('user:password in --url goes out as Basic credentials; results and the retry hint hold no secret', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(3), 'in.ndjson');
    const url = `${server.url.replace('//', `//alice:${PASS}@`)}/status/500?token=${QUERY_TOKEN}`;
    const r = await runCli(
      ['run', 'in.ndjson', '--url', url, '-H', `X-Api-Key: ${API_KEY}`, '--retries', '0', '--out', 'out.ndjson'],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expectNoSecret(r, dir);
    expect(server.requests.length).toBe(3);
    const basic = `Basic ${Buffer.from(`alice:${PASS}`).toString('base64')}`;
    expect(server.requests.every((q) => q.headers.authorization === basic)).toBe(true);
    expect(server.requests.every((q) => q.headers['x-api-key'] === API_KEY)).toBe(true);
    const results = readResults<{ error: { message: string } }>(path.join(dir, 'out.ndjson'));
    expect(results[0]!.error.message).toContain('/status/500?token=[redacted] answered 500');
    expect(r.stderr).toMatch(/run again only the failures: .*X-Api-Key: <hidden>/);
    expect(r.stderr).toMatch(/<hidden>: put them back/);
  });

  test('an Authorization -H wins over user:password in --url', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(1), 'in.ndjson');
    const url = `${server.url.replace('//', `//alice:${PASS}@`)}/echo`;
    const r = await runCli(['run', 'in.ndjson', '--url', url, '-H', `Authorization: Bearer ${TOKEN}`], { cwd: dir });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('a request that gets no answer names its URL without the password or the token', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(1), 'in.ndjson');
    const url = `http://bob:${PASS}@127.0.0.1:${await freePort()}/x?api_key=${QUERY_TOKEN}`;
    const r = await runCli(['run', 'in.ndjson', '--url', url, '--retries', '0', '--out', 'out.ndjson'], { cwd: dir });
    expect(r.code).toBe(1);
    expectNoSecret(r, dir);
    const [line] = readResults<{ error: { message: string } }>(path.join(dir, 'out.ndjson'));
    expect(line!.error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/x\?api_key=\[redacted\]: /);
  });
});

describe('usage errors and dry runs', () => {
  test('a mistyped secret header is refused without echoing its value', async () => {
    const r = await runCli(['run', '-', '--url', `${server.url}/echo`, '-H', `Authorization Bearer ${TOKEN}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--header "Authorization [redacted]"');
    expectNoSecret(r);
  });

  test('-H @FILE that does not exist is a usage error naming the file', async () => {
    const dir = tmpDir();
    const r = await runCli(['run', '-', '--url', `${server.url}/echo`, '-H', '@nope.headers'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--header @nope\.headers: cannot read the header file: no such file \[USAGE\]/);
  });

  test('an unusable --url is refused without its password or token', async () => {
    const r = await runCli(['run', '-', '--url', `ftp://carol:${PASS}@h.example/?secret=${QUERY_TOKEN}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/only http and https/);
    expectNoSecret(r);
  });

  test('parse errors never echo a secret: unknown --option=value, a token on the wrong flag, a URL as a command', async () => {
    const cases: string[][] = [
      ['run', '-', '--url', `${server.url}/echo`, `--api-key=${API_KEY}`],
      ['run', '-', '--url', `${server.url}/echo`, '--format', `Bearer ${TOKEN}`],
      ['run', '-', '--url', `${server.url}/echo`, '-c', `Authorization: Basic ${TOKEN}`],
      [`http://carol:${PASS}@h.example/orders?token=${QUERY_TOKEN}`],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('[redacted]');
      expectNoSecret(r);
    }
  });

  test('--dry-run shows the requests with secret headers and URL secrets redacted', async () => {
    const dir = tmpDir();
    ndjsonFile(dir, numbered(2), 'in.ndjson');
    const url = `${server.url}/echo?access_token=${QUERY_TOKEN}`;
    const r = await runCli(
      ['run', 'in.ndjson', '--url', url, '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'X-Trace: yes', '--dry-run'],
      { cwd: dir },
    );
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expectNoSecret(r);
    const first = JSON.parse(r.stdout.split('\n')[0]!) as { url: string; headers: Record<string, string> };
    expect(first.url).toBe(`${server.url}/echo?access_token=[redacted]`);
    expect(first.headers).toMatchObject({ Authorization: '[redacted]', 'X-Trace': 'yes' });
    expect(server.requests).toEqual([]);
  });
});

describe('terminal control characters in user data', () => {
  // Retitles the window, clears the screen: printed raw, a bad line rewrites the terminal.
  const ESCAPES = '\u001b]0;pwned\u0007\u001b[2J\u009b31m';
  const badInput = (dir: string): string => {
    const file = path.join(dir, 'in.ndjson');
    fs.writeFileSync(file, `{"n":1}\n{"n": 2, ${ESCAPES}}\n`);
    return file;
  };
  const expectEscaped = (text: string): void => {
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u001b\u0007\u009b]/);
  };

  test('an invalid line is quoted with its control characters written out', async () => {
    const dir = tmpDir();
    const r = await runCli(['run', badInput(dir), '--url', `${server.url}/echo`, '--out', path.join(dir, 'o.ndjson')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m');
    expectEscaped(r.stderr);
  });

  test('--dry-run prints no control character, on stderr or in the requests it shows', async () => {
    const dir = tmpDir();
    const bad = await runCli(['run', badInput(dir), '--url', `${server.url}/echo`, '--dry-run']);
    expect(bad.code).toBe(2);
    expectEscaped(bad.stderr);
    const ids = path.join(dir, 'ids.ndjson');
    const line = JSON.stringify({ id: `a${ESCAPES}` });
    fs.writeFileSync(ids, `${line}\n${line}\n`);
    const dup = await runCli(['run', ids, '--id-field', 'id', '--url', `${server.url}/echo`, '--dry-run']);
    expect(dup.stderr).toContain('id "a\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m"');
    expectEscaped(dup.stderr);
    expectEscaped(dup.stdout);
    expect(JSON.parse(dup.stdout.split('\n')[0]!)).toMatchObject({ id: `a${ESCAPES}` });
  });
});
