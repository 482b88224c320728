// Slips a user makes at the command line get a hint with the right shape, not just a refusal: a mistyped flag, a
// URL without its scheme, a URL where the file goes, curl's -d/--data, YAML input. Run as a user runs batchpost:
// a child process, its stderr and exit code.
import fs from 'node:fs';
import path from 'node:path';
import { ndjsonFile, payloads, runCli, tmpDir } from './helpers/cli.js';

let dir: string;
beforeEach(() => (dir = tmpDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The line after the error line: the hint, without its indent. */
function hintOf(stderr: string): string {
  return (stderr.split('\n')[1] ?? '').trim();
}

describe('a mistyped flag is named with the flag meant', () => {
  test.each([
    [['run', 'FILE', '--ur', 'http://127.0.0.1:1/'], "unknown option '--ur'", '--url'],
    [
      ['run', 'FILE', '--url', 'http://127.0.0.1:1/', '--concurency', '2'],
      "unknown option '--concurency'",
      '--concurrency',
    ],
    [['serve', '--ur', 'http://127.0.0.1:1/'], "unknown option '--ur'", '--url'],
    [['worker', '--queu', 'redis://127.0.0.1:1'], "unknown option '--queu'", '--queue'],
    [['report', 'FILE', '--htm', 'r.html'], "unknown option '--htm'", '--html'],
  ])('%j', async (args, error, meant) => {
    const file = ndjsonFile(dir, payloads(1));
    const r = await runCli(args.map((a) => (a === 'FILE' ? file : a)));
    expect(r.code).toBe(2);
    // The typo is reported even when it hides a required flag (--url, --queue): that one is missing only because of it.
    expect(r.stderr).toContain(error);
    expect(r.stderr).toContain(`(Did you mean ${meant}?)`);
    expect(r.stderr).not.toContain('required option');
  });
});

describe('a URL without a scheme', () => {
  test.each([
    ['api.example.com/orders', 'https://api.example.com/orders'],
    ['localhost:8080/orders', 'http://localhost:8080/orders'],
    ['127.0.0.1:8080/orders', 'http://127.0.0.1:8080/orders'],
  ])('--url %s: add http:// or https://', async (url, fixed) => {
    const file = ndjsonFile(dir, payloads(1));
    const r = await runCli(['run', file, '--url', url, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--url "${url}": no scheme [USAGE]`);
    expect(hintOf(r.stderr)).toBe(`Add http:// or https://, e.g. --url ${fixed}`);
  });

  test('serve says the same', async () => {
    const r = await runCli(['serve', '--url', 'api.example.com', '--port', '0']);
    expect(r.code).toBe(2);
    expect(hintOf(r.stderr)).toBe('Add http:// or https://, e.g. --url https://api.example.com');
  });
});

describe('a URL where the file of payloads goes', () => {
  test('batchpost URL', async () => {
    const r = await runCli(['https://api.example.com/orders']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'https://api.example.com/orders'");
    expect(hintOf(r.stderr)).toBe(
      'The payloads come from a file and the URL goes with --url: batchpost run FILE --url https://api.example.com/orders',
    );
  });

  test('batchpost FILE --url URL (run left out)', async () => {
    const r = await runCli(['orders.ndjson', '--url', 'https://api.example.com/orders']);
    expect(r.code).toBe(2);
    expect(hintOf(r.stderr)).toBe(
      'The payloads come from a file and the URL goes with --url: batchpost run orders.ndjson --url https://api.example.com/orders',
    );
  });

  test('batchpost run URL, with and without --url', async () => {
    const url = 'https://api.example.com/orders';
    const bare = await runCli(['run', url]);
    expect(bare.code).toBe(2);
    expect(hintOf(bare.stderr)).toBe(
      `The payloads come from a file and the URL goes with --url: batchpost run FILE --url ${url}`,
    );
    const both = await runCli(['run', url, '--url', url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(`${url}: a URL where the file of payloads goes [USAGE]`);
    expect(hintOf(both.stderr)).toBe(
      `The payloads come from a file and the URL goes with --url: batchpost run FILE --url ${url}`,
    );
  });

  test('batchpost run FILE URL (--url left out)', async () => {
    const file = ndjsonFile(dir, payloads(1));
    const r = await runCli(['run', file, 'http://127.0.0.1:1/orders']);
    expect(r.code).toBe(2);
    expect(hintOf(r.stderr)).toBe(
      `The payloads come from a file and the URL goes with --url: batchpost run ${file} --url http://127.0.0.1:1/orders`,
    );
  });
});

describe("curl's -d / --data", () => {
  test('-d @file: the file becomes the input', async () => {
    const r = await runCli(['run', '-d', '@orders.ndjson', 'https://api.example.com/orders']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '-d'");
    expect(hintOf(r.stderr)).toBe(
      'batchpost sends each payload of a file (not curl -d): batchpost run orders.ndjson --url https://api.example.com/orders',
    );
  });

  test('--data JSON with --url', async () => {
    const r = await runCli(['run', '--url', 'https://api.example.com/orders', '--data', '{"sku":"A"}']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--data'");
    expect(hintOf(r.stderr)).toBe(
      'batchpost sends each payload of a file (not curl -d): batchpost run FILE --url https://api.example.com/orders',
    );
  });
});

describe('YAML input is named as unsupported', () => {
  test.each(['orders.yaml', 'orders.yml'])('by its name: %s', async (name) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, '- sku: A\n  qty: 1\n');
    const r = await runCli(['run', file, '--url', 'http://127.0.0.1:1/', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${file}: YAML, which batchpost does not read (JSON, NDJSON or CSV) [INPUT_UNSUPPORTED]`,
    );
    const base = file.replace(/\.ya?ml$/, '');
    expect(hintOf(r.stderr)).toBe(`Convert it to NDJSON first, e.g. yq -o=json -I=0 '.[]' ${file} > ${base}.ndjson`);
  });

  test('by its content', async () => {
    const file = path.join(dir, 'orders.txt');
    fs.writeFileSync(file, '---\n- sku: A\n  qty: 1\n');
    const r = await runCli(['run', file, '--url', 'http://127.0.0.1:1/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[INPUT_INVALID_JSON]');
    expect(r.stderr).toContain(
      "the input looks like YAML, which batchpost does not read: convert it to NDJSON first (e.g. yq -o=json -I=0 '.[]' FILE)",
    );
    fs.writeFileSync(file, 'sku: A\nqty: 1\n');
    const map = await runCli(['run', file, '--url', 'http://127.0.0.1:1/', '--dry-run']);
    expect(map.code).toBe(2);
    expect(map.stderr).toContain('the input looks like YAML');
  });

  test('--input-format ndjson reads a .yaml name as NDJSON when told to', async () => {
    const file = ndjsonFile(dir, payloads(2), 'orders.yaml');
    const r = await runCli(['run', file, '--url', 'http://127.0.0.1:1/', '--input-format', 'ndjson', '--dry-run']);
    expect(r.code).toBe(0);
  });
});

test('a malformed CSV row: "Fix the row"', async () => {
  const file = path.join(dir, 'orders.csv');
  fs.writeFileSync(file, 'sku,qty\nA,"1\n');
  const r = await runCli(['run', file, '--url', 'http://127.0.0.1:1/', '--out', path.join(dir, 'r.ndjson')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('[INPUT_INVALID_CSV]');
  expect(r.stderr).toContain('Fix the row');
});
