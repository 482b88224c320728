// Input taken at its word: numbers a double cannot hold keep their text, ids of skipped lines never pass for real
// ids, and input past a limit stops with a code naming the line. Driven through the CLI against the fixture server.
import fs from 'node:fs';
import path from 'node:path';
import { useFixtureServer } from './helpers/fixture.js';
import { readResults, runCli, tmpDir } from './helpers/cli.js';
import { inferCsvValue } from '../src/input/csv.js';

interface Line {
  id: string;
  ok: boolean;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('numbers keep their source text', () => {
  test('a 19-digit --id-field names the result and the URL exactly; 2^53+1 and 2^53 are two ids', async () => {
    const input = write('in.ndjson', '{"id":1234567890123456789}\n{"id":9007199254740993}\n{"id":9007199254740992}\n');
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', input, '--url', `${server.url}/echo?id={{ id }}`, '--id-field', 'id', '--out', out]);
    expect(r.stderr).not.toContain('DUPLICATE_ID');
    expect(r.code).toBe(0);
    expect(readResults<Line>(out).map((l) => l.id)).toEqual([
      '1234567890123456789',
      '9007199254740993',
      '9007199254740992',
    ]);
    expect(server.requests.map((q) => q.query.id).sort()).toEqual([
      '1234567890123456789',
      '9007199254740992',
      '9007199254740993',
    ]);
  });

  test('--body writes 1e400, a 19-digit number and a 22-digit fraction as written; plain numbers as before', async () => {
    const input = write(
      'in.ndjson',
      '{"a":1e400,"b":[12345678901234567890,-0.1000000000000000000001],"c":1.5,"s":"x1e5 \\" 12345678901234567890"}\n',
    );
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--body', '{a: a, b: b, c: c, s: s}']);
    expect(r.code).toBe(0);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.body).toBe(
      '{"a":1e400,"b":[12345678901234567890,-0.1000000000000000000001],"c":1.5,"s":"x1e5 \\" 12345678901234567890"}',
    );
  });

  test('--header templates and --serialize-by keys use the exact text too', async () => {
    const input = write('in.ndjson', '{"k":98765432109876543210}\n');
    const r = await runCli([
      'run',
      input,
      '--url',
      `${server.url}/echo`,
      '--header',
      'x-key: {{ k }}',
      '--serialize-by',
      'k',
    ]);
    expect(r.code).toBe(0);
    expect(server.requests[0]!.headers['x-key']).toBe('98765432109876543210');
  });

  test('a JSON array element keeps its exact numbers as well', async () => {
    const input = write('in.json', '[\n{"id":1234567890123456789},\n{"id":1234567890123456788}\n]\n');
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--id-field', 'id', '--out', out]);
    expect(r.code).toBe(0);
    expect(readResults<Line>(out).map((l) => l.id)).toEqual(['1234567890123456789', '1234567890123456788']);
  });

  test('--csv-types leaves a number a double would change as text', () => {
    expect(inferCsvValue('1e400')).toBe('1e400');
    expect(inferCsvValue('1e-400')).toBe('1e-400');
    expect(inferCsvValue('0.1000000000000000000001')).toBe('0.1000000000000000000001');
    expect(inferCsvValue('2e3')).toBe(2000);
    expect(inferCsvValue('1.50')).toBe(1.5);
    expect(inferCsvValue('12345678901234567890')).toBe('12345678901234567890');
  });
});

describe('--skip-invalid with --id-field: the id of an invalid line', () => {
  test('a real id "line-2" before the invalid line 2 stops the run as DUPLICATE_ID, never two results "line-2"', async () => {
    const input = write('in.ndjson', '{"id":"line-2"}\n{oops\n{"id":"c"}\n');
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/echo`, '--id-field', 'id', '--skip-invalid', '--out', out];
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[DUPLICATE_ID]');
    expect(r.stderr).toContain('the invalid line 2 is recorded as id "line-2"');
    const ids = readResults<Line>(out).map((l) => l.id);
    expect(ids).toEqual(['line-2']);
  });

  test('a real id "line-1" after the invalid line 1 is refused and the message says why', async () => {
    const input = write('in.ndjson', '{oops\n{"id":"line-1"}\n');
    const out = path.join(dir, 'out.ndjson');
    const args = ['run', input, '--url', `${server.url}/echo`, '--id-field', 'id', '--skip-invalid', '--out', out];
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[DUPLICATE_ID]');
    expect(r.stderr).toContain('an invalid line N is recorded as id "line-N"');
    expect(readResults<Line>(out).map((l) => [l.id, l.error?.code])).toEqual([['line-1', 'INVALID_JSON']]);
    expect(server.requests).toHaveLength(0);
  });
});

describe('input past a limit', () => {
  const big = (n: number) => JSON.stringify({ pad: 'x'.repeat(n) });

  test('an NDJSON line over --max-line-size stops the run as INPUT_TOO_LARGE naming the line; earlier ones are recorded', async () => {
    // 200 KB: longer than one read chunk, so the limit is met while the line is still being gathered.
    const input = write('in.ndjson', ['{"n":1}', '{"n":2}', big(200_000), '{"n":4}'].join('\n') + '\n');
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--out', out, '--max-line-size', '1kb']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in\.ndjson:3: .*--max-line-size \(1024 bytes\).*\[INPUT_TOO_LARGE\]/);
    expect(r.stderr).toContain('Raise --max-line-size or split the payload, then add --resume');
    expect(r.stderr).toContain('stopped  by an input error (INPUT_TOO_LARGE): 2 recorded');
    expect(readResults<Line>(out).map((l) => l.id)).toEqual(['1', '2']);
  });

  test('a short line over the limit, and a JSON array element over it, stop the same way', async () => {
    const ndjson = write('in.ndjson', `{"n":1}\n${big(2000)}\n`);
    const r1 = await runCli(['run', ndjson, '--url', `${server.url}/echo`, '--max-line-size', '1kb']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/in\.ndjson:2: .*\[INPUT_TOO_LARGE\]/);
    const array = write('in.json', `[\n{"n":1},\n${big(200_000)}\n]\n`);
    const r2 = await runCli(['run', array, '--url', `${server.url}/echo`, '--max-line-size', '1kb']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/in\.json:3: .*array element.*\[INPUT_TOO_LARGE\]/);
    expect(r2.stdout).toContain('"id":"1"');
  });

  test('a CSV row over the limit stops as INPUT_TOO_LARGE too', async () => {
    const csv = write('in.csv', `a,b\n1,2\n3,${'y'.repeat(5000)}\n`);
    const r = await runCli(['run', csv, '--url', `${server.url}/echo`, '--max-line-size', '1kb']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in\.csv:3: .*CSV row.*\[INPUT_TOO_LARGE\]/);
  });

  test('--max-line-size takes a size; anything else is a usage error', async () => {
    const input = write('in.ndjson', '{"n":1}\n');
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--max-line-size', 'huge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-line-size "huge": expected a size');
  });

  test('a payload nested 20,000 deep is a TEMPLATE_ERROR for its line with --body or --header; --serialize-by goes keyless', async () => {
    const deep = `{"n":2,"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const input = write('in.ndjson', `{"n":1,"a":1}\n${deep}\n{"n":3,"a":3}\n`);
    for (const extra of [
      ['--body', '@'],
      ['--header', 'x-a: {{ a }}'],
      ['--serialize-by', 'a'],
    ]) {
      server.reset();
      const out = path.join(dir, 'out.ndjson');
      // /text answers without echoing the payload back (echoing a 20,000-deep body is another matter).
      const r = await runCli(['run', input, '--url', `${server.url}/text`, '--out', out, '--overwrite', ...extra]);
      expect(r.stderr).not.toContain('Maximum call stack');
      const byId = Object.fromEntries(readResults<Line>(out).map((l) => [l.id, l]));
      expect(byId['1']?.ok).toBe(true);
      expect(byId['3']?.ok).toBe(true);
      if (extra[0] === '--serialize-by') {
        // A key that cannot be written is no key: the payload is sent, serialised with nothing.
        expect(r.code).toBe(0);
        expect(byId['2']?.ok).toBe(true);
      } else {
        expect(r.code).toBe(1);
        expect(byId['2']?.error?.code).toBe('TEMPLATE_ERROR');
        expect(byId['2']?.error?.message).toMatch(/^line 2: the payload is nested too deeply/);
      }
    }
  });

  test('--id-field on a value nested 200,000 deep is a MISSING_ID naming the line, not a crash', async () => {
    const deep = `{"id":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const input = write('in.ndjson', `{"id":"a"}\n${deep}\n`);
    const r = await runCli(['run', input, '--url', `${server.url}/echo`, '--id-field', 'id']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in\.ndjson:2: --id-field id is not a string or number .*\[MISSING_ID\]/);
  });
});

describe('bytes that are not UTF-8', () => {
  test('stop the run as INPUT_INVALID_UTF8 naming the line; the lines before are sent and recorded', async () => {
    const file = path.join(dir, 'in.ndjson');
    fs.writeFileSync(
      file,
      Buffer.concat([Buffer.from('{"n":"é"}\n{"n":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n{"n":3}\n')]),
    );
    const out = path.join(dir, 'out.ndjson');
    const r = await runCli(['run', file, '--url', `${server.url}/echo`, '--out', out, '--skip-invalid']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in\.ndjson:2: not valid UTF-8 \(byte 0xe9\).*\[INPUT_INVALID_UTF8\]/);
    expect(readResults<Line>(out).map((l) => l.id)).toEqual(['1']);
    expect(server.requests.map((q) => q.body)).toEqual(['{"n":"é"}']);
  });

  test('a JSON array, and a character cut short at the end of the input, are refused the same way', async () => {
    const array = path.join(dir, 'in.json');
    fs.writeFileSync(array, Buffer.concat([Buffer.from('[1,\n"a'), Buffer.from([0xff]), Buffer.from('"]\n')]));
    const r1 = await runCli(['run', array, '--url', `${server.url}/echo`]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/in\.json:2: not valid UTF-8 \(byte 0xff\).*\[INPUT_INVALID_UTF8\]/);
    const cut = path.join(dir, 'cut.ndjson');
    fs.writeFileSync(cut, Buffer.concat([Buffer.from('{"n":1}\n"'), Buffer.from('€').subarray(0, 2)]));
    const r2 = await runCli(['run', cut, '--url', `${server.url}/echo`]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/cut\.ndjson:2: not valid UTF-8 \(byte 0xe2\).*\[INPUT_INVALID_UTF8\]/);
  });
});
