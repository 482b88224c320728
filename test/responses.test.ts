// What a server sends can never stop a run: answers nested too deep to write back, answers too large to keep, a
// 100 Continue nobody asked for; and what the machine or the command line cannot do is said, not crashed on.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { type FixtureServer, startFixtureServer } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { resolveOptions } from '../src/engine/options.js';
import { startBatchServer } from '../src/server/server.js';
import {
  BIN,
  ndjsonFile,
  parseLines,
  payloads,
  readResults,
  runCli,
  startCli,
  THREAD_MODES,
  tmpDir,
} from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  response: unknown;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

describe.each(THREAD_MODES)('an answer nested 5,000 deep (%s)', (_mode, threads) => {
  test('is kept as its text, the run finishes, and --resume finds nothing left to send', async () => {
    const file = ndjsonFile(dir, payloads(3));
    const out = path.join(dir, 'out.ndjson');
    const url = `${server.url}/deep?depth=5000`;
    const r = await runCli(['run', file, '--url', url, '--out', out, ...threads]);
    expect(r.stderr).not.toContain('RangeError');
    expect(r.code).toBe(0);
    const lines = readResults<Line>(out);
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).toMatchObject({ ok: true, status: 200, error: null });
      expect(l.response).toBe('['.repeat(5000) + ']'.repeat(5000));
    }
    const again = await runCli(['run', file, '--url', url, '--out', out, '--resume', ...threads]);
    expect(again.code).toBe(0);
    expect(server.requests).toHaveLength(3);
  });

  test('a shallow JSON answer is still parsed', async () => {
    const r = await runCli(['run', ndjsonFile(dir, payloads(1)), '--url', `${server.url}/deep?depth=900`, ...threads]);
    expect(r.code).toBe(0);
    const [line] = parseLines<Line>(r.stdout);
    expect(Array.isArray(line!.response)).toBe(true);
  });
});

describe.each(THREAD_MODES)('--max-response-size (%s)', (_mode, threads) => {
  test('a larger answer fails with RESPONSE_TOO_LARGE and its status, once, and the others go on', async () => {
    const file = ndjsonFile(dir, [{ n: 1, big: true }, { n: 2 }]);
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/{{ big && 'big' || 'echo' }}?bytes=2000000&length={{ n }}`,
      '--max-response-size',
      '1mb',
      ...threads,
    ]);
    expect(r.code).toBe(1);
    const lines = parseLines<Line>(r.stdout).sort((a, b) => a.id.localeCompare(b.id));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ ok: false, status: 200, attempts: 1, response: null });
    expect(lines[0]!.error!.code).toBe('RESPONSE_TOO_LARGE');
    expect(lines[0]!.error!.message).toContain('--max-response-size');
    expect(lines[1]).toMatchObject({ ok: true, status: 200 });
  });

  test('an endless body is cut off at the default cap and memory stays bounded', async () => {
    const file = ndjsonFile(dir, payloads(4));
    const { child, done } = startCli(['run', file, '--url', `${server.url}/endless`, '-c', '4', ...threads], {
      timeoutMs: 60_000,
    });
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
    expect(r.code).toBe(1);
    const lines = parseLines<Line>(r.stdout);
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).toMatchObject({ ok: false, status: 200, attempts: 1 });
    expect(lines.map((l) => l.error!.code)).toEqual(Array(4).fill('RESPONSE_TOO_LARGE'));
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(200 * 1024);
  });
});

test.each(['10xb', '1gb'])('--max-response-size refuses %s', async (size) => {
  const r = await runCli([
    'run',
    ndjsonFile(dir, payloads(1)),
    '--url',
    `${server.url}/echo`,
    '--max-response-size',
    size,
  ]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`--max-response-size "${size}"`);
});

describe('framing headers', () => {
  test.each(['Content-Length: 1', 'Transfer-Encoding: chunked', 'connection: close'])(
    '-H "%s" is refused before anything is sent',
    async (header) => {
      const r = await runCli(['run', ndjsonFile(dir, payloads(2)), '--url', `${server.url}/echo`, '-H', header]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--header "${header.split(':')[0]!}"`);
      expect(server.requests).toHaveLength(0);
    },
  );

  test('-H Host is allowed', async () => {
    const r = await runCli([
      'run',
      ndjsonFile(dir, payloads(1)),
      '--url',
      `${server.url}/echo`,
      '-H',
      'Host: example.test',
    ]);
    expect(r.code).toBe(0);
    expect(server.requests[0]!.headers.host).toBe('example.test');
  });
});

test('more concurrency than open files allow: every request is sent, none fails with EMFILE', async () => {
  const file = ndjsonFile(dir, payloads(300));
  const out = path.join(dir, 'out.ndjson');
  const cmd = `ulimit -n 64; exec "${process.execPath}" "${BIN}" run "${file}" --url "${server.url}/echo?ms=20" -c 1000 --out "${out}" --progress none`;
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('sh', ['-c', cmd]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  const lines = readResults<Line>(out);
  expect(lines.filter((l) => !l.ok).map((l) => l.error!.code)).toEqual([]);
  expect(lines).toHaveLength(300);
  expect(r.code).toBe(0);
}, 60_000);

test('an unsolicited 100 Continue is BAD_RESPONSE, not a reset: the request is not sent again', async () => {
  let seen = 0;
  const raw = net.createServer((socket) => {
    socket.once('data', () => {
      seen++;
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(
        () =>
          socket.end(
            'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"ok":true}',
          ),
        20,
      );
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const r = await runCli(['run', ndjsonFile(dir, payloads(1)), '--url', `http://127.0.0.1:${port}/x`, '-X', 'PUT']);
    const [line] = parseLines<Line>(r.stdout);
    expect(line).toMatchObject({ ok: false, attempts: 1 });
    expect(line!.error!.code).toBe('BAD_RESPONSE');
    expect(line!.error!.message).toContain('100 Continue');
    expect(seen).toBe(1);
    expect(r.code).toBe(1);
  } finally {
    raw.close();
  }
});

describe('serve', () => {
  async function batchAnswer(target: string, maxResponseBytes?: number): Promise<{ status: number; text: string }> {
    const s = await startBatchServer({
      run: resolveOptions({ url: target, maxResponseBytes }),
      maxItems: 10,
      maxBytes: 1024 * 1024,
      inherit: new Set(),
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const res = await request(`${s.url}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ n: 1 }]),
      });
      return { status: res.statusCode, text: await res.body.text() };
    } finally {
      await s.abort();
    }
  }

  test('an answer nested 5,000 deep comes back as its text', async () => {
    const a = await batchAnswer(`${server.url}/deep?depth=5000`);
    expect(a.status).toBe(200);
    const { results } = JSON.parse(a.text) as { results: Line[] };
    expect(results[0]).toMatchObject({ ok: true, status: 200, response: '['.repeat(5000) + ']'.repeat(5000) });
  });

  test('an endless answer is cut off at maxResponseBytes: RESPONSE_TOO_LARGE', async () => {
    const a = await batchAnswer(`${server.url}/endless`, 64 * 1024);
    expect(a.status).toBe(200);
    const { results } = JSON.parse(a.text) as { results: Line[] };
    expect(results[0]).toMatchObject({ ok: false, status: 200, error: { code: 'RESPONSE_TOO_LARGE' } });
  });
});

describe('redirects', () => {
  let other: FixtureServer;
  beforeAll(async () => {
    other = await startFixtureServer();
  });
  afterAll(() => other.close());
  beforeEach(() => other.reset());

  interface Echo {
    method: string;
    headers: Record<string, string>;
    body: unknown;
  }
  const redirect = (code: number, to: string) => `${server.url}/redirect?code=${code}&to=${encodeURIComponent(to)}`;
  const secret = ['-H', 'Authorization: Bearer s3cr3t-token', '-H', 'Cookie: a=b', '-H', 'X-Trace: t1'];

  test('are not followed without -L: the 3xx is the result', async () => {
    const r = await runCli(['run', ndjsonFile(dir, payloads(1)), '--url', redirect(302, '/echo')]);
    const [line] = parseLines<Line>(r.stdout);
    expect(line).toMatchObject({ ok: false, status: 302, attempts: 1 });
    expect(line!.error!.code).toBe('HTTP_302');
    expect(server.requests.map((q) => q.path)).toEqual(['/redirect']);
  });

  test.each(THREAD_MODES)(
    '-L follows a 307 to another origin with method and body, without the credentials (%s)',
    async (_mode, threads) => {
      const url = redirect(307, `${other.url}/echo`);
      const r = await runCli(['run', ndjsonFile(dir, payloads(1)), '--url', url, '-L', ...secret, ...threads]);
      expect(r.code).toBe(0);
      const [line] = parseLines<Line>(r.stdout);
      expect(line).toMatchObject({ ok: true, status: 200, attempts: 1 });
      const echo = line!.response as Echo;
      expect(echo).toMatchObject({ method: 'POST', body: { n: 1 } });
      expect(echo.headers['x-trace']).toBe('t1');
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers.cookie).toBeUndefined();
      expect(other.requests).toHaveLength(1);
      expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    },
  );

  test('-L: a 303 becomes a GET without a body; credentials stay on the same origin', async () => {
    const r = await runCli(['run', ndjsonFile(dir, payloads(1)), '--url', redirect(303, '/echo'), '-L', ...secret]);
    const echo = parseLines<Line>(r.stdout)[0]!.response as Echo;
    expect(echo).toMatchObject({ method: 'GET', body: null });
    expect(echo.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(echo.headers['content-type']).toBeUndefined();
  });

  test('-L: a 302 turns a POST into a GET, a PUT stays a PUT', async () => {
    const file = ndjsonFile(dir, payloads(1));
    const post = await runCli(['run', file, '--url', redirect(302, '/echo'), '-L']);
    expect((parseLines<Line>(post.stdout)[0]!.response as Echo).method).toBe('GET');
    const put = await runCli(['run', file, '--url', redirect(302, '/echo'), '-L', '-X', 'PUT']);
    expect(parseLines<Line>(put.stdout)[0]!.response as Echo).toMatchObject({ method: 'PUT', body: { n: 1 } });
  });

  test('--max-redirs bounds a loop: the last 3xx is the result', async () => {
    const r = await runCli([
      'run',
      ndjsonFile(dir, payloads(1)),
      '--url',
      `${server.url}/redirect`,
      '-L',
      '--max-redirs',
      '2',
    ]);
    const [line] = parseLines<Line>(r.stdout);
    expect(line).toMatchObject({ ok: false, status: 302, attempts: 1 });
    expect(server.requests).toHaveLength(3);
  });
});
