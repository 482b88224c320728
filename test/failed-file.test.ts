import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readPayloads, type InputRecord, type PayloadFormat } from '../src/input/index.js';
import { createFailedWriter, type FailedFormat } from '../src/output/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'batchpost-failed-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = (ext: string): string => join(dir, `failed-${++n}.${ext}`);

interface Read {
  records: InputRecord[];
  header: string | undefined;
}

async function read(content: string | Buffer, format: PayloadFormat): Promise<Read> {
  let header: string | undefined;
  const records: InputRecord[] = [];
  const options = { format, onCsvHeader: (text: string) => (header = text) };
  for await (const record of readPayloads(Readable.from([content]), options)) records.push(record);
  for (const record of records) expect(record.error).toBeUndefined();
  return { records, header };
}

/** Writes `picked` of the records read from `input` to a failures file, then reads that file back. */
async function roundTrip(input: string, format: FailedFormat, picked: (r: InputRecord, i: number) => boolean) {
  const original = await read(input, format);
  const written = original.records.filter(picked);
  const path = fresh(format);
  const writer = createFailedWriter(path, format, { csvHeader: original.header });
  for (const record of written) writer.write(record);
  expect(writer.count).toBe(written.length);
  await writer.close();
  const text = await readFile(path, 'utf8');
  const back = await read(text, format);
  return { original, written, text, back };
}

describe('failures file: NDJSON', () => {
  const input =
    '{"id":1, "price": 1.50}\n\n  {"id":2,"b":[1,2]}  \r\n{"z":1,"a":2}\n"just text"\n{"id":5,"e":"\\u00e9"}\n';

  test('the failed payloads read back exactly: same text, same values, one per line', async () => {
    const { written, text, back } = await roundTrip(input, 'ndjson', (_r, i) => i !== 1);
    expect(written).toHaveLength(4);
    expect(text).toBe('{"id":1, "price": 1.50}\n{"z":1,"a":2}\n"just text"\n{"id":5,"e":"\\u00e9"}\n');
    expect(back.records.map((r) => [r.raw, r.value])).toEqual(written.map((r) => [r.raw, r.value]));
  });

  test('a payload with no one-line text is written as its value in JSON', async () => {
    const path = fresh('ndjson');
    const writer = createFailedWriter(path, 'ndjson');
    writer.write({ line: 3, raw: '{\n  "a": 1\n}', value: { a: 1 } }); // a pretty element of a JSON array
    writer.write({ line: 4, value: { b: 'x\ny' } }); // built from a value
    writer.write({ line: 5, value: { id: '1' }, source: 'id\n1' }); // a CSV row: its source is not JSON
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n{"b":"x\\ny"}\n{"id":"1"}\n');
  });

  test('an invalid line (recorded with --skip-invalid) is written back as it was, for the user to fix', async () => {
    const path = fresh('ndjson');
    const writer = createFailedWriter(path, 'ndjson');
    writer.write({ line: 2, raw: '{"a":', error: 'not valid JSON' });
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":\n');
  });
});

describe('failures file: JSON array', () => {
  const input = '[\n  {"id": 1,\n   "nested": {"k": [1, 2]}},\n  2.50,\n  "s",\n  {"id":4}\n]\n';

  test('a valid array of the failed elements, each with its exact text, streamed one per line group', async () => {
    const { written, text, back } = await roundTrip(input, 'json', (_r, i) => i !== 2);
    expect(written.map((r) => r.raw)).toEqual(['{"id": 1,\n   "nested": {"k": [1, 2]}}', '2.50', '{"id":4}']);
    expect(text).toBe('[\n{"id": 1,\n   "nested": {"k": [1, 2]}},\n2.50,\n{"id":4}\n]\n');
    expect(JSON.parse(text)).toEqual(written.map((r) => r.value));
    expect(back.records.map((r) => [r.raw, r.value])).toEqual(written.map((r) => [r.raw, r.value]));
  });

  test('one element', async () => {
    const { text, back } = await roundTrip(input, 'json', (_r, i) => i === 1);
    expect(text).toBe('[\n2.50\n]\n');
    expect(back.records.map((r) => r.raw)).toEqual(['2.50']);
  });

  test('a payload without text is written as its value', async () => {
    const path = fresh('json');
    const writer = createFailedWriter(path, 'json');
    writer.write({ line: 1, value: { a: [1] } });
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe('[\n{"a":[1]}\n]\n');
  });
});

describe('failures file: CSV', () => {
  const input = '\ufeffid,"na,me",note\r\n1,café,"multi\r\nline"\r\n\r\n2,x,"q ""quoted"""\r\n3,y,plain\r\n4,"a,b",';

  test('the header, then the failed rows with their exact source; read back they are the same rows', async () => {
    const { original, written, text, back } = await roundTrip(input, 'csv', (_r, i) => i !== 2);
    expect(original.header).toBe('id,"na,me",note');
    expect(written.map((r) => r.source)).toEqual(['1,café,"multi\r\nline"', '2,x,"q ""quoted"""', '4,"a,b",']);
    expect(text).toBe('id,"na,me",note\n1,café,"multi\r\nline"\n2,x,"q ""quoted"""\n4,"a,b",\n');
    expect(back.header).toBe(original.header);
    expect(back.records.map((r) => [r.source, r.value])).toEqual(written.map((r) => [r.source, r.value]));
  });

  test('the header is required', () => {
    const path = fresh('csv');
    expect(() => createFailedWriter(path, 'csv')).toThrow(/header/);
  });

  test('a record without its source becomes a row of its values in header order', async () => {
    const path = fresh('csv');
    const writer = createFailedWriter(path, 'csv', { csvHeader: 'id,"na,me",flag' });
    writer.write({ line: 2, value: { flag: true, 'na,me': 'a "b"', id: 7, extra: 'dropped' } });
    writer.write({ line: 3, value: { id: null } });
    expect(() => writer.write({ line: 4, value: [1, 2] })).toThrow(/not an object/);
    await writer.close();
    const text = await readFile(path, 'utf8');
    expect(text).toBe('id,"na,me",flag\n7,"a ""b""",true\n"","",""\n');
    const back = await read(text, 'csv');
    expect(back.records.map((r) => r.value)).toEqual([
      { id: '7', 'na,me': 'a "b"', flag: 'true' },
      { id: '', 'na,me': '', flag: '' },
    ]);
  });
});

describe('failures file: lifecycle', () => {
  test.each<[FailedFormat, string, string | undefined]>([
    ['ndjson', '', undefined],
    ['json', '[]\n', undefined],
    ['csv', 'a,b\n', 'a,b'],
  ])('an empty %s run leaves a valid file that reads back as no payloads', async (format, expected, csvHeader) => {
    const path = fresh(format);
    const writer = createFailedWriter(path, format, { csvHeader });
    await writer.close();
    const text = await readFile(path, 'utf8');
    expect(text).toBe(expected);
    const back = await read(text, format);
    expect(back.records).toEqual([]);
    if (format === 'json') expect(JSON.parse(text)).toEqual([]);
    if (format === 'csv') expect(back.header).toBe('a,b');
  });

  test.each<FailedFormat>(['ndjson', 'json', 'csv'])(
    '%s: close is idempotent and finishes the file once',
    async (format) => {
      const path = fresh(format);
      const writer = createFailedWriter(path, format, { csvHeader: 'v' });
      writer.write({ line: 2, raw: '1', source: '1', value: 1 });
      const first = writer.close();
      const second = writer.close();
      expect(second).toBe(first);
      await first;
      await writer.close();
      const expected = { ndjson: '1\n', json: '[\n1\n]\n', csv: 'v\n1\n' }[format];
      expect(await readFile(path, 'utf8')).toBe(expected);
      expect(() => writer.write({ line: 3, raw: '2', source: '2', value: 2 })).toThrow(/closed/);
      expect(await readFile(path, 'utf8')).toBe(expected);
    },
  );

  test('the file is created empty at once, replacing what was there', async () => {
    const path = fresh('ndjson');
    await writeFile(path, '{"old":1}\n{"old":2}\n');
    const writer = createFailedWriter(path, 'ndjson');
    expect(readFileSync(path, 'utf8')).toBe('');
    await writer.close();
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  test('crash-safe: what is written reaches the file within the event-loop turn, before close', async () => {
    for (const format of ['ndjson', 'json', 'csv'] as const) {
      const path = fresh(format);
      const writer = createFailedWriter(path, format, { csvHeader: 'v' });
      writer.write({ line: 2, raw: '"a"', source: 'a', value: 'a' });
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      const expected = { ndjson: '"a"\n', json: '[\n"a"', csv: 'v\na\n' }[format];
      expect({ format, text: readFileSync(path, 'utf8') }).toEqual({ format, text: expected });
      writer.write({ line: 3, raw: '"b"', source: 'b', value: 'b' });
      writer.flushSync();
      const flushed = { ndjson: '"a"\n"b"\n', json: '[\n"a",\n"b"', csv: 'v\na\nb\n' }[format];
      expect({ format, text: readFileSync(path, 'utf8') }).toEqual({ format, text: flushed });
      expect(writer.error).toBeNull();
      await writer.close();
    }
  });

  test('a folder that does not exist is an output error', () => {
    expect(() => createFailedWriter(join(dir, 'missing', 'failed.ndjson'), 'ndjson')).toThrow(/cannot open/);
  });

  test('a JSON failures file cut off by a crash lacks only its closing bracket', async () => {
    const path = fresh('json');
    const writer = createFailedWriter(path, 'json');
    writer.write({ line: 1, raw: '{"a":1}', value: { a: 1 } });
    writer.write({ line: 2, raw: '{"b":2}', value: { b: 2 } });
    writer.flushSync();
    const torn = readFileSync(path, 'utf8');
    await writer.close();
    expect(torn).toBe('[\n{"a":1},\n{"b":2}');
    // Read as is, the last element cannot be told complete, so the reader reports it rather than send it ...
    const records: InputRecord[] = [];
    for await (const record of readPayloads(Readable.from([torn]), { format: 'json' })) records.push(record);
    expect(records.map((r) => [r.raw, r.fatal])).toEqual([
      ['{"a":1}', undefined],
      ['{"b":2}', true],
    ]);
    // ... and adding the bracket gives every payload back.
    expect((await read(torn + '\n]\n', 'json')).records.map((r) => r.raw)).toEqual(['{"a":1}', '{"b":2}']);
  });
});
