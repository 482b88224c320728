// serve --jobs with the official openai SDK as the client, on a real Redis and the fixture server as upstream:
// upload, create, poll to completed, download both files; validation failures; auth; limits; list pagination.
import fs from 'node:fs';
import { toFile } from 'openai';
import { request } from 'undici';
import { startFixtureServer, type FixtureServer } from '../fixtures/server.js';
import { runCli } from './helpers/cli.js';
import {
  API_KEY,
  chatLine,
  fileLines,
  jobsSetup,
  pollBatch,
  startServe,
  stopServe,
  writeInput,
  type JobsSetup,
  type Serve,
} from './helpers/jobs.js';

let fx: FixtureServer;
let setup: JobsSetup;
let serve: Serve;

beforeAll(async () => {
  fx = await startFixtureServer();
  setup = jobsSetup();
  serve = await startServe(setup, fx.url, ['--max-file-lines', '50']);
});
afterAll(async () => {
  await stopServe(serve);
  await fx.close();
});

const chatCalls = () => fx.requests.filter((r) => r.path === '/v1/chat/completions');

describe('serve --jobs: the OpenAI Batch API', () => {
  it('runs a batch to completed: every custom_id once, 2xx in the output file and the rest in the error file', async () => {
    const { client } = serve;
    const lines = Array.from({ length: 30 }, (_, i) =>
      chatLine(`req-${i}`, `hello ${i}`, i % 10 === 3 ? 'error-400' : 'test-model'),
    );
    const file = await client.files.create({ file: fs.createReadStream(writeInput(setup, lines)), purpose: 'batch' });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl' });
    expect(file.id).toMatch(/^file-[0-9a-f]{32}$/);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', metadata: { job: 'nightly' } });
    expect(created.created_at).toBeGreaterThan(1_700_000_000);
    expect(created.created_at).toBeLessThan(Date.now() / 1000 + 5);
    const done = await pollBatch(client, created.id, (b) => b.status === 'completed');
    expect(done.request_counts).toEqual({ total: 30, completed: 27, failed: 3 });
    for (const t of ['in_progress_at', 'finalizing_at', 'completed_at'] as const)
      expect(done[t]).toEqual(expect.any(Number));
    const out = await fileLines(client, done.output_file_id);
    const err = await fileLines(client, done.error_file_id);
    expect(out).toHaveLength(27);
    expect(err).toHaveLength(3);
    const ids = [...out, ...err].map((l) => l.custom_id).sort();
    expect(ids).toEqual(lines.map((_, i) => `req-${i}`).sort());
    const one = out.find((l) => l.custom_id === 'req-7')!;
    expect(one.id).toMatch(/^batch_req_/);
    expect(one.error).toBeNull();
    expect(one.response).toMatchObject({ status_code: 200 });
    expect(one.response!.request_id).toMatch(/^req_/);
    expect(one.response!.body).toMatchObject({
      object: 'chat.completion',
      choices: [{ message: { content: 'echo: hello 7' } }],
    });
    expect(err.map((l) => l.response?.status_code)).toEqual([400, 400, 400]);
    // As OpenAI writes a 4xx: the answer in `response`, `error` null.
    expect(err[0]!.error).toBeNull();
    expect(err[0]!.response!.body).toMatchObject({ error: { message: 'fixture error 400' } });
    const sent = chatCalls().map(
      (r) => (JSON.parse(r.body) as { messages: { content: string }[] }).messages[0]!.content,
    );
    expect(sent.filter((c) => c === 'hello 7')).toHaveLength(1);
    const outFile = await client.files.retrieve(done.output_file_id!);
    expect(outFile.purpose).toBe('batch_output');
  });

  it('fails validation with the line, sending nothing: bad JSON, a repeated custom_id, another host in url', async () => {
    const { client } = serve;
    fx.reset();
    const lines = [
      chatLine('a', 'x'),
      '{not json',
      chatLine('a', 'y'),
      JSON.stringify({ custom_id: 'c', method: 'POST', url: 'http://elsewhere.example/v1/chat/completions', body: {} }),
    ];
    const file = await client.files.create({
      file: await toFile(Buffer.from(lines.join('\n')), 'bad.jsonl'),
      purpose: 'batch',
    });
    const b = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const failed = await pollBatch(client, b.id, (x) => x.status === 'failed');
    expect(failed.errors!.data!.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid_json_line'],
      [3, 'duplicate_custom_id'],
      [4, 'invalid_url'],
    ]);
    expect(failed.output_file_id).toBeNull();
    expect(failed.failed_at).toEqual(expect.any(Number));
    expect(chatCalls()).toHaveLength(0);
  });

  it('answers 401 in OpenAI shape without a key or with a wrong one; the key is never logged', async () => {
    for (const auth of [undefined, 'Bearer wrong-key-0123456789', `Basic ${API_KEY}`]) {
      const res = await request(`${serve.url}/v1/batches`, {
        headers: auth === undefined ? {} : { authorization: auth },
      });
      const body = (await res.body.json()) as { error: { code: string; type: string; message: string } };
      expect([res.statusCode, body.error.code, body.error.type]).toEqual([401, 'UNAUTHORIZED', 'authentication_error']);
    }
    const { OpenAI } = await import('openai');
    const wrong = new OpenAI({ apiKey: 'not-the-key-at-all', baseURL: `${serve.url}/v1`, maxRetries: 0 });
    await expect(wrong.batches.list()).rejects.toMatchObject({ status: 401 });
    expect(serve.stderr()).not.toContain(API_KEY);
  });

  it('refuses more than --max-file-lines with 413 and keeps nothing; metadata over 16 pairs and bad windows with 400', async () => {
    const { client } = serve;
    const lines = Array.from({ length: 51 }, (_, i) => chatLine(`l${i}`, 'x'));
    const before = fs.readdirSync(`${setup.dataDir}/files`).length;
    await expect(
      client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'big.jsonl'), purpose: 'batch' }),
    ).rejects.toMatchObject({ status: 413, code: 'FILE_TOO_LARGE' });
    expect(fs.readdirSync(`${setup.dataDir}/files`).length).toBe(before);
    const ok = await client.files.create({
      file: await toFile(Buffer.from(chatLine('z', 'z')), 'ok.jsonl'),
      purpose: 'batch',
    });
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const base = { input_file_id: ok.id, endpoint: '/v1/chat/completions' as const };
    await expect(client.batches.create({ ...base, completion_window: '24h', metadata })).rejects.toMatchObject({
      status: 400,
      param: 'metadata',
    });
    await expect(client.batches.create({ ...base, completion_window: 'soon' as '24h' })).rejects.toMatchObject({
      status: 400,
      param: 'completion_window',
    });
  });

  it('lists batches newest first with limit, after, has_more, first_id and last_id', async () => {
    const { client } = serve;
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatLine('p', 'p')), 'p.jsonl'),
      purpose: 'batch',
    });
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      made.unshift(b.id);
    }
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual(made.slice(0, 2));
    expect(first.has_more).toBe(true);
    const raw = (await (
      await request(`${serve.url}/v1/batches?limit=2&after=${made[0]}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      })
    ).body.json()) as { data: { id: string }[]; first_id: string; last_id: string; has_more: boolean };
    expect(raw.data.map((b) => b.id)).toEqual(made.slice(1, 3));
    expect([raw.first_id, raw.last_id]).toEqual([made[1], made[2]]);
    const all: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) all.push(b.id);
    expect(all.slice(0, 3)).toEqual(made);
    expect(all.length).toBeGreaterThanOrEqual(5);
  });

  it('/metrics has the job gauges, current at the scrape, on every serve of the namespace; files can be listed and deleted', async () => {
    // A second serve on the namespace does not drive it (the first holds the lock) and still reports its batches.
    const other = await startServe(setup, fx.url);
    try {
      for (const url of [serve.url, other.url]) {
        const text = await (await request(`${url}/metrics`)).body.text();
        expect(text).toMatch(/batchpost_jobs_batches\{status="completed"\} [1-9]/);
        expect(text).toMatch(/batchpost_jobs_batches\{status="failed"\} [1-9]/);
        expect(text).toContain('batchpost_jobs_lines_waiting');
      }
    } finally {
      await stopServe(other);
    }
    const { client } = serve;
    const f = await client.files.create({
      file: await toFile(Buffer.from(chatLine('d', 'd')), 'd.jsonl'),
      purpose: 'batch',
    });
    expect((await client.files.list()).data.map((x) => x.id)).toContain(f.id);
    expect(await client.files.delete(f.id)).toEqual({ id: f.id, object: 'file', deleted: true });
    await expect(client.files.retrieve(f.id)).rejects.toMatchObject({ status: 404 });
  });

  it('refuses to start without an API key', async () => {
    const r = await runCli(['serve', '--url', fx.url, '--port', '0', '--jobs', 'redis://127.0.0.1:6379'], {
      env: { BATCHPOST_API_KEY: '' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--jobs needs an API key');
  });
});
