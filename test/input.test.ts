import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BatchpostError } from '../src/engine/errors.js';
import { countPayloads, readPayloads, type PayloadFormat, type InputRecord } from '../src/input/index.js';
import { jsonErrorOffset } from '../src/input/json-error.js';
import { ExactNumber } from '../src/util/exact-json.js';

type Format = { format?: PayloadFormat };

async function read(input: string | Array<Buffer | string>, options: Format = {}): Promise<InputRecord[]> {
  const records: InputRecord[] = [];
  for await (const record of readPayloads(Readable.from(typeof input === 'string' ? [input] : input), options)) {
    records.push(record);
  }
  return records;
}

/** The (line, raw, value) triples of the records, for inputs expected to hold no errors. */
async function values(input: string, options: Format = {}): Promise<Array<[number, string | undefined, unknown]>> {
  const records = await read(input, options);
  for (const r of records) expect(r.error).toBeUndefined();
  return records.map((r) => [r.line, r.raw, r.value]);
}

describe('readPayloads: NDJSON', () => {
  test('one record per line with its line number, exact text and parsed value', async () => {
    expect(await values('{"a":1}\n[1,2]\n"s"\n3\n')).toEqual([
      [1, '{"a":1}', { a: 1 }],
      [2, '[1,2]', [1, 2]],
      [3, '"s"', 's'],
      [4, '3', 3],
    ]);
  });

  test('blank and whitespace-only lines are skipped but still counted', async () => {
    expect(await values('\n{"a":1}\n   \n\t\r\n{"b":2}\n\n\n{"c":3}\n\n')).toEqual([
      [2, '{"a":1}', { a: 1 }],
      [5, '{"b":2}', { b: 2 }],
      [8, '{"c":3}', { c: 3 }],
    ]);
  });

  test('CRLF line ends leave no CR in the text', async () => {
    expect(await values('{"a":1}\r\n\r\n{"b":2}\r\n')).toEqual([
      [1, '{"a":1}', { a: 1 }],
      [3, '{"b":2}', { b: 2 }],
    ]);
  });

  test('a last line without a newline still counts', async () => {
    expect(await values('{"a":1}\n{"b":2}')).toEqual([
      [1, '{"a":1}', { a: 1 }],
      [2, '{"b":2}', { b: 2 }],
    ]);
  });

  test('surrounding whitespace is trimmed from the text, inner whitespace kept', async () => {
    expect(await values('  { "a" : 1 }\t \n')).toEqual([[1, '{ "a" : 1 }', { a: 1 }]]);
  });

  test('a UTF-8 BOM is dropped', async () => {
    expect(await values('\ufeff{"a":1}\n{"b":2}\n')).toEqual([
      [1, '{"a":1}', { a: 1 }],
      [2, '{"b":2}', { b: 2 }],
    ]);
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const records = await read([bom, Buffer.from('{"a":1}\n')]);
    expect(records).toEqual([{ line: 1, raw: '{"a":1}', value: { a: 1 } }]);
  });

  test('empty and whitespace-only inputs hold no records', async () => {
    expect(await read('')).toEqual([]);
    expect(await read([])).toEqual([]);
    expect(await read('\n \r\n\t\n')).toEqual([]);
  });

  test('a malformed line yields an error record with line and column, and reading goes on', async () => {
    const records = await read('{"a":1}\n{"sku":\n{"b":2}\n');
    expect(records).toEqual([
      { line: 1, raw: '{"a":1}', value: { a: 1 } },
      { line: 2, raw: '{"sku":', error: 'not valid JSON (Unexpected end of input at column 8)' },
      { line: 3, raw: '{"b":2}', value: { b: 2 } },
    ]);
  });

  test('error columns count from the start of the line in the file', async () => {
    const [bad] = await read('  {"a" 1}\n');
    expect(bad).toEqual({
      line: 1,
      raw: '{"a" 1}',
      error: "not valid JSON (Expected ':' after property name at column 8)",
    });
    // Node 20 gives no position for an unexpected token: the column is found by the reader.
    const [, token] = await read('{"a":1}\n\n   {"a":x}');
    expect(token).toMatchObject({ line: 3, error: "not valid JSON (Unexpected token 'x' at column 9)" });
    const [after] = await read('{"a":1} x');
    expect(after!.error).toBe('not valid JSON (Unexpected non-whitespace character after JSON at column 9)');
    const [quote] = await read("{'a':1}");
    expect(quote!.error).toMatch(/^not valid JSON \(.* at column 2\)$/);
  });

  test('the column finder agrees with JSON.parse wherever JSON.parse gives a position', () => {
    const bad = [
      '{"a" 1}',
      '[1 2]',
      '{"a":1,}',
      '"abc',
      '{"a":"\\q"}',
      '01',
      '-',
      '1.',
      '1e',
      '{"a":1}}',
      '[1]]',
      '"\t"',
      '{"a":{"b":[1,{]}}',
    ];
    for (const text of bad) {
      let position = -2;
      try {
        JSON.parse(text);
      } catch (err) {
        const m = /at position (\d+)/.exec((err as Error).message);
        if (m) position = Number(m[1]);
      }
      expect({ text, offset: jsonErrorOffset(text) }).toEqual({ text, offset: position });
    }
    expect(jsonErrorOffset('[1, tru')).toBe(7);
    expect(jsonErrorOffset('{"a":x}')).toBe(5);
    expect(jsonErrorOffset(' {"a":[1,{"b":null}]} ')).toBe(-1);
  });

  test('error records are not fatal in NDJSON', async () => {
    const records = await read('x\ny\n1\n');
    expect(records.map((r) => [r.line, r.fatal, r.error === undefined])).toEqual([
      [1, undefined, false],
      [2, undefined, false],
      [3, undefined, true],
    ]);
  });

  test('pretty-printed JSON gets a hint', async () => {
    const [first, second] = await read('{\n  "a": 1\n}\n');
    expect(first!.line).toBe(1);
    expect(first!.raw).toBe('{');
    expect(first!.error).toMatch(
      /^not valid JSON \(.+ at column 2\); the input looks like pretty-printed JSON: one value per line is needed \(e\.g\. jq -c\)$/,
    );
    expect(second!.line).toBe(2);
    expect(second!.error).not.toMatch(/pretty-printed/);
    const [bracket] = await read('[\n1\n]\n', { format: 'ndjson' });
    expect(bracket!.error).toMatch(/pretty-printed/);
    const [plain] = await read('{"a":\n');
    expect(plain!.error).not.toMatch(/pretty-printed/);
  });

  test('a line far longer than a chunk is put together once', async () => {
    const long = JSON.stringify({ text: 'é'.repeat(300_000) });
    const bytes = Buffer.from(`${long}\n{"b":2}\n`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
    const records = await read(chunks);
    expect(records.map((r) => r.line)).toEqual([1, 2]);
    expect(records[0]!.raw).toBe(long);
  });
});

describe('readPayloads: JSON array', () => {
  test('elements of any kind, with brackets, commas and quotes inside strings', async () => {
    const input = String.raw`[{"a":[1,2,{"b":"]"}]}, "x,]}\"[{", [[]], {"q":"\\"}, {"e":"\\\"]"}, 3, -1.5e3, null, true, false, {}, []]`;
    expect(await values(input)).toEqual([
      [1, '{"a":[1,2,{"b":"]"}]}', { a: [1, 2, { b: ']' }] }],
      [1, String.raw`"x,]}\"[{"`, 'x,]}"[{'],
      [1, '[[]]', [[]]],
      [1, String.raw`{"q":"\\"}`, { q: '\\' }],
      [1, String.raw`{"e":"\\\"]"}`, { e: '\\"]' }],
      [1, '3', 3],
      [1, '-1.5e3', -1500],
      [1, 'null', null],
      [1, 'true', true],
      [1, 'false', false],
      [1, '{}', {}],
      [1, '[]', []],
    ]);
  });

  test('an element spanning lines has the line where it starts and its exact text', async () => {
    const input = '[\n  {\n    "a": 1,\n    "b": [\n      2\n    ]\n  },\n\n  "x"\n  ,7\n]\n';
    expect(await values(input)).toEqual([
      [2, '{\n    "a": 1,\n    "b": [\n      2\n    ]\n  }', { a: 1, b: [2] }],
      [9, '"x"', 'x'],
      [10, '7', 7],
    ]);
  });

  test('raw is the source text byte for byte, not a re-serialisation', async () => {
    const elements = ['{ "b" : 1.0, "a" : 2 }', '"\\u00e9\\/"', '1E+2', '{"n":100000000000000000001}', '"€"'];
    const records = await values(`[${elements.join(' , ')}]`);
    expect(records.map(([, raw]) => raw)).toEqual(elements);
    // A number a double would change is held as its text (see src/util/exact-json.ts).
    const n = new ExactNumber('100000000000000000001');
    expect(records.map(([, , value]) => value)).toStrictEqual([{ b: 1, a: 2 }, 'é/', 100, { n }, '€']);
  });

  test('an empty array holds no records; leading blank lines and a BOM are fine', async () => {
    expect(await read('[]')).toEqual([]);
    expect(await read(' [ \n ] \n')).toEqual([]);
    expect(await values('\ufeff\n\n  [1,\n2]')).toEqual([
      [3, '1', 1],
      [4, '2', 2],
    ]);
  });

  test('a malformed element yields a fatal error record and reading stops', async () => {
    const records = await read('[1, {"a":x}, 3, 4]');
    expect(records).toEqual([
      { line: 1, raw: '1', value: 1 },
      { line: 1, raw: '{"a":x}', error: "not valid JSON (Unexpected token 'x' at column 10)", fatal: true },
    ]);
  });

  test('an error inside a multi-line element names its own line and column', async () => {
    const [bad] = await read('[\n  {\n    "a": x\n  }\n]');
    expect(bad).toMatchObject({
      line: 2,
      error: "not valid JSON (Unexpected token 'x' at line 3, column 10)",
      fatal: true,
    });
  });

  test('mismatched brackets fail in the element that holds them', async () => {
    const records = await read('[[1}, 2]');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ line: 1, raw: '[1}', fatal: true });
  });

  test('empty elements and trailing commas are errors', async () => {
    expect(await read('[1,]')).toEqual([
      { line: 1, raw: '1', value: 1 },
      { line: 1, error: 'not valid JSON (a trailing comma before the closing ] at column 4)', fatal: true },
    ]);
    expect(await read('[1,\n  ,2]')).toEqual([
      { line: 1, raw: '1', value: 1 },
      { line: 2, error: 'not valid JSON (an empty array element (two commas in a row?) at column 3)', fatal: true },
    ]);
    expect(await read('[,1]')).toHaveLength(1);
  });

  test('an unterminated array is a fatal error naming the lines', async () => {
    expect(await read('[1,\n2,\n')).toEqual([
      { line: 1, raw: '1', value: 1 },
      { line: 2, raw: '2', value: 2 },
      { line: 3, error: 'the input ends before the array opened on line 1 is closed (no closing ])', fatal: true },
    ]);
    // Inside an element: the element may be cut short, so it is reported rather than sent, even if it parses.
    expect(await read('\n[1,\n 23')).toEqual([
      { line: 2, raw: '1', value: 1 },
      {
        line: 3,
        raw: '23',
        error:
          'the input ends before the array opened on line 2 is closed (no closing ]); this element may be cut short',
        fatal: true,
      },
    ]);
    const [only] = await read('[');
    expect(only).toMatchObject({ line: 1, fatal: true });
    expect(only!.error).toMatch(/^the input ends before the array opened on line 1 is closed/);
  });

  test('text after the closing bracket is a fatal error', async () => {
    expect(await read('[1, 2] x y\n')).toEqual([
      { line: 1, raw: '1', value: 1 },
      { line: 1, raw: '2', value: 2 },
      { line: 1, raw: 'x y', error: "unexpected text after the array's closing ] at column 8", fatal: true },
    ]);
    expect(await read('[1]\n \n')).toHaveLength(1);
    // One array per line looks like an array at first: the error says what to do.
    const records = await read('[1]\n[2]\n');
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ line: 2, raw: '[2]', fatal: true });
    expect(records[1]!.error).toMatch(/; if each line is a payload of its own, read the input as ndjson$/);
  });
});

describe('readPayloads: forced formats', () => {
  test('ndjson reads a line starting with [ as one payload', async () => {
    expect(await values('[1,2]\n[3]\n', { format: 'ndjson' })).toEqual([
      [1, '[1,2]', [1, 2]],
      [2, '[3]', [3]],
    ]);
  });

  test('json refuses input that is not an array', async () => {
    expect(await read('\n {"a":1}\n', { format: 'json' })).toEqual([
      {
        line: 2,
        raw: '{"a":1}',
        error: 'not a JSON array: it should start with [ (found "{" at column 2)',
        fatal: true,
      },
    ]);
    expect(await values('[{"a":1}]', { format: 'json' })).toEqual([[1, '{"a":1}', { a: 1 }]]);
  });

  test('auto is the default and equals an explicit auto', async () => {
    expect(await read('[1]', { format: 'auto' })).toEqual(await read('[1]'));
    expect(await read('{"a":1}', { format: 'auto' })).toEqual([{ line: 1, raw: '{"a":1}', value: { a: 1 } }]);
  });
});

describe('readPayloads: chunk boundaries', () => {
  // Multi-byte characters of 2, 3 and 4 bytes, CRLF, blank lines, a BOM, a malformed line, escapes.
  const ndjson =
    '\ufeff\r\n{"name":"café","emoji":"😀"}\r\n\n  {"cjk":"漢字","q":"a\\"b"}\n{"bad": é}\n[1,{"x":"]"}]\n"ü"';
  const array = '\ufeff\n[\n  {"name":"café","emoji":"😀"},\n  "漢字\\"]",\r\n  [1,[2,{"k":"}"}]],\n  "ü"\n]\n';
  const cases: Array<[string, string, PayloadFormat | undefined]> = [
    ['NDJSON', ndjson, undefined],
    ['JSON array', array, undefined],
    ['a malformed array', array.replace('[1,', '[1 x,'), undefined],
    ['forced NDJSON', array, 'ndjson'],
  ];

  test.each(cases)('%s reads the same however the bytes are split', async (_name, text, format) => {
    const bytes = Buffer.from(text);
    const expected = await read([bytes], { format });
    expect(expected.length).toBeGreaterThanOrEqual(3);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = await read([bytes.subarray(0, cut), bytes.subarray(cut)], { format });
      expect({ cut, split }).toEqual({ cut, split: expected });
    }
    for (const size of [1, 2, 3, 5, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect({ size, split: await read(chunks, { format }) }).toEqual({ size, split: expected });
    }
    // Strings (a stream with an encoding set) split at every character.
    for (let cut = 1; cut < text.length; cut++) {
      const split = await read([text.slice(0, cut), text.slice(cut)], { format });
      expect({ cut, split }).toEqual({ cut, split: expected });
    }
  });

  test('random arrays and NDJSON, split at random places, read back as JSON.parse reads them whole', async () => {
    let seed = 42;
    const random = (n: number): number => {
      // mulberry32: small, seeded, and random in its low bits too
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const pieces = ['a', 'é', '😀', '"', '\\', '[', ']', '{', '}', ',', ':', ' ', '\n', '\u0001', '漢'];
    const text = (): string => Array.from({ length: random(6) }, () => pieces[random(pieces.length)]).join('');
    const value = (depth: number): unknown => {
      const kind = random(depth > 3 ? 4 : 6);
      if (kind === 0) return text();
      if (kind === 1) return random(1000) - 500;
      if (kind === 2) return [null, true, false][random(3)];
      if (kind === 3) return random(1000) / 8;
      if (kind === 4) return Array.from({ length: random(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: random(4) }, () => [text(), value(depth + 1)]));
    };
    const space = (): string => [' ', '', '\n', '\r\n  ', '\t'][random(5)]!;
    for (let round = 0; round < 200; round++) {
      const items = Array.from({ length: 1 + random(6) }, () => value(0));
      const array = `${space()}[${items.map((v) => space() + JSON.stringify(v, null, random(2) * 2) + space()).join(',')}]${space()}`;
      const ndjson = items.map((v) => space().replace(/\n/g, '') + JSON.stringify(v)).join(random(2) ? '\n' : '\r\n');
      // NDJSON is forced: a first line holding an array would read as a JSON array.
      for (const [input, format] of [
        [array, 'auto'],
        [ndjson, 'ndjson'],
      ] as const) {
        const bytes = Buffer.from(input);
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length;) {
          const size = 1 + random(20);
          chunks.push(bytes.subarray(i, i + size));
          i += size;
        }
        const records = await read(chunks, { format });
        expect(records.map((r) => r.value)).toEqual(items);
        for (const r of records) expect(JSON.parse(r.raw!)).toEqual(r.value);
      }
    }
  });

  test('the expected records of the split test are right', async () => {
    const records = await read(ndjson);
    expect(records.map((r) => [r.line, r.raw, r.value, r.error !== undefined])).toEqual([
      [2, '{"name":"café","emoji":"😀"}', { name: 'café', emoji: '😀' }, false],
      [4, '{"cjk":"漢字","q":"a\\"b"}', { cjk: '漢字', q: 'a"b' }, false],
      [5, '{"bad": é}', undefined, true],
      [6, '[1,{"x":"]"}]', [1, { x: ']' }], false],
      [7, '"ü"', 'ü', false],
    ]);
    const elements = await read(array);
    expect(elements.map((r) => [r.line, r.raw])).toEqual([
      [3, '{"name":"café","emoji":"😀"}'],
      [4, '"漢字\\"]"'],
      [5, '[1,[2,{"k":"}"}]]'],
      [6, '"ü"'],
    ]);
  });
});

describe('readPayloads: streaming', () => {
  /** A source of `count` NDJSON lines, one chunk each, that records how far it was read and whether it was closed. */
  function tracked(count: number, chunk: (i: number) => string) {
    const state = { pulled: 0, closed: false };
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]() {
        return {
          next: () =>
            Promise.resolve(
              state.pulled < count ? { value: chunk(state.pulled++), done: false } : { value: undefined, done: true },
            ),
          return: () => {
            state.closed = true;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
    return { source, state };
  }

  test('reading is pulled: a chunk is read only when its records are wanted', async () => {
    const { source, state } = tracked(1000, (i) => `{"i":${i}}\n`);
    const reader = readPayloads(source, {});
    const first = await reader.next();
    expect(first.value).toEqual({ line: 1, raw: '{"i":0}', value: { i: 0 } });
    expect(state.pulled).toBe(1);
    await reader.next();
    expect(state.pulled).toBe(2);
    await reader.return(undefined);
    expect(state.closed).toBe(true);
  });

  test('a fatal error stops reading the source', async () => {
    const { source, state } = tracked(1000, (i) => (i === 0 ? '[1, x, ' : `${i}, `));
    const records: InputRecord[] = [];
    for await (const record of readPayloads(source, {})) records.push(record);
    expect(records).toHaveLength(2);
    expect(records[1]!.fatal).toBe(true);
    expect(state.pulled).toBe(1);
    expect(state.closed).toBe(true);
  });
});

describe('countPayloads', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batchpost-input-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  async function readCount(path: string, format?: PayloadFormat): Promise<number> {
    const { createReadStream } = await import('node:fs');
    let n = 0;
    for await (const _ of readPayloads(createReadStream(path), { format })) n++;
    return n;
  }

  test('NDJSON: non-blank lines, with a BOM, CRLF and no final newline', async () => {
    const path = await file('a.ndjson', '\ufeff\r\n{"a":1}\r\n  \t\r\n{"b":2}\n\n bad line \n{"c":"é"}');
    expect(await countPayloads(path, {})).toBe(4);
    expect(await countPayloads(path, { format: 'ndjson' })).toBe(4);
    expect(await readCount(path)).toBe(4);
  });

  test('JSON array: top-level elements only, values never parsed', async () => {
    const path = await file('a.json', '\n [ {"a":[1,2,{"b":"],"}]}, "x,]\\"[", [[],[]],\n 3, nul ]\n');
    expect(await countPayloads(path, {})).toBe(5);
    expect(await countPayloads(path, { format: 'json' })).toBe(5);
    expect(await countPayloads(await file('empty.json', '[ ]'), {})).toBe(0);
  });

  test('forced formats count what the reader would read', async () => {
    const path = await file('arrays.ndjson', '[1,2]\n[3]\n\n[4]\n');
    expect(await countPayloads(path, { format: 'ndjson' })).toBe(3);
    expect(await readCount(path, 'ndjson')).toBe(3);
    expect(await countPayloads(await file('obj.json', '{"a":1}\n'), { format: 'json' })).toBe(0);
  });

  test('empty files hold nothing', async () => {
    expect(await countPayloads(await file('empty', ''), {})).toBe(0);
    expect(await countPayloads(await file('blank', '\n\n  \n'), {})).toBe(0);
  });

  test('files larger than one read agree with the reader', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++)
      lines.push(i % 7 === 0 ? '' : JSON.stringify({ i, s: 'ü'.repeat(i % 13), t: '],"[' }));
    const ndjson = await file('big.ndjson', lines.join('\n'));
    const expected = lines.filter((l) => l !== '').length;
    expect(await countPayloads(ndjson, {})).toBe(expected);
    expect(await readCount(ndjson)).toBe(expected);
    const array = await file('big.json', `[\n${lines.filter((l) => l !== '').join(',\n')}\n]`);
    expect(await countPayloads(array, {})).toBe(expected);
    expect(await readCount(array)).toBe(expected);
  });

  test('a missing file is INPUT_NOT_FOUND', async () => {
    const missing = join(dir, 'nope.ndjson');
    await expect(countPayloads(missing, {})).rejects.toBeInstanceOf(BatchpostError);
    await expect(countPayloads(missing, {})).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
  });

  test('a pipe is not counted, so the reader keeps all of its data', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO with no writer would hang: the check must come before any open.
    await expect(countPayloads(fifo, {})).rejects.toThrow(/is not a regular file/);
    await expect(countPayloads(dir, {})).rejects.toThrow(/is not a regular file/);
  });

  test('an aborted signal stops the count', async () => {
    const path = await file('abort.ndjson', '1\n2\n');
    const controller = new AbortController();
    controller.abort(new Error('run finished'));
    await expect(countPayloads(path, { signal: controller.signal })).rejects.toThrow('run finished');
  });
});
