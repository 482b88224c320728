// --input-format requests, end to end: each line a whole request (an OpenAI Batch file runs as it is), sent by the
// CLI to the fixture server on loopback.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type FixtureServer } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { memberText } from '../src/util/json-member.js';
import { parseLines, readResults, ROOT, runCli, tmpDir } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  response: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  hash?: string;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

/** Writes request lines (objects as JSON, strings as they are) to a file and returns its path. */
function linesFile(lines: (object | string)[], name = 'requests.jsonl'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

const byId = (lines: Line[]): Record<string, Line> => Object.fromEntries(lines.map((l) => [l.id, l]));

describe('an OpenAI Batch input file', () => {
  test('runs unchanged: ids are custom_id, /v1/... resolves against --url, bodies go out byte for byte', async () => {
    const file = path.join(ROOT, 'fixtures/openai-batch.jsonl');
    const auth = path.join(dir, 'auth.txt');
    fs.writeFileSync(auth, 'Authorization: Bearer sk-test-secret\n');
    const r = await runCli(['run', file, '--input-format', 'requests', '--url', server.url, '-H', `@${auth}`]);
    expect(r.code).toBe(0);
    const results = parseLines<Line>(r.stdout);
    expect(results.map((l) => l.id).sort()).toEqual(['request-1', 'request-2', 'request-3']);
    for (const l of results) {
      expect(l.ok).toBe(true);
      expect((l.response as { object: string }).object).toBe('chat.completion');
    }
    expect(server.requests.map((q) => `${q.method} ${q.path}`)).toEqual(Array(3).fill('POST /v1/chat/completions'));
    const sent = server.requests.map((q) => q.body).sort();
    const expected = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => /"body": (\{.*\})\}$/.exec(l)![1]!)
      .sort();
    expect(sent).toEqual(expected); // "temperature": 0.20 and the spacing kept
    for (const q of server.requests) {
      expect(q.headers.authorization).toBe('Bearer sk-test-secret');
      expect(q.headers['content-type']).toBe('application/json');
    }
    expect(r.stdout + r.stderr).not.toContain('sk-test-secret');
  });

  test('a --url with a path: /v1/... replaces it (RFC 3986), a path without a leading slash joins a base ending in /', async () => {
    const file = linesFile([
      { custom_id: 'a', url: '/echo', body: { x: 1 } },
      { custom_id: 'b', url: 'echo?q=1', body: { x: 2 } },
    ]);
    const r = await runCli(['run', file, '--input-format', 'requests', '--url', `${server.url}/v1/`]);
    expect(r.code).toBe(1); // b goes to /v1/echo, which is not a route
    const results = byId(parseLines<Line>(r.stdout));
    expect(results.a!.ok).toBe(true);
    expect(results.b!.error!.code).toBe('HTTP_404');
    expect(server.requests.map((q) => q.path).sort()).toEqual(['/echo', '/v1/echo']);
  });
});

describe('each line is its own request', () => {
  test('method, absolute url (no --url needed), headers over -H, null removes a header, string body as text', async () => {
    const file = linesFile([
      { id: 'put', method: 'put', url: `${server.url}/echo?k=1`, headers: { 'x-a': 'line', 'X-Num': 7 }, body: [1] },
      { id: 'del', method: 'DELETE', url: `${server.url}/echo` },
      { id: 'get', method: 'GET', url: `${server.url}/echo`, headers: { 'X-B': null } },
      { id: 'txt', url: `${server.url}/echo`, body: 'plain words' },
    ]);
    const r = await runCli(['run', file, '--input-format', 'requests', '-H', 'X-A: flag', '-H', 'X-B: flag']);
    expect(r.code).toBe(0);
    const echo = (id: string) =>
      byId(parseLines<Line>(r.stdout))[id]!.response as {
        method: string;
        headers: Record<string, string>;
        body: unknown;
      };
    expect(echo('put').method).toBe('PUT');
    expect(echo('put').headers['x-a']).toBe('line');
    expect(echo('put').headers['x-num']).toBe('7');
    expect(echo('put').headers['x-b']).toBe('flag');
    expect(echo('put').body).toEqual([1]);
    expect(echo('del').method).toBe('DELETE');
    expect(echo('get').method).toBe('GET');
    expect(echo('get').headers['x-b']).toBeUndefined();
    expect(echo('txt').headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(server.requests.find((q) => q.headers['content-type']?.toString().startsWith('text/'))!.body).toBe(
      'plain words',
    );
  });

  test('ids: id, else custom_id, else the position; --id-field still decides when given; duplicates stop', async () => {
    const url = `${server.url}/echo`;
    const file = linesFile([{ id: 'x', url }, { custom_id: 'y', url }, { url }, { url, meta: { k: 'm' } }]);
    const r = await runCli(['run', file, '--input-format', 'requests']);
    expect(
      parseLines<Line>(r.stdout)
        .map((l) => l.id)
        .sort(),
    ).toEqual(['3', '4', 'x', 'y']);
    const withField = linesFile(
      [
        { url, meta: { k: 'm1' } },
        { url, meta: { k: 'm2' } },
      ],
      'f.jsonl',
    );
    const f = await runCli(['run', withField, '--input-format', 'requests', '--id-field', 'meta.k']);
    expect(
      parseLines<Line>(f.stdout)
        .map((l) => l.id)
        .sort(),
    ).toEqual(['m1', 'm2']);
    const dup = await runCli([
      'run',
      linesFile(
        [
          { id: 1, url },
          { custom_id: '1', url },
        ],
        'd.jsonl',
      ),
      '--input-format',
      'requests',
    ]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/id "1" appears twice.*\[DUPLICATE_ID\]/);
  });

  test('a JSON array of requests, and a gzip file of request lines, read the same', async () => {
    const reqs = [
      { custom_id: 'a', url: '/echo', body: { n: 1 } },
      { custom_id: 'b', url: '/echo', body: { n: 2 } },
    ];
    const array = path.join(dir, 'requests.json');
    fs.writeFileSync(array, JSON.stringify(reqs, null, 2));
    const gz = path.join(dir, 'requests.jsonl.gz');
    fs.writeFileSync(gz, gzipSync(reqs.map((q) => JSON.stringify(q)).join('\n') + '\n'));
    for (const file of [array, gz]) {
      const r = await runCli(['run', file, '--input-format', 'requests', '--url', server.url]);
      expect([file, r.code]).toEqual([file, 0]);
      const bodies = parseLines<Line>(r.stdout).map((l) => (l.response as { body: unknown }).body);
      expect(bodies).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
    }
  });
});

describe('what applies per request', () => {
  test('retries follow the line’s method: a POST is not repeated after a 500, a PUT is', async () => {
    const file = linesFile([
      { id: 'post', method: 'POST', url: '/flaky/post?fail=1&code=500', body: {} },
      { id: 'put', method: 'PUT', url: '/flaky/put?fail=1&code=500', body: {} },
      {
        id: 'keyed',
        method: 'POST',
        url: '/flaky/keyed?fail=1&code=500',
        headers: { 'Idempotency-Key': 'k1' },
        body: {},
      },
    ]);
    const r = await runCli(['run', file, '--input-format', 'requests', '--url', server.url, '-X', 'PUT']);
    const results = byId(parseLines<Line>(r.stdout));
    expect([results.post!.attempts, results.post!.error!.code]).toEqual([1, 'HTTP_500']);
    expect(results.post!.error!.message).toMatch(/POST without an idempotency key/);
    expect([results.put!.attempts, results.put!.ok]).toEqual([2, true]);
    expect([results.keyed!.attempts, results.keyed!.ok]).toEqual([2, true]);
  });

  test('--url and -H templates render on the line; --transform, --expect and --serialize-by see it too', async () => {
    const file = linesFile([
      { custom_id: 'a', url: 'echo', body: { n: 1 }, tenant: 't1' },
      { custom_id: 'b', url: 'echo', body: { n: 2 }, tenant: 't1' },
    ]);
    const r = await runCli([
      'run',
      file,
      '--input-format',
      'requests',
      '--url',
      `${server.url}/{{ tenant }}/../`,
      '-H',
      'X-Id: {{ custom_id }}',
      '--transform',
      'body.headers."x-id"',
      '--expect',
      "body.path == '/echo'",
      '--serialize-by',
      'tenant',
    ]);
    expect(r.code).toBe(0);
    expect(
      parseLines<Line>(r.stdout)
        .map((l) => [l.id, l.response])
        .sort(),
    ).toEqual([
      ['a', 'a'],
      ['b', 'b'],
    ]);
    expect(server.maxInFlight).toBe(1);
  });

  test('--resume skips what is recorded and notices a line whose request changed (method, url or body)', async () => {
    const lines = [
      { custom_id: 'a', url: '/echo', body: { n: 1 } },
      { custom_id: 'b', url: '/echo', body: { n: 2 } },
    ];
    const out = path.join(dir, 'out.ndjson');
    const file = linesFile(lines);
    expect((await runCli(['run', file, '--input-format', 'requests', '--url', server.url, '-o', out])).code).toBe(0);
    expect(readResults<Line>(out).every((l) => typeof l.hash === 'string')).toBe(true);
    server.reset();
    linesFile([lines[0]!, { ...lines[1]!, method: 'PUT' }, { custom_id: 'c', url: '/echo' }]);
    const again = await runCli(['run', file, '--input-format', 'requests', '--url', server.url, '-o', out, '--resume']);
    expect(again.code).toBe(0);
    expect(server.requests).toHaveLength(1); // only c
    expect(again.stderr).toMatch(/1 recorded (id|request).*changed|changed.*\bb\b/s);
  });
});

describe('lines that are not requests', () => {
  const bad = (server: FixtureServer) => [
    { custom_id: 'ok1', url: `${server.url}/echo`, body: { n: 1 } },
    { custom_id: 'nourl', body: { n: 2 } },
    { custom_id: 'badmethod', url: `${server.url}/echo`, method: 5 },
    { custom_id: 'badheaders', url: `${server.url}/echo`, headers: ['x'] },
    { custom_id: 'relative', url: '/echo' },
    { custom_id: 'ok2', url: `${server.url}/echo`, body: { n: 3 } },
  ];

  test('stop the run with INPUT_INVALID_REQUEST naming the line (exit 2)', async () => {
    const file = linesFile(bad(server));
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', file, '--input-format', 'requests', '--concurrency', '1', '-o', out]);
    expect(r.code).toBe(2);
    expect(readResults<Line>(out).map((l) => l.id)).toEqual(['ok1']);
    expect(r.stderr).toMatch(/requests\.jsonl:2: no "url".*\[INPUT_INVALID_REQUEST\]/);
    expect(r.stderr).toMatch(/--skip-invalid/);
  });

  test('with --skip-invalid: each recorded as INVALID_REQUEST, and --failed writes the original lines back', async () => {
    const file = linesFile(bad(server));
    const failed = path.join(dir, 'failed.jsonl');
    const r = await runCli(['run', file, '--input-format', 'requests', '--skip-invalid', '--failed', failed]);
    expect(r.code).toBe(1);
    const results = byId(parseLines<Line>(r.stdout));
    expect([results.ok1!.ok, results.ok2!.ok]).toEqual([true, true]);
    const codes = ['nourl', 'badmethod', 'badheaders', 'relative'].map((id) => results[id]!.error!.code);
    expect(codes).toEqual(Array(4).fill('INVALID_REQUEST'));
    expect(results.nourl!.error!.message).toMatch(/^line 2: no "url"/);
    expect(results.badmethod!.error!.message).toMatch(/^line 3: "method" is a number/);
    expect(results.badheaders!.error!.message).toMatch(/^line 4: "headers" is an array/);
    expect(results.relative!.error!.message).toMatch(/^line 5: "url" "\/echo" is relative, and there is no --url/);
    const original = fs.readFileSync(file, 'utf8').split('\n');
    expect(fs.readFileSync(failed, 'utf8')).toBe([1, 2, 3, 4].map((i) => original[i]).join('\n') + '\n');
    expect(server.requests).toHaveLength(2);
  });

  test('without --input-format requests, --url is still required', async () => {
    const r = await runCli(['run', linesFile([{ url: 'http://127.0.0.1:1/' }])]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '-u, --url <url>' not specified/);
    expect(r.stderr).toMatch(/--input-format requests/);
  });
});

describe('with other modes', () => {
  test('--dry-run shows each request as built (url resolved, secrets hidden); --threads and --queue are refused', async () => {
    const file = linesFile([
      { custom_id: 'a', url: '/v1/chat/completions', headers: { Authorization: 'Bearer sk-line' }, body: { m: 1 } },
      { custom_id: 'b', url: 'https://other.example/x', method: 'DELETE' },
    ]);
    const r = await runCli([
      'run',
      file,
      '--input-format',
      'requests',
      '--url',
      'http://127.0.0.1:9/base',
      '--dry-run',
    ]);
    expect(r.code).toBe(0);
    const shown = parseLines<{ id: string; method: string; url: string; body: string | null }>(r.stdout);
    expect(shown.map((q) => [q.id, q.method, q.url, q.body])).toEqual([
      ['a', 'POST', 'http://127.0.0.1:9/v1/chat/completions', '{"m":1}'],
      ['b', 'DELETE', 'https://other.example/x', null],
    ]);
    expect(r.stdout).not.toContain('sk-line');
    for (const mode of [
      ['--threads', '2'],
      ['--queue', 'redis://127.0.0.1:6379'],
    ]) {
      const refused = await runCli(['run', file, '--input-format', 'requests', ...mode]);
      expect([mode[0], refused.code]).toEqual([mode[0], 2]);
      expect(refused.stderr).toMatch(/request lines are sent from this thread only.*\[USAGE\]/);
    }
  });
});

describe("a body's exact text", () => {
  test('is found whatever the spacing, nesting, strings holding braces and quotes, or escaped key', () => {
    expect(memberText('{"url":"/x","body":{"a":[1,{"b":"}]\\""}],"n":1.50}}', 'body')).toBe(
      '{"a":[1,{"b":"}]\\""}],"n":1.50}',
    );
    expect(memberText(' { "body" :\t[ 1 , 2 ]\r\n, "url": "/x" } ', 'body')).toBe('[ 1 , 2 ]');
    expect(memberText('{"b\\u006fdy": 0.10, "url": "/x"}', 'body')).toBe('0.10');
    expect(memberText('{"body": 1, "body": "last"}', 'body')).toBe('"last"');
    expect(memberText('{"url": "/x", "bodyx": 1}', 'body')).toBeUndefined();
    expect(memberText('[1]', 'body')).toBeUndefined();
  });
});
