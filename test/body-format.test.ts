// --body-format json|form|text against the fixture server: /form echoes the fields of a urlencoded body (415 for
// anything else), /echo the body and headers as they arrived.
import fs from 'node:fs';
import path from 'node:path';
import { useFixtureServer } from './helpers/fixture.js';
import { parseLines, runCli, tmpDir } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  response: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

function file(lines: string[]): string {
  const f = path.join(dir, 'in.ndjson');
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

const byId = (stdout: string): Record<string, Line> =>
  Object.fromEntries(parseLines<Line>(stdout).map((l) => [l.id, l]));

describe('--body-format form', () => {
  test('an object is sent urlencoded: scalars as written, null empty, arrays as repeated keys', async () => {
    const f = file([
      '{"q": "a b&c", "n": 12.50, "ok": true, "none": null, "tag": ["x", "y"], "big": 12345678901234567890}',
    ]);
    const r = await runCli(['run', f, '--url', `${server.url}/form`, '--body-format', 'form']);
    expect(r.code).toBe(0);
    const answer = byId(r.stdout)['1']!.response as { raw: string; fields: [string, string][] };
    expect(answer.fields).toEqual([
      ['q', 'a b&c'],
      ['n', '12.5'],
      ['ok', 'true'],
      ['none', ''],
      ['tag', 'x'],
      ['tag', 'y'],
      ['big', '12345678901234567890'],
    ]);
    expect(answer.raw).toBe('q=a+b%26c&n=12.5&ok=true&none=&tag=x&tag=y&big=12345678901234567890');
  });

  test('a nested value or a body that is not an object fails that request (INVALID_BODY); the others are sent', async () => {
    const f = file(['{"a": 1}', '{"a": {"b": 1}}', '[1, 2]', '{"a": [{"b": 1}]}']);
    const r = await runCli(['run', f, '--url', `${server.url}/form`, '--body-format', 'form']);
    expect(r.code).toBe(1);
    const lines = byId(r.stdout);
    expect(lines['1']!.ok).toBe(true);
    expect(lines['2']!.error).toEqual({
      code: 'INVALID_BODY',
      message: expect.stringMatching(/^line 2: --body-format form: field "a" is an object/) as string,
    });
    expect(lines['3']!.error!.message).toMatch(/sends an object of fields, and this body is an array/);
    expect(lines['4']!.error!.message).toMatch(/an item of field "a" is an object/);
    expect(server.requests).toHaveLength(1);
  });

  test('--body builds the object; -H Content-Type wins over the format’s', async () => {
    const f = file(['{"user": {"name": "ada", "id": 7}}']);
    const r = await runCli(['run', f, '--url', `${server.url}/echo`, '--body-format', 'form', '--body', 'user']);
    const echo = byId(r.stdout)['1']!.response as { headers: Record<string, string>; body: unknown };
    expect(echo.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(server.requests[0]!.body).toBe('name=ada&id=7');
    server.reset();
    await runCli([
      'run',
      f,
      '--url',
      `${server.url}/echo`,
      '--body-format',
      'form',
      '--body',
      'user',
      '-H',
      'Content-Type: application/x-custom',
    ]);
    expect(server.requests[0]!.headers['content-type']).toBe('application/x-custom');
  });
});

describe('--body-format text', () => {
  test('a string is sent as it is with text/plain; anything else fails with INVALID_BODY', async () => {
    const f = file(['"hello \\"world\\"\\n"', '{"not": "text"}']);
    const r = await runCli(['run', f, '--url', `${server.url}/echo`, '--body-format', 'text']);
    expect(r.code).toBe(1);
    const lines = byId(r.stdout);
    expect((lines['1']!.response as { headers: Record<string, string> }).headers['content-type']).toBe(
      'text/plain; charset=utf-8',
    );
    expect(server.requests.map((q) => q.body)).toEqual(['hello "world"\n']);
    expect(lines['2']!.error!.code).toBe('INVALID_BODY');
    expect(lines['2']!.error!.message).toMatch(/--body-format text sends a string, and this body is an object/);
  });

  test('json stays the default: a string payload goes out as its JSON text, as application/json', async () => {
    const f = file(['"hello"']);
    await runCli(['run', f, '--url', `${server.url}/echo`]);
    expect(server.requests[0]!.body).toBe('"hello"');
    expect(server.requests[0]!.headers['content-type']).toBe('application/json');
  });

  test('--dry-run counts the bodies it cannot encode under INVALID_BODY', async () => {
    const f = file(['"a"', '{"b": 1}']);
    const r = await runCli(['run', f, '--url', `${server.url}/echo`, '--body-format', 'text', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/INVALID_BODY: 1 payload \(line 2 shown\)/);
    expect(server.requests).toHaveLength(0);
  });
});
