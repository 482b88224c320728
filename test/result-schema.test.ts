// docs/result.schema.json and docs/result-openai.schema.json describe the result lines exactly (additional
// properties refused): real output of every variant of `batchpost run` must validate against them.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { freePort } from '../fixtures/server.js';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, ROOT, runCli, tmpDir } from './helpers/cli.js';

const server = useFixtureServer();
let dir: string;

const ajv = new Ajv2020({ allErrors: true, strict: true });
const schema = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', name), 'utf8')) as object;
const validateResult = ajv.compile(schema('result.schema.json'));
const validateOpenAi = ajv.compile(schema('result-openai.schema.json'));

beforeEach(() => {
  dir = tmpDir();
});

/** Runs the CLI and returns its result lines, each checked against `validate`. */
async function linesOf(
  args: string[],
  validate: ValidateFunction,
  expectedCode?: number,
): Promise<Record<string, unknown>[]> {
  const r = await runCli(['run', ...args, '--progress', 'none']);
  if (expectedCode !== undefined) expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: expectedCode });
  const lines = parseLines(r.stdout);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const valid = validate(line);
    expect({ line, errors: valid ? null : validate.errors }).toEqual({ line, errors: null });
  }
  return lines;
}

const mixed = () =>
  ndjsonFile(dir, [
    { id: 'ok', s: 200 },
    { id: 'created', s: 201 },
    { id: 'missing', s: 404 },
    { id: 'broken', s: 500 },
  ]);

describe('docs/result.schema.json', () => {
  test('answers and HTTP failures, with X-Request-Id, hash and startedAt', async () => {
    const lines = await linesOf(
      [mixed(), '--url', `${server.url}/request-id?status={{ s }}`, '--id-field', 'id', '--retries', '0'],
      validateResult,
      1,
    );
    expect(lines.map((l) => l.ok).sort()).toEqual([false, false, true, true]);
    expect(lines.every((l) => typeof l.requestId === 'string')).toBe(true);
  });

  test('--include-headers', async () => {
    const lines = await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/headers`, '--include-headers'],
      validateResult,
      0,
    );
    expect(lines[0]!.headers).toMatchObject({ 'x-test': '1' });
  });

  test('no answer (refused), and --skip-invalid lines', async () => {
    const port = await freePort();
    const input = path.join(dir, 'in.ndjson');
    fs.writeFileSync(input, '{"n":1}\n{not json\n');
    const lines = await linesOf(
      [input, '--url', `http://127.0.0.1:${port}/x`, '--skip-invalid', '--retries', '0', '--unreachable-after', '0'],
      validateResult,
      1,
    );
    expect(lines.map((l) => (l.error as { code: string }).code).sort()).toEqual(['ECONNREFUSED', 'INVALID_JSON']);
  });

  test('--transform, --expect failures, and RESPONSE_TOO_LARGE', async () => {
    await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/echo`, '--transform', '{got: body.n}'],
      validateResult,
      0,
    );
    await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/echo`, '--expect', 'body.nothing'],
      validateResult,
      1,
    );
    await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/big?bytes=2000000`, '--max-response-size', '1mb'],
      validateResult,
      1,
    );
  });

  test('--save-responses', async () => {
    const lines = await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/echo`, '--save-responses', path.join(dir, 'bodies')],
      validateResult,
      0,
    );
    expect(lines[0]!.file).toBe(path.join(dir, 'bodies', '1.json'));
  });

  test('throttled requests (adaptive pace held the run back)', async () => {
    const input = ndjsonFile(
      dir,
      Array.from({ length: 12 }, (_, i) => ({ n: i })),
    );
    const lines = await linesOf(
      [input, '--url', `${server.url}/limited/s1?limit=3&windowMs=300`, '-X', 'PUT', '-c', '4', '--retries', '5'],
      validateResult,
    );
    expect(lines.some((l) => l.throttled !== undefined)).toBe(true);
  });

  test('the schema refuses what is not a result line', () => {
    expect(
      validateResult({ id: '1', ok: true, status: 500, attempts: 1, durationMs: 1, response: null, error: null }),
    ).toBe(false);
    expect(
      validateResult({ id: '1', ok: false, status: null, attempts: 1, durationMs: 1, response: null, error: null }),
    ).toBe(false);
    expect(
      validateResult({
        id: '1',
        ok: true,
        status: 200,
        attempts: 1,
        durationMs: 1,
        response: 1,
        error: null,
        extra: 1,
      }),
    ).toBe(false);
  });
});

describe('docs/result-openai.schema.json', () => {
  test('answers, HTTP failures, no answer, a 2xx counted failed, a saved body', async () => {
    await linesOf(
      [
        mixed(),
        '--url',
        `${server.url}/request-id?status={{ s }}`,
        '--id-field',
        'id',
        '--format',
        'openai',
        '--retries',
        '0',
      ],
      validateOpenAi,
      1,
    );
    const port = await freePort();
    const input = path.join(dir, 'bad.ndjson');
    fs.writeFileSync(input, '{"n":1}\n{not json\n');
    const failed = await linesOf(
      [input, '--url', `http://127.0.0.1:${port}/x`, '--skip-invalid', '--format', 'openai', '--retries', '0'],
      validateOpenAi,
      1,
    );
    expect(failed.every((l) => l.response === null)).toBe(true);
    await linesOf(
      [ndjsonFile(dir, [{ n: 1 }]), '--url', `${server.url}/echo`, '--expect', 'body.nothing', '--format', 'openai'],
      validateOpenAi,
      1,
    );
    await linesOf(
      [
        ndjsonFile(dir, [{ n: 1 }]),
        '--url',
        `${server.url}/text`,
        '--format',
        'openai',
        '--save-responses',
        path.join(dir, 'b'),
      ],
      validateOpenAi,
      0,
    );
  });

  test('the schema refuses a line with no answer and no error', () => {
    expect(validateOpenAi({ id: 'batch_req_' + '0'.repeat(32), custom_id: '1', response: null, error: null })).toBe(
      false,
    );
  });
});
