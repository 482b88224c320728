// gzip input told by its content (a file or stdin, streamed), its progress total, and --compress gzip request
// bodies, against the fixture server's /gzip route (415 unless Content-Encoding: gzip).
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { useFixtureServer } from './helpers/fixture.js';
import { countPayloads } from '../src/input/index.js';
import { parseLines, runCli, startCli, tmpDir } from './helpers/cli.js';

interface Line {
  id: string;
  ok: boolean;
  status: number | null;
  response: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

const ndjson = (n: number): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ n: i + 1 })).join('\n') + '\n';

function gzFile(name: string, content: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

const sentBodies = (): unknown[] => server.requests.map((q) => JSON.parse(q.body) as unknown);

describe('gzip input', () => {
  test('a gzip file is read by its content whatever its name, and the progress total counts its payloads', async () => {
    const file = gzFile('payloads.data', gzipSync(ndjson(5)));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`]);
    expect(r.code).toBe(0);
    expect(sentBodies()).toEqual(expect.arrayContaining([{ n: 1 }, { n: 5 }]));
    expect(server.requests).toHaveLength(5);
    expect(r.stderr).toMatch(/5\/5 \(100%\)/);
    expect(await countPayloads(file)).toBe(5);
  });

  test('gzip on stdin, members appended one after another (cat a.gz b.gz), a JSON array, and CSV', async () => {
    const two = Buffer.concat([gzipSync(ndjson(2)), gzipSync('{"n":3}\n')]);
    const { child, done } = startCli(['run', '-', '--url', `${server.url}/echo`]);
    child.stdin!.end(two);
    expect((await done).code).toBe(0);
    expect(sentBodies()).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }, { n: 3 }]));
    server.reset();
    const array = gzFile('a.json.gz', gzipSync('[{"n":1},\n{"n":2}]'));
    expect((await runCli(['run', array, '--url', `${server.url}/echo`])).code).toBe(0);
    expect(await countPayloads(array)).toBe(2);
    const csv = gzFile('people.csv.gz', gzipSync('name,age\nada,36\nalan,41\n'));
    server.reset();
    expect((await runCli(['run', csv, '--url', `${server.url}/echo`])).code).toBe(0);
    expect(sentBodies()).toEqual(expect.arrayContaining([{ name: 'ada', age: '36' }]));
    expect(await countPayloads(csv, { format: 'csv' })).toBe(2);
  });

  test('a truncated gzip stops with INPUT_INVALID_GZIP (exit 2) after sending what came before the damage', async () => {
    const whole = gzipSync(ndjson(2000));
    const file = gzFile('cut.ndjson.gz', whole.subarray(0, Math.floor(whole.length * 0.6)));
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--progress', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gzip that does not decompress.*\[INPUT_INVALID_GZIP\]/);
    expect(parseLines<Line>(r.stdout).length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--compress gzip', () => {
  test('bodies go out gzip-compressed with Content-Encoding: gzip; the server gets back the exact payload', async () => {
    const file = path.join(dir, 'in.ndjson');
    fs.writeFileSync(file, '{"text": "' + 'a'.repeat(2000) + '", "price": 1.50}\n');
    const r = await runCli(['run', file, '--url', `${server.url}/gzip`, '--compress', 'gzip']);
    expect(r.code).toBe(0);
    const [line] = parseLines<Line>(r.stdout);
    const answer = line!.response as { encoding: string; contentType: string; compressedBytes: number };
    expect(answer.encoding).toBe('gzip');
    expect(answer.contentType).toBe('application/json');
    expect(answer.compressedBytes).toBeLessThan(200);
    expect(server.requests[0]!.headers['content-length']).toBe(String(answer.compressedBytes));
    const plain = await runCli(['run', file, '--url', `${server.url}/gzip`]);
    expect(parseLines<Line>(plain.stdout)[0]!.error!.code).toBe('HTTP_415');
  });

  test('with --input-format requests and --body-format form, each body is compressed after it is encoded', async () => {
    const file = path.join(dir, 'r.jsonl');
    fs.writeFileSync(file, JSON.stringify({ id: 'f', url: '/gzip', body: { a: 'x y' } }) + '\n');
    const r = await runCli([
      'run',
      file,
      '--input-format',
      'requests',
      '--url',
      server.url,
      '--compress',
      'gzip',
      '--body-format',
      'form',
    ]);
    expect(r.code).toBe(0);
    const answer = parseLines<Line>(r.stdout)[0]!.response as { contentType: string; body: unknown };
    expect(answer).toMatchObject({ contentType: 'application/x-www-form-urlencoded', body: 'a=x+y' });
  });
});
