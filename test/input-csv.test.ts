import { expect } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { countPayloads, readPayloads, type InputRecord, type ReadOptions } from '../src/input/index.js';
import { inferCsvValue } from '../src/input/csv.js';

type CsvOptions = Omit<ReadOptions, 'format'>;

/** Every record, plus the header as the first entry ({header}) when onCsvHeader was called: order is checked too. */
async function readAll(
  input: string | Array<Buffer | string>,
  options: CsvOptions = {},
): Promise<Array<InputRecord | { header: string }>> {
  const events: Array<InputRecord | { header: string }> = [];
  const source = Readable.from(typeof input === 'string' ? [input] : input);
  const reader = readPayloads(source, { ...options, format: 'csv', onCsvHeader: (header) => events.push({ header }) });
  for await (const record of reader) events.push(record);
  return events;
}

async function records(input: string | Array<Buffer | string>, options: CsvOptions = {}): Promise<InputRecord[]> {
  return (await readAll(input, options)).filter((e): e is InputRecord => !('header' in e));
}

describe('readPayloads: CSV basics', () => {
  test('the header names the fields; each row is an object of strings with its line and exact source', async () => {
    expect(await readAll('id,name,qty\n1,Widget,3\n2,Gadget,10\n')).toEqual([
      { header: 'id,name,qty' },
      { line: 2, value: { id: '1', name: 'Widget', qty: '3' }, source: '1,Widget,3' },
      { line: 3, value: { id: '2', name: 'Gadget', qty: '10' }, source: '2,Gadget,10' },
    ]);
  });

  test('the header callback comes once, before the first record, even with no records', async () => {
    const events = await readAll('a\n1\n2\n3\n');
    expect(events[0]).toEqual({ header: 'a' });
    expect(events.filter((e) => 'header' in e)).toHaveLength(1);
    expect(await readAll('a,b\n')).toEqual([{ header: 'a,b' }]);
    expect(await readAll('a,b')).toEqual([{ header: 'a,b' }]);
  });

  test('empty and blank-only inputs hold no header and no records', async () => {
    expect(await readAll('')).toEqual([]);
    expect(await readAll([])).toEqual([]);
    expect(await readAll('\n\r\n  \n\t\n')).toEqual([]);
  });

  test('CSV records carry no raw: raw is JSON text, which a CSV row is not', async () => {
    const [record] = await records('a\n1\n');
    expect(record).not.toHaveProperty('raw');
    expect(record!.source).toBe('1');
  });

  test('a last row without a line end still counts', async () => {
    expect(await records('a,b\n1,2\n3,4')).toEqual([
      { line: 2, value: { a: '1', b: '2' }, source: '1,2' },
      { line: 3, value: { a: '3', b: '4' }, source: '3,4' },
    ]);
  });

  test('values keep their spaces, and empty fields stay empty strings', async () => {
    expect(await records('a,b,c\n x , ,\n')).toEqual([
      { line: 2, value: { a: ' x ', b: ' ', c: '' }, source: ' x , ,' },
    ]);
  });

  test('a comma-only row is a row of empty strings, not a blank line', async () => {
    expect(await records('a,b\n,\n')).toEqual([{ line: 2, value: { a: '', b: '' }, source: ',' }]);
  });

  test('a column named __proto__ is an own field, not the prototype', async () => {
    const [record] = await records('__proto__,constructor\nx,y\n');
    const value = record!.value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(JSON.stringify(value)).toBe('{"__proto__":"x","constructor":"y"}');
  });
});

describe('readPayloads: CSV quoting', () => {
  test('quoted fields hold commas and doubled quotes; the source keeps the quotes as written', async () => {
    expect(await records('a,b\n"x, y","say ""hi"""\n"",plain\n')).toEqual([
      { line: 2, value: { a: 'x, y', b: 'say "hi"' }, source: '"x, y","say ""hi"""' },
      { line: 3, value: { a: '', b: 'plain' }, source: '"",plain' },
    ]);
  });

  test('quoted fields hold newlines; a multi-line row is numbered by its first line and later rows count every line', async () => {
    const input = 'id,note\n1,"first\nsecond\nthird"\n2,"a\r\nb"\n3,"x\n\ny"\n4,end\n';
    expect(await records(input)).toEqual([
      { line: 2, value: { id: '1', note: 'first\nsecond\nthird' }, source: '1,"first\nsecond\nthird"' },
      { line: 5, value: { id: '2', note: 'a\r\nb' }, source: '2,"a\r\nb"' },
      { line: 7, value: { id: '3', note: 'x\n\ny' }, source: '3,"x\n\ny"' },
      { line: 10, value: { id: '4', note: 'end' }, source: '4,end' },
    ]);
  });

  test('a quoted header name may hold commas and newlines; the header text is exact', async () => {
    expect(await readAll('"a,1","b\nc"\n1,2\n')).toEqual([
      { header: '"a,1","b\nc"' },
      { line: 3, value: { 'a,1': '1', 'b\nc': '2' }, source: '1,2' },
    ]);
  });
});

describe('readPayloads: CSV line ends and blank lines', () => {
  test('CRLF leaves no CR in values, names or sources', async () => {
    expect(await readAll('a,b\r\n1,2\r\n3,"x"\r\n')).toEqual([
      { header: 'a,b' },
      { line: 2, value: { a: '1', b: '2' }, source: '1,2' },
      { line: 3, value: { a: '3', b: 'x' }, source: '3,"x"' },
    ]);
  });

  test('mixed LF, CRLF and lone CR line ends all end rows and lines', async () => {
    expect(await readAll('a,b\n1,2\r\n3,4\r5,6\n\r\n\r7,8')).toEqual([
      { header: 'a,b' },
      { line: 2, value: { a: '1', b: '2' }, source: '1,2' },
      { line: 3, value: { a: '3', b: '4' }, source: '3,4' },
      { line: 4, value: { a: '5', b: '6' }, source: '5,6' },
      { line: 7, value: { a: '7', b: '8' }, source: '7,8' },
    ]);
  });

  test('blank and whitespace-only lines are skipped anywhere but still counted', async () => {
    const input = '\n  \r\na,b\n\n1,2\n \t \n\r\n3,4\n\n\n';
    expect(await readAll(input)).toEqual([
      { header: 'a,b' },
      { line: 5, value: { a: '1', b: '2' }, source: '1,2' },
      { line: 8, value: { a: '3', b: '4' }, source: '3,4' },
    ]);
  });

  test('a quoted field of spaces is a value, not a blank line', async () => {
    expect(await records('a\n"  "\n  \n')).toEqual([{ line: 2, value: { a: '  ' }, source: '"  "' }]);
  });

  test('a UTF-8 BOM is dropped from the header, its name and the header text', async () => {
    expect(await readAll('\ufeffid,x\n1,2\n')).toEqual([
      { header: 'id,x' },
      { line: 2, value: { id: '1', x: '2' }, source: '1,2' },
    ]);
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const bytes = Buffer.concat([bom, Buffer.from('id\n7\n')]);
    for (const chunks of [
      [bytes],
      [bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)],
      [bom, Buffer.from('id\n7\n')],
    ]) {
      expect(await readAll(chunks)).toEqual([{ header: 'id' }, { line: 2, value: { id: '7' }, source: '7' }]);
    }
    expect(await readAll([bom])).toEqual([]);
  });

  test('UTF-16 text is refused, not read as garbage', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n1,2\n', 'utf16le')]);
    expect(await records([utf16])).toEqual([
      { line: 1, error: expect.stringMatching(/^not valid CSV \(.*UTF-16.*UTF-8\)$/), fatal: true },
    ]);
  });

  test('bytes that are not UTF-8 stop the input at their row, never read as U+FFFD', async () => {
    const text = Buffer.from('id,name\n1,ok\n2,caf\xe9\n3,x\n', 'latin1');
    const invalid = {
      line: 3,
      error: expect.stringMatching(/^not valid UTF-8 \(byte 0xe9\)/),
      fatal: true,
      code: 'INPUT_INVALID_UTF8',
    };
    const first = { line: 2, value: { id: '1', name: 'ok' }, source: '1,ok' };
    expect(await records([text])).toEqual([first, invalid]);
    // Split one byte at a time: a character cut between chunks is still whole, a bad byte still found.
    expect(await records([...text].map((b) => Buffer.from([b])))).toEqual([first, invalid]);
    // A character cut short at the very end of the input.
    const cut = await records([Buffer.from('id\n1\n\xc3', 'latin1')]);
    expect(cut.at(-1)).toEqual({ ...invalid, line: 3, error: expect.stringMatching(/byte 0xc3/) });
    expect(await records([Buffer.from('id,name\n2,café\n')])).toEqual([
      { line: 2, value: { id: '2', name: 'café' }, source: '2,café' },
    ]);
  });
});

describe('readPayloads: CSV errors', () => {
  /** Records as [line, value or error, fatal]. */
  async function outline(input: string): Promise<Array<[number, unknown, boolean]>> {
    return (await records(input)).map((r) => [r.line, r.error ?? r.value, r.fatal === true]);
  }

  test('an unclosed quote is fatal at the line where its row starts; the rows before it are kept', async () => {
    expect(await outline('a,b\n1,2\n\n3,"open\n4,5\n6,7\n')).toEqual([
      [2, { a: '1', b: '2' }, false],
      [4, expect.stringMatching(/^not valid CSV \(a quoted field in this row is never closed/), true],
    ]);
  });

  test('a row with too few or too many fields is fatal and names both counts; nothing after it is read', async () => {
    expect(await outline('a,b,c\n1,2,3\n4,5\n7,8,9\n')).toEqual([
      [2, { a: '1', b: '2', c: '3' }, false],
      [3, 'not valid CSV (2 fields where the header has 3)', true],
    ]);
    expect(await outline('a\n1\n2,3\n')).toEqual([
      [2, { a: '1' }, false],
      [3, 'not valid CSV (2 fields where the header has 1)', true],
    ]);
  });

  test('a field-count error keeps the row source, for the excerpt', async () => {
    const rows = await records('a,b\n"x\ny"\n');
    expect(rows).toEqual([
      { line: 2, error: 'not valid CSV (1 field where the header has 2)', fatal: true, source: '"x\ny"' },
    ]);
  });

  test('a quote inside an unquoted field is fatal and names the field', async () => {
    expect(await outline('a,size\n1,2\n3,5\'10"\n')).toEqual([
      [2, { a: '1', size: '2' }, false],
      [3, expect.stringMatching(/^not valid CSV \(a quote inside the unquoted field "size"; .*""/), true],
    ]);
  });

  test('text after a closing quote is fatal', async () => {
    expect(await outline('a,b\n"x"y,1\n')).toEqual([
      [2, expect.stringMatching(/^not valid CSV \(text follows the closing quote of field "a"/), true],
    ]);
  });

  test('a multi-line row that goes wrong is reported at its first line', async () => {
    expect(await outline('a,b\n"x\ny\nz"q,1\n')).toEqual([
      [2, expect.stringMatching(/^not valid CSV \(text follows/), true],
    ]);
  });

  test('rows before an error in the same chunk are all yielded', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `${i},${i}`).join('\n');
    const result = await records(`a,b\n${rows}\nbad\n`);
    expect(result).toHaveLength(51);
    expect(result[49]).toEqual({ line: 51, value: { a: '49', b: '49' }, source: '49,49' });
    expect(result[50]).toMatchObject({ line: 52, fatal: true });
  });

  test('a duplicate header name is fatal on the header line, and no header is announced', async () => {
    expect(await readAll('id,name,id\n1,2,3\n')).toEqual([
      {
        line: 1,
        error: 'the CSV header names "id" twice (fields 1 and 3); every column needs its own name',
        fatal: true,
      },
    ]);
  });

  test('an empty header name is fatal on the header line', async () => {
    expect(await readAll('a,,c\n1,2,3\n')).toEqual([
      { line: 1, error: 'field 2 of the CSV header has no name; every column needs its own name', fatal: true },
    ]);
    expect(await readAll('a,b,\n1,2,3\n')).toEqual([
      { line: 1, error: 'field 3 of the CSV header has no name; every column needs its own name', fatal: true },
    ]);
    expect(await readAll('\n\n,x\n')).toEqual([{ line: 3, error: expect.stringContaining('field 1'), fatal: true }]);
  });

  test('a fatal error stops reading the source and closes it', async () => {
    const state = { pulled: 0, closed: false };
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]() {
        return {
          next: () => Promise.resolve({ value: state.pulled++ === 0 ? 'a,b\n1,2\n3\n4,5\n' : '6,7\n', done: false }),
          return: () => {
            state.closed = true;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
    const seen: InputRecord[] = [];
    for await (const record of readPayloads(source, { format: 'csv' })) seen.push(record);
    expect(seen.map((r) => r.line)).toEqual([2, 3]);
    expect(seen[1]!.fatal).toBe(true);
    expect(state.pulled).toBe(1);
    expect(state.closed).toBe(true);
  });
});

describe('readPayloads: CSV types', () => {
  test('without csvTypes every value is the field text', async () => {
    const [record] = await records('n,b,e\n42,true,\n');
    expect(record!.value).toEqual({ n: '42', b: 'true', e: '' });
  });

  test('with csvTypes numbers and booleans are inferred, the rest stays text; the source is unchanged', async () => {
    const [record] = await records('n,f,neg,exp,zero,lead,t,F,empty,s,q\n42,1.5,-3,2e3,0,007,TRUE,false,,x,"7"\n', {
      csvTypes: true,
    });
    expect(record).toEqual({
      line: 2,
      value: { n: 42, f: 1.5, neg: -3, exp: 2000, zero: 0, lead: '007', t: true, F: false, empty: '', s: 'x', q: 7 },
      source: '42,1.5,-3,2e3,0,007,TRUE,false,,x,"7"',
    });
  });

  test.each<[string, unknown]>([
    ['0', 0],
    ['-0.25', -0.25],
    ['1E-3', 0.001],
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
    ['9007199254740993', '9007199254740993'], // beyond 2^53: kept exact as text
    ['12345678901234567890', '12345678901234567890'],
    ['1e400', '1e400'], // not a finite double
    ['007', '007'],
    ['-01', '-01'],
    ['+1', '+1'],
    ['.5', '.5'],
    ['5.', '5.'],
    ['1,000', '1,000'],
    [' 42', ' 42'],
    ['42 ', '42 '],
    ['0x1F', '0x1F'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['-', '-'],
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['False', false],
    ['FALSE', false],
    ['tRuE', 'tRuE'],
    ['yes', 'yes'],
    ['null', 'null'],
    ['', ''],
  ])('inferCsvValue(%j) is %j', (text, expected) => {
    expect(inferCsvValue(text)).toStrictEqual(expected);
  });
});

describe('readPayloads: CSV chunk boundaries', () => {
  // Multi-byte characters of 2, 3 and 4 bytes, a BOM, CRLF and LF and lone CR, blank lines, quotes, multi-line fields.
  const csv =
    '\ufeffid,"na,me",note\r\n1,café,"a ""q"" b"\r\n\r\n2,😀,"multi\r\nline\nfield"\n  \n3,漢字,"x,y"\r4,,""\n5,ü,end';
  const broken = csv.replace('"x,y"', '"x,y" ');

  test('the expected records are right', async () => {
    expect(await readAll(csv)).toEqual([
      { header: 'id,"na,me",note' },
      { line: 2, value: { id: '1', 'na,me': 'café', note: 'a "q" b' }, source: '1,café,"a ""q"" b"' },
      {
        line: 4,
        value: { id: '2', 'na,me': '😀', note: 'multi\r\nline\nfield' },
        source: '2,😀,"multi\r\nline\nfield"',
      },
      { line: 8, value: { id: '3', 'na,me': '漢字', note: 'x,y' }, source: '3,漢字,"x,y"' },
      { line: 9, value: { id: '4', 'na,me': '', note: '' }, source: '4,,""' },
      { line: 10, value: { id: '5', 'na,me': 'ü', note: 'end' }, source: '5,ü,end' },
    ]);
    expect((await records(broken)).slice(-1)).toEqual([
      { line: 8, error: expect.stringContaining('closing quote'), fatal: true },
    ]);
  });

  test.each([
    ['valid', csv, false],
    ['valid, with types', csv, true],
    ['broken', broken, false],
  ])('%s input reads the same however the bytes are split', async (_name, text, csvTypes) => {
    const bytes = Buffer.from(text);
    const expected = await readAll([bytes], { csvTypes });
    expect(expected.length).toBeGreaterThanOrEqual(4);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = await readAll([bytes.subarray(0, cut), bytes.subarray(cut)], { csvTypes });
      expect({ cut, split }).toEqual({ cut, split: expected });
    }
    for (let a = 1; a < bytes.length; a += 7) {
      for (let b = a + 1; b < bytes.length; b += 5) {
        const split = await readAll([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)], { csvTypes });
        expect({ a, b, split }).toEqual({ a, b, split: expected });
      }
    }
    for (const size of [1, 2, 3, 5, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect({ size, split: await readAll(chunks, { csvTypes }) }).toEqual({ size, split: expected });
    }
    // Strings (a stream with an encoding set), split at every character, empty chunks included.
    for (let cut = 1; cut < text.length; cut++) {
      const split = await readAll([text.slice(0, cut), '', text.slice(cut)], { csvTypes });
      expect({ cut, split }).toEqual({ cut, split: expected });
    }
  });

  test('random tables, written by csv-stringify and split at random places, read back exactly', async () => {
    const { stringify } = await import('csv-stringify/sync');
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const pieces = ['a', 'é', '😀', '"', ',', ' ', '\n', '\r\n', '漢', '1', ''];
    const cell = (): string => Array.from({ length: random(5) }, () => pieces[random(pieces.length)]).join('');
    for (let round = 0; round < 150; round++) {
      const width = 1 + random(4);
      const header = Array.from({ length: width }, (_, k) => `c${k}${cell().replace(/\s/g, '')}`);
      const rows = Array.from({ length: 1 + random(6) }, () => {
        const row = Array.from({ length: width }, cell);
        // A row that would be a blank or whitespace-only line is skipped by design; keep it out of the expectation.
        if (width === 1 && /^[ \t]*$/.test(row[0]!)) row[0] = 'x';
        return row;
      });
      const delimiter = ['unix', 'windows'][random(2)] as 'unix' | 'windows';
      // Any line end inside a field is quoted (csv-stringify would leave a bare LF unquoted under CRLF rows,
      // which this reader, taking LF, CRLF and CR alike as row ends, reads as a row end by design).
      const text = stringify([header, ...rows], {
        record_delimiter: delimiter,
        quoted_empty: random(2) === 1,
        quoted_match: /[\r\n]/,
      });
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length;) {
        const size = 1 + random(20);
        chunks.push(bytes.subarray(i, i + size));
        i += size;
      }
      const events = await readAll(chunks);
      const lineEnd = delimiter === 'unix' ? '\n' : '\r\n';
      const sources = text.slice(0, -lineEnd.length).split(lineEnd); // exact only when no field holds a line end
      expect(events[0]).toEqual({
        header: stringify([header], { record_delimiter: delimiter }).slice(0, -lineEnd.length),
      });
      const got = events.slice(1) as InputRecord[];
      expect(got.map((r) => r.value)).toEqual(rows.map((row) => Object.fromEntries(header.map((h, k) => [h, row[k]]))));
      if (!/[\r\n]/.test(rows.flat().join(''))) expect(got.map((r) => r.source)).toEqual(sources.slice(1));
      // The byte counter agrees with the reader.
      const path = join(tmpdir(), `batchpost-csv-random-${process.pid}.csv`);
      await writeFile(path, bytes);
      expect({ round, count: await countPayloads(path, { format: 'csv' }) }).toEqual({ round, count: rows.length });
      await rm(path);
      // Every source read again on its own (under the header) gives the same value: sources are exact rows.
      for (const record of got) {
        const again = await records(`${(events[0] as { header: string }).header}\n${record.source}\n`);
        expect(again.map((r) => r.value)).toEqual([record.value]);
      }
    }
  });
});

describe('readPayloads: CSV streaming', () => {
  test('reading is pulled: an endless source is read only as far as the records taken', async () => {
    const state = { pulled: 0, closed: false };
    // Chunk 0 is the header; chunk k holds the rows k-a and k-b.
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]() {
        return {
          next: () => {
            const k = state.pulled++;
            return Promise.resolve({ value: k === 0 ? 'i\n' : `${k}-a\n${k}-b\n`, done: false });
          },
          return: () => {
            state.closed = true;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
    const reader = readPayloads(source, { format: 'csv' });
    const first = await reader.next();
    expect(first.value).toEqual({ line: 2, value: { i: '1-a' }, source: '1-a' });
    // csv-parse holds back the last few bytes of what it has (a row is complete only once it sees past its end).
    expect(state.pulled).toBeLessThanOrEqual(3);
    for (let n = 1; n < 100; n++) await reader.next();
    expect(state.pulled).toBeLessThanOrEqual(50 + 2);
    await reader.return(undefined);
    expect(state.closed).toBe(true);
  });

  test('text chunks that split a surrogate pair read as the whole character', async () => {
    const text = 'a,b\n😀,x😀y\n';
    const expected = [{ line: 2, value: { a: '😀', b: 'x😀y' }, source: '😀,x😀y' }];
    for (let cut = 1; cut < text.length; cut++) {
      expect({ cut, got: await records([text.slice(0, cut), text.slice(cut)]) }).toEqual({ cut, got: expected });
    }
  });
});

describe('countPayloads: CSV', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batchpost-csv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  async function readCount(path: string): Promise<number> {
    let n = 0;
    for await (const record of readPayloads(createReadStream(path), { format: 'csv' })) if (!record.error) n++;
    return n;
  }

  test('counts data rows: not the header, not blank lines, one per multi-line row', async () => {
    const path = await file('a.csv', '\ufeff\r\nid,note\r\n1,"a\nb\n\nc"\r\n  \r\n2,x\n\n3,"y,z"');
    expect(await countPayloads(path, { format: 'csv' })).toBe(3);
    expect(await readCount(path)).toBe(3);
  });

  test('empty, blank and header-only files hold nothing', async () => {
    expect(await countPayloads(await file('empty.csv', ''), { format: 'csv' })).toBe(0);
    expect(await countPayloads(await file('blank.csv', '\n \n'), { format: 'csv' })).toBe(0);
    expect(await countPayloads(await file('header.csv', 'a,b\n'), { format: 'csv' })).toBe(0);
  });

  test('a malformed file is counted row by row, past where the reader stops (the count is only a progress total)', async () => {
    const path = await file('bad.csv', 'a,b\n1,2\n3,4\n5\n6,7\n');
    expect(await countPayloads(path, { format: 'csv' })).toBe(4);
    expect(await readCount(path)).toBe(2);
  });

  test('quotes: doubled quotes, quoted line ends and quoted blanks are counted as the reader reads them', async () => {
    const cases: Array<[string, number]> = [
      ['a\n"x""\n""y"\n"""\r\n"\n', 2],
      ['a\n"  "\n  \n""\n', 2],
      ['a,b\n"\n\n",""""\r"\r\r",x\r\n', 2],
      ['\ufeff\n\n"h\n1"\n1\n', 1],
    ];
    for (const [content, rows] of cases) {
      const path = await file('quotes.csv', content);
      expect({ content, counted: await countPayloads(path, { format: 'csv' }) }).toEqual({ content, counted: rows });
      expect({ content, read: await readCount(path) }).toEqual({ content, read: rows });
    }
  });

  test('the same file counted as NDJSON gives its lines, not its rows: the format is honoured', async () => {
    const path = await file('multi.csv', 'a\n"1\n2"\n');
    expect(await countPayloads(path, { format: 'csv' })).toBe(1);
    expect(await countPayloads(path, { format: 'ndjson' })).toBe(3);
  });

  test('files larger than one read agree with the reader', async () => {
    // CRLF between rows, so that a CR and its LF also fall on either side of a read.
    const rows = ['id,text,more'];
    for (let i = 0; i < 20_000; i++) {
      if (i % 11 === 0) rows.push('');
      rows.push(
        i % 5 === 0 ? `${i},"multi\nline ${'é'.repeat(i % 9)}","q""x"` : `${i},plain ${'😀'.repeat(i % 4)},"a,b"`,
      );
    }
    const path = await file('big.csv', rows.join('\r\n'));
    expect(await countPayloads(path, { format: 'csv' })).toBe(20_000);
    expect(await readCount(path)).toBe(20_000);
    const last: InputRecord[] = [];
    for await (const record of readPayloads(createReadStream(path, { highWaterMark: 4096 }), { format: 'csv' })) {
      if (last.push(record) > 1) last.shift();
    }
    // 20,000 rows + 1,819 blank lines + 4,000 extra lines in multi-line fields + the header: the last row's line.
    expect(last[0]).toMatchObject({ line: 20_000 + 1819 + 4000 + 1, value: { id: '19999' } });
  });

  test('honours an abort signal', async () => {
    const path = await file('abort.csv', 'a\n1\n');
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(countPayloads(path, { format: 'csv', signal: controller.signal })).rejects.toThrow('stop');
  });
});
