// The Sink contract: every result written appears exactly once in the output after close(), a write after close()
// throws (or the implementation documents why it cannot happen), close() is idempotent. Run against the three file
// formats (read back from disk) and against runBatch's result channel (through the public API).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TransportError } from '../src/engine/errors.js';
import type { OutgoingRequest, Result, Sink, Transport, TransportResponse } from '../src/engine/types.js';
import { runBatch } from '../src/index.js';
import { createLineWriter, createSink, CSV_COLUMNS, type OutputFormat } from '../src/output/index.js';

/** What a contract test drives: a sink (or something that feeds one) plus a way to read its output back. */
interface SinkDriver {
  write(result: Result): void;
  close(): Promise<void>;
  /** The results as they came out of the implementation, in output order (call after close()). */
  output(): Promise<Result[]>;
  /** Output visible so far without closing (file sinks: what a crash would leave), or null if not observable. */
  peek(): string | null;
}

interface SinkCase {
  /** Every field round-trips (durationMs, error messages) and output order is write order. */
  exact: boolean;
  /** How a write after close() behaves: it throws, or it cannot happen (the reason, documented here). */
  writeAfterClose: 'throws' | { unreachable: string };
  /** Results reach the output before close() (append + flush, what `kill -9` leaves behind). */
  durableBeforeClose: boolean;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-sink-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A mixed set: successes, HTTP failures, a network failure, text and JSON bodies, awkward ids and characters. */
function sampleResults(): Result[] {
  return [
    {
      id: '1',
      ok: true,
      status: 200,
      attempts: 1,
      durationMs: 12.4,
      response: { a: 1, nested: { b: [1, 2, 3] } },
      error: null,
    },
    {
      id: '2',
      ok: true,
      status: 201,
      attempts: 1,
      durationMs: 0.5,
      response: 'plain text, with "quotes",\nand a newline',
      error: null,
    },
    {
      id: '3',
      ok: false,
      status: 404,
      attempts: 1,
      durationMs: 3,
      response: { error: 'not found' },
      error: { code: 'HTTP_404', message: 'POST http://api.test/x answered 404 Not Found' },
    },
    {
      id: '4',
      ok: false,
      status: null,
      attempts: 1,
      durationMs: 1.1,
      response: null,
      error: { code: 'ECONNREFUSED', message: 'connection refused (nothing was sent)' },
    },
    {
      id: 'order, "quoted"\tid',
      ok: false,
      status: 500,
      attempts: 1,
      durationMs: 250.7,
      response: 'internal error; line one\r\nline two',
      error: { code: 'HTTP_500', message: 'POST answered 500, "not retried"' },
    },
    {
      id: 'Zoë-✓-注文',
      ok: true,
      status: 200,
      attempts: 1,
      durationMs: 7,
      response: [1, 'two', null, { ключ: 'значение' }],
      error: null,
    },
    { id: '7', ok: true, status: 200, attempts: 1, durationMs: 2, response: null, error: null },
    {
      id: '8',
      ok: true,
      status: 202,
      attempts: 1,
      durationMs: 2,
      response: { emptyString: '', zero: 0, f: false },
      error: null,
    },
  ];
}

function manyResults(n: number, pad: number): Result[] {
  const filler = 'x'.repeat(pad);
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i + 1}`,
    ok: i % 7 !== 0,
    status: i % 7 !== 0 ? 200 : 503,
    attempts: 1,
    durationMs: i % 100,
    response: { i, filler },
    error: i % 7 !== 0 ? null : { code: 'HTTP_503', message: 'busy' },
  }));
}

/** The fields every implementation must carry through unchanged. */
function core(
  r: Result,
): Pick<Result, 'id' | 'ok' | 'status' | 'attempts' | 'response'> & { errorCode: string | null } {
  return {
    id: r.id,
    ok: r.ok,
    status: r.status,
    attempts: r.attempts,
    response: r.response ?? null,
    errorCode: r.error?.code ?? null,
  };
}

function expectSameResults(out: Result[], written: Result[], c: SinkCase): void {
  // Exactly once: no id missing, none twice.
  const counts = new Map<string, number>();
  for (const r of out) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  expect(twice).toEqual([]);
  expect(out).toHaveLength(written.length);
  expect(new Set(out.map((r) => r.id))).toEqual(new Set(written.map((r) => r.id)));
  if (c.exact) {
    expect(out).toEqual(written); // every field, in write order
  } else {
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    expect(out.map(core).sort(byId)).toEqual(written.map(core).sort(byId));
  }
}

export function describeSink(name: string, make: () => SinkDriver, c: SinkCase): void {
  describe(`Sink contract: ${name}`, () => {
    it('every result written appears exactly once after close()', async () => {
      const d = make();
      const written = sampleResults();
      for (const r of written) d.write(r);
      await d.close();
      expectSameResults(await d.output(), written, c);
    });

    it('no results: close() still leaves a valid, empty output', async () => {
      const d = make();
      await d.close();
      expect(await d.output()).toEqual([]);
    });

    it('3,000 results (past every internal buffer and high-water mark) each appear exactly once', async () => {
      const d = make();
      const written = manyResults(3000, 600); // ~2 MB of output: crosses the line writer's 1 MB burst limit
      for (let i = 0; i < written.length; i++) {
        d.write(written[i]!);
        if (i % 250 === 0) await nextTurn();
      }
      await d.close();
      expectSameResults(await d.output(), written, c);
    });

    it('close() is idempotent: repeated and concurrent calls resolve and nothing is written twice', async () => {
      const d = make();
      const written = sampleResults();
      for (const r of written) d.write(r);
      const settled = await Promise.allSettled([d.close(), d.close()]);
      expect(settled).toEqual([
        { status: 'fulfilled', value: undefined },
        { status: 'fulfilled', value: undefined },
      ]);
      await expect(d.close()).resolves.toBeUndefined();
      expectSameResults(await d.output(), written, c);
    });

    const wac = c.writeAfterClose;
    if (wac === 'throws') {
      it('a write after close() throws and leaves the output as it was', async () => {
        const d = make();
        const written = sampleResults().slice(0, 3);
        for (const r of written) d.write(r);
        await d.close();
        const late = { ...sampleResults()[0]!, id: 'late' };
        expect(() => d.write(late)).toThrow(/closed/);
        await d.close();
        expectSameResults(await d.output(), written, c);
      });
    }
    // Otherwise `wac.unreachable` says why no result can reach the sink after close(); nothing to run.

    if (c.durableBeforeClose) {
      it('a written result reaches the output within one event-loop turn, before close() (crash safety)', async () => {
        const d = make();
        const [a, b] = sampleResults();
        const first = { ...a!, id: 'durable-first' };
        const second = { ...b!, id: 'durable-second' };
        d.write(first);
        await nextTurn();
        await nextTurn();
        expect(d.peek()).toContain('durable-first');
        d.write(second);
        await nextTurn();
        await nextTurn();
        expect(d.peek()).toContain('durable-second');
        await d.close();
        expectSameResults(await d.output(), [first, second], c);
      });
    }
  });
}

// ---- File sinks: written through createLineWriter, parsed back from disk. ----

function fileDriver(format: OutputFormat, parse: (text: string) => Result[]): () => SinkDriver {
  return () => {
    const file = path.join(tmp, `out-${++fileNo}.${format}`);
    const sink: Sink = createSink(format, createLineWriter({ path: file, append: false }));
    return {
      write: (r) => sink.write(r),
      close: () => sink.close(),
      output: () => Promise.resolve(parse(fs.readFileSync(file, 'utf8'))),
      peek: () => fs.readFileSync(file, 'utf8'),
    };
  };
}

function parseNdjson(text: string): Result[] {
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Result);
}

function parseJson(text: string): Result[] {
  // It must be one valid JSON object...
  const whole = JSON.parse(text) as Record<string, Omit<Result, 'id'>>;
  // ...and, since JSON.parse would silently merge a duplicated key, count the entries one per line as written.
  const lines = text.split('\n').filter((l) => l !== '' && l !== '{' && l !== '}' && l !== '{}');
  const entries = lines.map(
    (l) => Object.entries(JSON.parse(`{${l.replace(/,$/, '')}}`) as Record<string, Omit<Result, 'id'>>)[0]!,
  );
  expect(entries).toHaveLength(Object.keys(whole).length);
  return entries.map(([id, rest]) => ({ id, ...rest }));
}

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  // One token per match: a quoted field, or an unquoted one, then its terminator (comma, line break or the end).
  const token = /(?:"((?:[^"]|"")*)"|([^",\r\n]*))(,|\r?\n|$)/gy;
  let pos = 0;
  while (pos < text.length) {
    token.lastIndex = pos;
    const m = token.exec(text);
    if (m === null) throw new Error(`malformed CSV at offset ${pos}: ${JSON.stringify(text.slice(pos, pos + 40))}`);
    row.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
    if (m[3] !== ',') {
      rows.push(row);
      row = [];
    }
    pos = token.lastIndex;
    if (m[3] === '') break;
  }
  return rows;
}

function parseCsv(text: string): Result[] {
  const [header, ...rows] = parseCsvRows(text);
  expect(header).toEqual([...CSV_COLUMNS]);
  const misshapen = rows.filter(
    (cells) => cells.length !== CSV_COLUMNS.length || !['true', 'false'].includes(cells[1]!),
  );
  expect(misshapen).toEqual([]);
  return rows.map((cells) => {
    const [id, ok, status, attempts, durationMs, response, code, message] = cells as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    return {
      id,
      ok: ok === 'true',
      status: status === '' ? null : Number(status),
      attempts: Number(attempts),
      durationMs: Number(durationMs),
      response: response === '' ? null : (JSON.parse(response) as unknown),
      error: code === '' ? null : { code, message },
    };
  });
}

describeSink('ndjson sink', fileDriver('ndjson', parseNdjson), {
  exact: true,
  writeAfterClose: 'throws',
  durableBeforeClose: true,
});
describeSink('json sink', fileDriver('json', parseJson), {
  exact: true,
  writeAfterClose: 'throws',
  durableBeforeClose: true,
});
describeSink('csv sink', fileDriver('csv', parseCsv), {
  exact: true,
  writeAfterClose: 'throws',
  durableBeforeClose: true,
});

// ---- runBatch's result channel, through the public API. ----
// Each written Result becomes a payload; a stub transport answers it with that result's status and body (or fails
// with its error code), so the engine produces a result with the same id/ok/status/attempts/response/error code
// and hands it to the channel. "close()" ends the input and drains the iteration; the output is what was iterated.

/** An async iterable fed by push(), ended by end(). */
function pushable<T>(): AsyncIterable<T> & { push(v: T): void; end(): void } {
  const items: T[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  return {
    push(v) {
      if (ended) throw new Error('input ended');
      items.push(v);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length > 0) yield items.shift()!;
        else if (ended) return;
        else {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      }
    },
  };
}

/** Answers each request with the result its body describes. */
class ScriptedTransport implements Transport {
  async send(request: OutgoingRequest, signal: AbortSignal): Promise<TransportResponse> {
    if (signal.aborted) throw signal.reason;
    const r = JSON.parse(String(request.body)) as Result;
    await new Promise((resolve) => setImmediate(resolve)); // answer asynchronously, as a network would
    if (r.status === null) throw new TransportError(r.error!.code as 'ECONNREFUSED', r.error!.message);
    if (typeof r.response === 'string') {
      return { status: r.status, statusText: '', headers: { 'content-type': 'text/plain' }, body: r.response };
    }
    const body = r.response === null ? '' : JSON.stringify(r.response);
    return { status: r.status, statusText: '', headers: { 'content-type': 'application/json' }, body };
  }
  async close(): Promise<void> {}
}

function channelDriver(): SinkDriver {
  const input = pushable<Result>();
  const run = runBatch(input, {
    url: 'http://sink-contract.invalid/results',
    idField: 'id',
    retries: 0,
    concurrency: 16,
    transport: new ScriptedTransport(),
  });
  const out: Result[] = [];
  let recorded = -1;
  // A reader that pauses now and then, so the channel's buffer fills and the run has to wait for it.
  const reading = (async () => {
    for await (const r of run) {
      out.push(r);
      if (out.length % 400 === 0) await sleep(30);
    }
  })();
  return {
    write: (r) => input.push(r),
    async close() {
      input.end();
      await reading;
      recorded = (await run.summary()).total;
      // Iterating an ended run again yields nothing: no result is handed out twice.
      for await (const r of run) out.push(r);
    },
    output() {
      expect(out).toHaveLength(recorded); // everything the run recorded was yielded, nothing more
      return Promise.resolve(out);
    },
    peek: () => null,
  };
}

describeSink('runBatch result channel', channelDriver, {
  exact: false, // the engine measures durationMs and words error messages itself; order is completion order
  writeAfterClose: { unreachable: 'the channel is private to runBatch and the run never writes after it ends' },
  durableBeforeClose: false,
});
