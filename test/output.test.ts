import { expect, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { BatchpostError } from '../src/engine/errors.js';
import type { Result } from '../src/engine/types.js';
import {
  assertWritableOut,
  createLineWriter,
  createSink,
  openResume,
  resultBodyToJson,
  resultToJson,
  type LineWriter,
} from '../src/output/index.js';
import { parseJson } from './helpers/json.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-output-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = (name = 'results.ndjson'): string => path.join(dir, name);
const read = (p: string): string => fs.readFileSync(p, 'utf8');

function result(id: string, overrides: Partial<Result> = {}): Result {
  return {
    id,
    ok: true,
    status: 201,
    attempts: 1,
    durationMs: 12.4,
    response: { created: id },
    error: null,
    ...overrides,
  };
}

const failed = (id: string): Result =>
  result(id, {
    ok: false,
    status: null,
    attempts: 3,
    response: null,
    error: { code: 'TIMEOUT', message: 'took longer than 30s' },
  });

async function writeAll(format: 'ndjson' | 'json' | 'csv', results: Result[], out = file()): Promise<string> {
  const sink = createSink(format, createLineWriter({ path: out, append: false }));
  for (const r of results) sink.write(r);
  await sink.close();
  return read(out);
}

/** Fields of a quoted CSV text (RFC 4180), enough to check quoting round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error(`unterminated CSV row: ${JSON.stringify(text.slice(-40))}`);
  return rows;
}

describe('ndjson sink', () => {
  test('writes one line per result with the documented fields in order', async () => {
    const text = await writeAll('ndjson', [result('17'), failed('18')]);
    expect(text).toBe(
      '{"id":"17","ok":true,"status":201,"attempts":1,"durationMs":12.4,"response":{"created":"17"},"error":null}\n' +
        '{"id":"18","ok":false,"status":null,"attempts":3,"durationMs":12.4,"response":null,' +
        '"error":{"code":"TIMEOUT","message":"took longer than 30s"}}\n',
    );
  });

  test('orders fields the same whatever order the result object was built in', () => {
    const scrambled = { error: null, response: 'x', durationMs: 1, attempts: 2, status: 200, ok: true, id: 'a' };
    expect(Object.keys(parseJson<object>(resultToJson(scrambled)))).toEqual([
      'id',
      'ok',
      'status',
      'attempts',
      'durationMs',
      'response',
      'error',
    ]);
  });

  test('startedAt follows error when the result has it', () => {
    expect(resultToJson(result('1', { startedAt: 1_790_000_000_123 }))).toBe(
      '{"id":"1","ok":true,"status":201,"attempts":1,"durationMs":12.4,"response":{"created":"1"},"error":null,"startedAt":1790000000123}',
    );
  });

  test('adds headers last, only when the result has them', () => {
    const withHeaders = resultToJson(
      result('1', { headers: { 'content-type': 'application/json', 'set-cookie': ['a', 'b'] } }),
    );
    expect(
      withHeaders.endsWith(',"error":null,"headers":{"content-type":"application/json","set-cookie":["a","b"]}}'),
    ).toBe(true);
    expect(resultToJson(result('1'))).not.toContain('headers');
  });

  test('writes no stray properties and keeps response when the body was not JSON', () => {
    const extra = { ...result('1', { response: 'plain text' }), secret: 'token' } as Result;
    expect(resultToJson(extra)).toBe(
      '{"id":"1","ok":true,"status":201,"attempts":1,"durationMs":12.4,"response":"plain text","error":null}',
    );
  });

  test('keeps the response key when the engine left it undefined', () => {
    expect(JSON.parse(resultToJson(result('1', { response: undefined })))).toHaveProperty('response', null);
  });

  test('the hand-written line is exactly what JSON.stringify of the ordered fields gives, whatever the values', () => {
    const literal = (r: Result) =>
      JSON.stringify({
        id: r.id,
        ok: r.ok,
        status: r.status,
        attempts: r.attempts,
        durationMs: r.durationMs,
        response: r.response ?? null,
        error: r.error,
        startedAt: r.startedAt,
        hash: r.hash,
        headers: r.headers,
      });
    const cases: Result[] = [
      result('wéird "id"\n\u2028', {
        ok: false,
        status: null,
        attempts: 0,
        durationMs: 0,
        response: undefined,
        error: { code: 'X', message: 'a "q"\n' },
      }),
      result('2', {
        status: 500,
        attempts: 3,
        durationMs: 1e21,
        response: 'text',
        headers: { a: 'b', c: ['d', 'e'] },
        hash: 'h',
      }),
      result('3', {
        response: [1, { u: '\u2028', n: null, deep: { x: [true, false] } }],
        startedAt: 1_790_000_000_123.5,
      }),
      result('4', { response: null, durationMs: 0.1, startedAt: undefined, hash: undefined, headers: undefined }),
    ];
    for (const r of cases) {
      expect(resultToJson(r)).toBe(literal(r));
      expect(resultBodyToJson(r)).toBe(literal(r).replace(/^\{"id":("(?:[^"\\]|\\.)*"),/, '{'));
    }
  });
});

describe('json sink', () => {
  test('writes one object keyed by id, values without the id', async () => {
    const text = await writeAll('json', [result('a'), failed('b"quoted')]);
    expect(text.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(text) as Record<string, Record<string, unknown>>;
    expect(Object.keys(parsed)).toEqual(['a', 'b"quoted']);
    expect(parsed.a).toEqual({
      ok: true,
      status: 201,
      attempts: 1,
      durationMs: 12.4,
      response: { created: 'a' },
      error: null,
    });
    expect(Object.keys(parsed['b"quoted']!)).toEqual(['ok', 'status', 'attempts', 'durationMs', 'response', 'error']);
    expect(parsed['b"quoted']!.error).toEqual({ code: 'TIMEOUT', message: 'took longer than 30s' });
  });

  test('is valid JSON with zero results', async () => {
    expect(JSON.parse(await writeAll('json', []))).toEqual({});
  });

  test('streams entries as they complete instead of holding them until close', async () => {
    const out = file('results.json');
    const sink = createSink('json', createLineWriter({ path: out, append: false }));
    sink.write(result('1', { headers: { a: 'b' } }));
    await tick();
    expect(read(out)).toContain('"1":{"ok":true');
    expect(read(out)).toContain('"headers":{"a":"b"}');
    await sink.close();
  });

  test('close is idempotent and closes the object once', async () => {
    const out = file('results.json');
    const sink = createSink('json', createLineWriter({ path: out, append: false }));
    sink.write(result('1'));
    const first = sink.close();
    expect(sink.close()).toBe(first);
    await first;
    await sink.close();
    expect(Object.keys(parseJson<object>(read(out)))).toEqual(['1']);
  });
});

describe('csv sink', () => {
  test('writes the header row and one row per result', async () => {
    const text = await writeAll('csv', [result('1'), failed('2')]);
    expect(text.split('\n')[0]).toBe('id,ok,status,attempts,durationMs,response,error_code,error_message');
    expect(parseCsv(text).slice(1)).toEqual([
      ['1', 'true', '201', '1', '12.4', '{"created":"1"}', '', ''],
      ['2', 'false', '', '3', '12.4', '', 'TIMEOUT', 'took longer than 30s'],
    ]);
  });

  test('quotes commas, quotes and newlines so every cell round-trips', async () => {
    const message = 'bad "thing", then\na second line\r\nand a third';
    const response = { note: 'a, "b"\nc' };
    const text = await writeAll('csv', [
      result('x,1', { ok: false, response, error: { code: 'HTTP_500', message } }),
      result('plain'),
    ]);
    const rows = parseCsv(text);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual(['x,1', 'false', '201', '1', '12.4', JSON.stringify(response), 'HTTP_500', message]);
    expect(rows[2]![0]).toBe('plain');
  });

  test('writes a text response as JSON text', async () => {
    const rows = parseCsv(await writeAll('csv', [result('1', { response: 'OK' })]));
    expect(rows[1]![5]).toBe('"OK"');
  });
});

describe('line writer', () => {
  test('append mode keeps existing lines; otherwise the file starts over', async () => {
    const out = file();
    fs.writeFileSync(out, '{"id":"old","ok":true}\n');
    await writeAll('ndjson', [result('new')], out);
    expect(read(out)).not.toContain('"old"');

    fs.writeFileSync(out, '{"id":"old","ok":true}\n');
    const sink = createSink('ndjson', createLineWriter({ path: out, append: true }));
    sink.write(result('new'));
    await sink.close();
    const lines = read(out).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('{"id":"old","ok":true}');
    expect(parseJson<Result>(lines[1]!).id).toBe('new');
  });

  test('batches a turn of writes into one syscall that happens before the next turn', async () => {
    const out = file();
    const writeSync = jest.spyOn(fs, 'writeSync');
    const writer = createLineWriter({ path: out, append: false });
    for (let i = 0; i < 1000; i++) writer.write(`line ${i}\n`);
    expect(read(out)).toBe('');
    expect(writeSync).not.toHaveBeenCalled();
    await tick();
    expect(writeSync).toHaveBeenCalledTimes(1);
    const lines = read(out).split('\n');
    expect(lines).toHaveLength(1001);
    expect(lines[999]).toBe('line 999');
    await writer.close();
  });

  test('results reach the file without close', async () => {
    const out = file();
    const sink = createSink('ndjson', createLineWriter({ path: out, append: false }));
    sink.write(result('1'));
    sink.write(result('2'));
    await tick();
    expect(
      read(out)
        .split('\n')
        .filter(Boolean)
        .map((l) => parseJson<Result>(l).id),
    ).toEqual(['1', '2']);
    await sink.close();
  });

  test('flushSync writes at once', async () => {
    const out = file();
    const writer = createLineWriter({ path: out, append: false });
    writer.write('a\n');
    writer.flushSync();
    expect(read(out)).toBe('a\n');
    writer.write('b\n');
    await writer.close();
    expect(read(out)).toBe('a\nb\n');
  });

  test('a large burst is written before the turn ends so memory stays bounded', async () => {
    const out = file();
    const writer = createLineWriter({ path: out, append: false });
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 2048; i++) writer.write(line);
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    await writer.close();
    expect(fs.statSync(out).size).toBe(2048 * 1024);
  });

  test('close is idempotent, flushes, releases the file and refuses later writes', async () => {
    const out = file();
    const close = jest.spyOn(fs, 'close');
    const writer = createLineWriter({ path: out, append: false });
    writer.write('a\n');
    const first = writer.close();
    expect(writer.close()).toBe(first);
    await first;
    await writer.close();
    expect(close).toHaveBeenCalledTimes(1);
    expect(read(out)).toBe('a\n');
    expect(() => writer.write('b\n')).toThrow(/closed/);
  });

  test('a folder that does not exist is OUTPUT_FAILED', () => {
    expect(() => createLineWriter({ path: path.join(dir, 'missing', 'out.ndjson'), append: false })).toThrow(
      expect.objectContaining({ code: 'OUTPUT_FAILED' }),
    );
  });

  describe('stdout', () => {
    function fakeStdout(fail?: NodeJS.ErrnoException): { stream: NodeJS.WriteStream; chunks: string[] } {
      const chunks: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          if (fail) return callback(fail);
          chunks.push(chunk.toString());
          callback();
        },
      });
      return { stream: stream as unknown as NodeJS.WriteStream, chunks };
    }

    test('writes one chunk per turn and leaves fd 1 open', async () => {
      const { stream, chunks } = fakeStdout();
      const writer = createLineWriter({ fd: 1, stream });
      writer.write('a\n');
      writer.write('b\n');
      expect(chunks).toEqual([]);
      await tick();
      expect(chunks).toEqual(['a\nb\n']);
      writer.write('c\n');
      await writer.close();
      expect(chunks).toEqual(['a\nb\n', 'c\n']);
      expect(stream.destroyed).toBe(false);
    });

    test('a closed pipe (EPIPE) is remembered and reported once, and later writes are dropped', async () => {
      const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      const { stream } = fakeStdout(epipe);
      const writer: LineWriter = createLineWriter({ fd: 1, stream });
      const seen: Error[] = [];
      writer.onError((err) => seen.push(err));
      expect(writer.error).toBeNull();
      writer.write('a\n');
      writer.flushSync();
      await tick();
      await tick();
      expect(seen).toHaveLength(1);
      expect(writer.error).toBe(seen[0]);
      expect(writer.error).toBeInstanceOf(BatchpostError);
      expect((writer.error as BatchpostError).code).toBe('OUTPUT_FAILED');
      expect((writer.error!.cause as NodeJS.ErrnoException).code).toBe('EPIPE');
      writer.write('b\n');
      await tick();
      expect(seen).toHaveLength(1);
      const late: Error[] = [];
      writer.onError((err) => late.push(err));
      expect(late).toEqual([writer.error]);
      await writer.close();
    });
  });

  describe('in a process that dies', () => {
    let childDir: string;
    beforeAll(() => {
      // The child runs the real module; transpiling it here avoids depending on a prior build.
      childDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-child-'));
      for (const rel of ['src/engine/errors.ts', 'src/output/line-writer.ts']) {
        const source = fs.readFileSync(path.join(root, rel), 'utf8');
        const js = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const target = path.join(childDir, rel.replace(/\.ts$/, '.js'));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, js);
      }
      fs.writeFileSync(path.join(childDir, 'package.json'), '{"type":"module"}');
    });
    afterAll(() => fs.rmSync(childDir, { recursive: true, force: true }));

    function runChild(body: string, out: string, killOn?: string): Promise<NodeJS.Signals | null> {
      const script = path.join(childDir, `child-${path.basename(dir)}.mjs`);
      fs.writeFileSync(
        script,
        `import { createLineWriter } from './src/output/line-writer.js';\n` +
          `const w = createLineWriter({ path: process.argv[2], append: false });\n${body}\n`,
      );
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [script, out], { stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.setEncoding('utf8').on('data', (data: string) => {
          if (killOn && data.includes(killOn)) child.kill('SIGKILL');
        });
        child.on('error', reject);
        child.on('exit', (_code, signal) => resolve(signal));
      });
    }

    test('kill -9 after a turn keeps every result written in that turn', async () => {
      const out = file();
      const signal = await runChild(
        `for (let i = 1; i <= 500; i++) w.write(JSON.stringify({ id: String(i), ok: true }) + '\\n');\n` +
          `setImmediate(() => { process.stdout.write('written\\n'); setInterval(() => {}, 1000); });`,
        out,
        'written',
      );
      expect(signal).toBe('SIGKILL');
      const lines = read(out).split('\n');
      expect(lines).toHaveLength(501);
      expect(parseJson<Result>(lines[499]!).id).toBe('500');
    });

    test('process.exit() in the same turn as the writes still flushes them', async () => {
      const out = file();
      await runChild(`w.write('a\\n'); w.write('b\\n'); process.exit(3);`, out);
      expect(read(out)).toBe('a\nb\n');
    });
  });
});

describe('openResume', () => {
  const line = (id: string, ok = true): string => resultToJson(ok ? result(id) : failed(id)) + '\n';

  test('a missing file is an empty state', async () => {
    const state = await openResume(file('nope.ndjson'), { mode: 'resume' });
    expect(state).toEqual({
      done: new Set(),
      hashes: new Map(),
      failed: new Set(),
      kept: 0,
      resend: 0,
      repairedTornLine: false,
      lines: 0,
    });
    expect(fs.existsSync(file('nope.ndjson'))).toBe(false);
  });

  test('resume skips every recorded id, ok or not, and leaves the file as it was', async () => {
    const out = file();
    const text = line('1') + line('2', false) + '\n' + line('3');
    fs.writeFileSync(out, text);
    const state = await openResume(out, { mode: 'resume' });
    expect([...state.done].sort()).toEqual(['1', '2', '3']);
    expect(state).toMatchObject({ kept: 3, resend: 0, repairedTornLine: false, lines: 3 });
    expect(read(out)).toBe(text);
  });

  test('a torn last line is cut off and the lines before it are kept', async () => {
    const out = file();
    const whole = line('1') + line('2');
    fs.writeFileSync(out, whole + line('3').slice(0, 25));
    const state = await openResume(out, { mode: 'resume' });
    expect(state.repairedTornLine).toBe(true);
    expect([...state.done]).toEqual(['1', '2']);
    expect(state.lines).toBe(2);
    expect(read(out)).toBe(whole);
  });

  test('a whole last record without its newline gets the newline', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + line('2').trimEnd());
    const state = await openResume(out, { mode: 'resume' });
    expect(state.repairedTornLine).toBe(false);
    expect([...state.done]).toEqual(['1', '2']);
    expect(read(out)).toBe(line('1') + line('2'));
  });

  test('a malformed line before the last one is RESULTS_CORRUPT naming the line', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + '{"id":"2","ok":tru\n' + line('3'));
    const error = await openResume(out, { mode: 'resume' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchpostError);
    expect(error).toMatchObject({ code: 'RESULTS_CORRUPT', hint: 'Fix or remove that line, then run again.' });
    expect((error as Error).message).toMatch(
      new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not a result line \\(`),
    );
  });

  test('valid JSON that is not a result is RESULTS_CORRUPT too', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + '[1,2]\n' + '{"id":3,"ok":true}\n');
    await expect(openResume(out, { mode: 'resume' })).rejects.toMatchObject({ code: 'RESULTS_CORRUPT' });
  });

  test('reads lines that span read chunks and are not ASCII', async () => {
    const out = file();
    const big = result('big', { response: { text: 'é€😀'.repeat(400_000) } });
    fs.writeFileSync(out, line('1') + resultToJson(big) + '\n' + line('2', false));
    const state = await openResume(out, { mode: 'resume' });
    expect([...state.done]).toEqual(['1', 'big', '2']);
    expect(state.lines).toBe(3);
  });

  test('the last record of an id wins', async () => {
    const out = file();
    fs.writeFileSync(out, line('1', false) + line('2') + line('1') + line('2', false));
    const state = await openResume(out, { mode: 'retry-failed' });
    expect([...state.done]).toEqual(['1']);
    expect(state).toMatchObject({ kept: 1, resend: 1, lines: 4 });
  });

  test('retry-failed keeps only the last ok line of each ok id, byte for byte', async () => {
    const out = file();
    const okOne = '{"id":"1","ok":true,"status":200,"attempts":1,"durationMs":3,"response":{"n":1},"error":null}\n';
    const okOneLater = okOne.replace('"n":1', '"n":2');
    fs.writeFileSync(out, okOne + line('2', false) + line('3') + okOneLater + line('4') + line('4', false));
    fs.chmodSync(out, 0o640);
    const state = await openResume(out, { mode: 'retry-failed' });
    expect([...state.done].sort()).toEqual(['1', '3']);
    expect(state).toMatchObject({ kept: 2, resend: 2, lines: 6 });
    expect(read(out)).toBe(line('3') + okOneLater);
    expect(fs.statSync(out).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(dir)).toEqual(['results.ndjson']);
  });

  test('retry-failed repairs a torn last line before rewriting', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + line('2', false) + line('3').slice(0, 10));
    const state = await openResume(out, { mode: 'retry-failed' });
    expect(state.repairedTornLine).toBe(true);
    expect(read(out)).toBe(line('1'));
  });

  test('retry-failed leaves a file with nothing to drop untouched', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + line('2'));
    const before = fs.statSync(out).ino;
    await openResume(out, { mode: 'retry-failed' });
    expect(fs.statSync(out).ino).toBe(before);
  });

  test('an aborted signal stops it', async () => {
    const out = file();
    fs.writeFileSync(out, line('1') + line('2', false));
    await expect(openResume(out, { mode: 'retry-failed', signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(read(out)).toBe(line('1') + line('2', false));
  });
});

describe('assertWritableOut', () => {
  test('a missing or empty file is fine', () => {
    expect(() => assertWritableOut(file('missing.ndjson'), { resume: false, overwrite: false })).not.toThrow();
    fs.writeFileSync(file(), '');
    expect(() => assertWritableOut(file(), { resume: false, overwrite: false })).not.toThrow();
  });

  test('a file holding results is OUTPUT_EXISTS unless resuming or overwriting', () => {
    fs.writeFileSync(file(), '{"id":"1","ok":true}\n');
    expect(() => assertWritableOut(file(), { resume: false, overwrite: false })).toThrow(
      expect.objectContaining({
        code: 'OUTPUT_EXISTS',
        message: `${file()} already holds results`,
        hint: 'Add --resume to continue it, --retry-failed to re-send its failures, or --overwrite to start over.',
      }),
    );
    expect(() => assertWritableOut(file(), { resume: true, overwrite: false })).not.toThrow();
    expect(() => assertWritableOut(file(), { resume: false, overwrite: true })).not.toThrow();
  });
});
