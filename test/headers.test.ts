// Request headers as a server sees them: User-Agent batchpost/<version> unless one is given, and a header named
// more than once (-H, or -H @FILE) sent with every value, as curl sends it — from run (this thread or sender
// threads) and from serve's upstream calls.
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { parseHeaders } from '../src/options/parse.js';
import { requestHash } from '../src/engine/request.js';
import { ndjsonFile, ROOT, runCli, startCli, THREAD_MODES, tmpDir, waitFor } from './helpers/cli.js';

let server: FixtureServer;
const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

describe.each(THREAD_MODES)('run (%s)', (_name, threads) => {
  test('sends User-Agent: batchpost/<version> unless -H sets one', async () => {
    const input = ndjsonFile(tmpDir(), [{ a: 1 }]);
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, ...threads]);
    expect(r.code).toBe(0);
    expect(server.requests[0]!.headers['user-agent']).toBe(`batchpost/${version}`);

    server.reset();
    const own = await runCli(['run', input, '--url', `${server.url}/echo`, '-H', 'user-agent: mine/1', ...threads]);
    expect(own.code).toBe(0);
    expect(server.requests[0]!.headers['user-agent']).toBe('mine/1');
  });

  test('a header named more than once is sent with every value', async () => {
    const dir = tmpDir();
    const input = ndjsonFile(dir, [{ a: 1 }, { a: 2 }]);
    const file = path.join(dir, 'headers.txt');
    fs.writeFileSync(file, 'X-Tag: from-file\n');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '-H',
      'X-A: 1',
      '-H',
      'x-a: 2',
      '-H',
      'X-Tag: {{ a }}',
      '-H',
      `@${file}`,
      ...threads,
    ]);
    expect(r.code).toBe(0);
    expect(server.requests).toHaveLength(2);
    for (const q of server.requests) {
      // Node joins the lines of a repeated header with ", " in the order they came.
      expect(q.headers['x-a']).toBe('1, 2');
      expect(q.headers['x-tag']).toMatch(/^[12], from-file$/);
    }
  });
});

test('parseHeaders keeps a single header a string (the request stays as before) and lists a repeated one', () => {
  expect(parseHeaders(['Accept: text/plain'])).toEqual({ Accept: 'text/plain' });
  expect(parseHeaders(['X-A: 1', 'x-a: 2', 'X-A: 3'])).toEqual({ 'X-A': ['1', '2', '3'] });
  // The request hash (--resume) is of the method, URL and body: headers do not change it.
  const req = { method: 'POST', url: 'http://h/x', body: '{"a":1}' };
  expect(requestHash({ ...req, headers: { 'X-A': ['1', '2'] } })).toBe(requestHash({ ...req, headers: {} }));
});

test("serve's upstream calls send User-Agent and every value of a repeated -H", async () => {
  const { child, done } = startCli([
    'serve',
    '--url',
    `${server.url}/echo`,
    '--port',
    '0',
    '-H',
    'X-A: 1',
    '-H',
    'X-A: 2',
  ]);
  try {
    let seen = '';
    child.stderr!.on('data', (d: Buffer | string) => (seen += String(d)));
    await waitFor(() => /serving on (http:\/\/\S+)/.test(seen) || child.exitCode !== null, 15_000, 'serve');
    const url = /serving on (http:\/\/\S+)/.exec(seen)![1]!;
    const batch = await fetch(`${url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"a":1}]',
    });
    expect(batch.status).toBe(200);
    const odata = await fetch(`${url}/$batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ id: '1', method: 'GET', url: '/echo' }] }),
    });
    expect(odata.status).toBe(200);
    expect(server.requests).toHaveLength(2);
    for (const q of server.requests) {
      expect(q.headers['user-agent']).toBe(`batchpost/${version}`);
      expect(q.headers['x-a']).toBe('1, 2');
    }
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}, 30_000);
