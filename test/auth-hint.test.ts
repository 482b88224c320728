// A run whose answers turn into 401s (a token that expired, a wrong one) says so once at the end and points at
// --auth-command and --auth-refresh; with --auth-command in use it says the server refuses the command's headers
// instead. Never a header value. The CLI runs as a child process against the fixture server (/status/:code,
// /auth/token and /auth/protected).
import fs from 'node:fs';
import path from 'node:path';
import { ndjsonFile, payloads, runCli } from './helpers/cli.js';
import { useFixtureServer, useTmpDirs } from './helpers/fixture.js';

const server = useFixtureServer();
const tmp = useTmpDirs();

const HINT = /answers? (were|was) 401 Unauthorized/g;
const hintsIn = (stderr: string): number => stderr.match(HINT)?.length ?? 0;

/**
 * Payloads that go to /status/<code>, one code each, in order; sent one at a time so the answers come back in
 * input order (the trailing-streak rule depends on it).
 */
async function runCodes(codes: number[], args: string[] = [], env: Record<string, string> = {}) {
  const dir = tmp();
  const input = ndjsonFile(
    dir,
    codes.map((code, i) => ({ n: i, code })),
  );
  const out = path.join(dir, 'out.ndjson');
  const r = await runCli(
    [
      'run',
      input,
      '--url',
      `${server.url}/status/{{ code }}`,
      '--concurrency',
      '1',
      '--out',
      out,
      '--progress',
      'none',
      ...args,
    ],
    { timeoutMs: 60_000, env },
  );
  return { ...r, out: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '' };
}

const repeat = (code: number, n: number): number[] => Array<number>(n).fill(code);

describe('without --auth-command', () => {
  test('every answer 401: one hint at the end, naming --auth-command and --auth-refresh', async () => {
    const r = await runCodes(repeat(401, 12));
    expect(r.code).toBe(1);
    expect(hintsIn(r.stderr)).toBe(1);
    expect(r.stderr).toContain('all 12 answers were 401 Unauthorized');
    expect(r.stderr).toContain('--auth-command');
    expect(r.stderr).toContain('--auth-refresh');
    // After the summary, so the last thing read is what to do.
    expect(r.stderr.indexOf('401 Unauthorized')).toBeGreaterThan(r.stderr.indexOf('status'));
  });

  test('one 401 among many answers: no hint', async () => {
    const r = await runCodes([...repeat(200, 10), 401, ...repeat(200, 9)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('401 1');
    expect(hintsIn(r.stderr)).toBe(0);
    expect(r.stderr).not.toContain('--auth-command');
  });

  test('fewer than 5 401s, even when they are every answer: no hint', async () => {
    const r = await runCodes(repeat(401, 4));
    expect(hintsIn(r.stderr)).toBe(0);
  });

  test('at least 5 and at least 10 % of the answers: the hint', async () => {
    const r = await runCodes([401, ...repeat(200, 20), ...repeat(401, 4), ...repeat(200, 20)]);
    expect(r.stderr).toContain('5 of 45 answers were 401 Unauthorized');
    expect(hintsIn(r.stderr)).toBe(1);
  });

  test('under 10 %, but the run ends on 5 or more 401s in a row (a token that expired): the hint', async () => {
    const r = await runCodes([...repeat(200, 95), ...repeat(401, 5)]);
    expect(r.stderr).toContain('5 of 100 answers were 401 Unauthorized, the last 5 in a row');
    expect(hintsIn(r.stderr)).toBe(1);
  });

  test('under 10 % and not at the end: no hint', async () => {
    const r = await runCodes([...repeat(401, 5), ...repeat(200, 95)]);
    expect(hintsIn(r.stderr)).toBe(0);
  });

  test('an -H token that expires during the run: the hint, and neither the token nor the header in any output', async () => {
    // Valid 1 s; 15 requests at 5 a second take at least 2.8 s, so the run ends on 401s however slow the machine.
    const token = await (await fetch(`${server.url}/auth/token?ttl=1000`)).text();
    const dir = tmp();
    const input = ndjsonFile(dir, payloads(15));
    const out = path.join(dir, 'out.ndjson');
    const args = ['--rate', '5', '-H', `Authorization: Bearer ${token}`, '-o', out];
    const r = await runCli(['run', input, '--url', `${server.url}/auth/protected`, ...args], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(hintsIn(r.stderr)).toBe(1);
    for (const text of [r.stdout, r.stderr, fs.readFileSync(out, 'utf8')]) expect(text).not.toContain(token);
    expect(r.stderr).not.toMatch(/Bearer/);
  });
});

describe('with --auth-command', () => {
  const secret = 'sekrit-token-4f9a';

  test('401s that persist after refreshes: the server refuses the command’s headers; no advice to add it', async () => {
    // The token comes from the environment: the command itself is not a secret and is printed (--retry-failed).
    const r = await runCodes(repeat(401, 8), ['--auth-command', 'echo "$HINT_TOKEN"'], { HINT_TOKEN: secret });
    expect(r.code).toBe(1);
    expect(hintsIn(r.stderr)).toBe(1);
    expect(r.stderr).toContain('refuse');
    expect(r.stderr).not.toContain('--auth-refresh');
    expect(r.stderr).not.toMatch(/add --auth-command|--auth-command CMD/);
    for (const text of [r.stdout, r.stderr, r.out]) expect(text).not.toContain(secret);
    // The command ran again on the 401s: the server saw it sent each time.
    expect(server.requests.filter((q) => q.headers.authorization === `Bearer ${secret}`).length).toBe(16);
  });

  test('one 401: nothing said', async () => {
    const r = await runCodes([...repeat(200, 10), 401], ['--auth-command', 'echo "$HINT_TOKEN"'], {
      HINT_TOKEN: secret,
    });
    expect(hintsIn(r.stderr)).toBe(0);
  });
});

describe('the other displays say it the same way', () => {
  test('--progress json: one plain-text hint before the last {"summary"} line; every other line JSON', async () => {
    const r = await runCodes(repeat(401, 6), ['--progress', 'json']);
    const lines = r.stderr.split('\n').filter(Boolean);
    const plain = lines.filter((l) => !l.startsWith('{'));
    expect(plain.join('\n').match(HINT)).toHaveLength(1);
    expect(plain.join('\n')).toContain('--auth-command');
    expect(lines.at(-1)).toMatch(/^\{"summary":/);
    // The hint's two lines are the only ones for a person.
    expect(plain).toHaveLength(2);
    expect(lines.findIndex((l) => l.includes('401 Unauthorized'))).toBeLessThan(lines.length - 1);
  });

  test('--threads 2 and --progress lines: one hint', async () => {
    const r = await runCodes(repeat(401, 6), ['--threads', '2', '--progress', 'lines']);
    expect(hintsIn(r.stderr)).toBe(1);
  });
});
