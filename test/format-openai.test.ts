// --format openai: every result as a line of an OpenAI Batch output file ({id, custom_id, response, error}), read
// back by --resume and --retry-failed with the same verdict the ndjson line would give.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, readResults, runCli, THREAD_MODES, tmpDir } from './helpers/cli.js';

interface OpenAiLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string | null; body: unknown } | null;
  error: { code: string; message: string } | null;
}

const server = useFixtureServer();
let dir: string;

beforeEach(() => {
  dir = tmpDir();
});

const byCustomId = (lines: OpenAiLine[]) => [...lines].sort((a, b) => a.custom_id.localeCompare(b.custom_id));

describe.each(THREAD_MODES)('--format openai (%s)', (_name, threads) => {
  test('answers, failures and X-Request-Id in the OpenAI Batch output shape', async () => {
    const file = ndjsonFile(dir, [
      { id: 'a', status: 200 },
      { id: 'b', status: 404 },
      { id: 'c', status: 201 },
    ]);
    const r = await runCli([
      'run',
      file,
      '--url',
      `${server.url}/request-id?status={{ status }}`,
      '--id-field',
      'id',
      '--format',
      'openai',
      '--retries',
      '0',
      ...threads,
    ]);
    expect(r.code).toBe(1);
    const lines = byCustomId(parseLines<OpenAiLine>(r.stdout));
    expect(lines.map((l) => Object.keys(l))).toEqual(Array(3).fill(['id', 'custom_id', 'response', 'error']));
    for (const l of lines) expect(l.id).toMatch(/^batch_req_[0-9a-f]{32}$/);
    expect(new Set(lines.map((l) => l.id)).size).toBe(3);
    const [a, b, c] = lines;
    expect(a!.custom_id).toBe('a');
    expect(a!.response).toEqual({
      status_code: 200,
      request_id: expect.stringMatching(/^req_[0-9a-f]+$/) as string,
      body: { echo: { id: 'a', status: 200 } },
    });
    expect(a!.error).toBeNull();
    // A 4xx is an answer: OpenAI writes it with its status and error null.
    expect(b!.response).toMatchObject({ status_code: 404, body: { echo: { id: 'b', status: 404 } } });
    expect(b!.error).toBeNull();
    expect(c!.response!.status_code).toBe(201);
    expect(a!.response!.request_id).not.toBe(c!.response!.request_id);
  });
});

test('no HTTP answer: response null and the error set', async () => {
  const port = await freePort();
  const r = await runCli([
    'run',
    ndjsonFile(dir, [{ n: 1 }]),
    '--url',
    `http://127.0.0.1:${port}/x`,
    '--format',
    'openai',
    '--retries',
    '0',
  ]);
  expect(r.code).toBe(1);
  const [line] = parseLines<OpenAiLine>(r.stdout);
  expect(line).toMatchObject({ custom_id: '1', response: null, error: { code: 'ECONNREFUSED' } });
});

test('a 2xx batchpost counts as failed (--expect) keeps its response and sets the error', async () => {
  const r = await runCli([
    'run',
    ndjsonFile(dir, [{ n: 1 }]),
    '--url',
    `${server.url}/request-id`,
    '--format',
    'openai',
    '--expect',
    'body.missing',
  ]);
  expect(r.code).toBe(1);
  const [line] = parseLines<OpenAiLine>(r.stdout);
  expect(line!.response).toMatchObject({ status_code: 200, body: { echo: { n: 1 } } });
  expect(line!.error).toMatchObject({ code: 'EXPECTATION_FAILED' });
});

test('without X-Request-Id, request_id is null; the ndjson line carries requestId when there is one', async () => {
  const file = ndjsonFile(dir, [{ n: 1 }]);
  const plain = await runCli(['run', file, '--url', `${server.url}/echo`, '--format', 'openai']);
  expect(parseLines<OpenAiLine>(plain.stdout)[0]!.response!.request_id).toBeNull();
  const ndjson = await runCli(['run', file, '--url', `${server.url}/request-id`]);
  expect(parseLines(ndjson.stdout)[0]).toMatchObject({ ok: true, requestId: expect.stringMatching(/^req_/) as string });
});

test('--resume and --retry-failed read openai lines: custom_id is the id, ok as ndjson says it', async () => {
  const out = path.join(dir, 'results.jsonl');
  const file = ndjsonFile(dir, [
    { id: 'a', status: 200 },
    { id: 'b', status: 500 },
  ]);
  const args = ['run', file, '--url', `${server.url}/request-id?status={{ status }}`, '--id-field', 'id'];
  const common = [...args, '--format', 'openai', '--out', out, '--retries', '0'];
  const first = await runCli(common);
  expect(first.code).toBe(1);
  expect(readResults<OpenAiLine>(out)).toHaveLength(2);

  // A fresh run does not replace them: the file holds results.
  const again = await runCli(common);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain('already holds results');

  server.reset();
  const resumed = await runCli([...common, '--resume']);
  expect(server.requests).toHaveLength(0);
  expect(resumed.code).toBe(1); // b is still recorded failed

  // Torn tail (a kill -9 mid-write) is cut off and that id sent again.
  fs.appendFileSync(out, '{"id":"batch_req_00","custom_id":"c","resp');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8') + JSON.stringify({ id: 'c', status: 200 }) + '\n');
  const torn = await runCli([...common, '--resume']);
  expect(torn.stderr).toContain('torn');
  expect(server.requests.map((q) => q.body)).toEqual([JSON.stringify({ id: 'c', status: 200 })]);

  server.reset();
  fs.writeFileSync(
    file,
    [
      { id: 'a', status: 200 },
      { id: 'b', status: 200 },
      { id: 'c', status: 200 },
    ]
      .map((p) => JSON.stringify(p))
      .join('\n') + '\n',
  );
  const retried = await runCli([...common, '--retry-failed']);
  expect(retried.code).toBe(0);
  expect(server.requests.map((q) => JSON.parse(q.body) as { id: string }).map((p) => p.id)).toEqual(['b']);
  const lines = byCustomId(readResults<OpenAiLine>(out));
  expect(lines.map((l) => [l.custom_id, l.response!.status_code])).toEqual([
    ['a', 200],
    ['b', 200],
    ['c', 200],
  ]);
});
