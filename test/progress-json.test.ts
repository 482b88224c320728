// --progress json: every progress line on stderr is a JSON object matching docs/progress.schema.json, the counts
// add up (done = ok + failed), and the final {"summary": …} line agrees with the results, whether they go to a file
// or to stdout (run without --out).
import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { useFixtureServer } from './helpers/fixture.js';
import { ndjsonFile, parseLines, payloads, readResults, ROOT, runCli, tmpDir } from './helpers/cli.js';

interface Line {
  done?: number;
  total?: number | null;
  ok?: number;
  failed?: number;
  inFlight?: number;
  summary?: { total: number; ok: number; failed: number; exitCode: number; recorded: unknown };
}

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/progress.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);

const server = useFixtureServer();
let dir: string;
beforeEach(() => {
  dir = tmpDir();
});

/** stderr's JSON lines, each checked against the schema; other lines are messages for a person. */
function jsonLines(stderr: string): Line[] {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  return lines.map((l) => {
    const value = JSON.parse(l) as Line;
    if (!validate(value)) throw new Error(`${l}: ${JSON.stringify(validate.errors)}`);
    return value;
  });
}

/** Every 4th payload answered 422 (never retried), the others 200, each after a short wait. */
const mixed = (n: number) => payloads(n, (i) => ({ i, status: i % 4 === 0 ? 422 : 200 }));
const url = () => `${server.url}/echo?ms=20&status={{ status }}`;

test('lines parse and match the schema, counts add up, and the summary line matches the results file', async () => {
  const file = ndjsonFile(dir, mixed(60));
  const out = path.join(dir, 'out.ndjson');
  const r = await runCli([
    'run',
    file,
    '--url',
    url(),
    '-c',
    '2',
    '-o',
    out,
    '--progress',
    'json',
    '--progress-interval',
    '100ms',
  ]);
  expect(r.code).toBe(1);
  const lines = jsonLines(r.stderr);
  const progress = lines.filter((l) => l.summary === undefined);
  // 30 rounds of 20 ms or more with 2 in flight: several intervals of 100 ms, and the last line when it stops.
  expect(progress.length).toBeGreaterThanOrEqual(2);
  for (const l of progress) {
    expect(l.done).toBe(l.ok! + l.failed!);
    expect(l.total).toBe(60);
    expect(l.inFlight).toBeLessThanOrEqual(2);
  }
  for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done!);
  expect(progress.at(-1)).toMatchObject({ done: 60, ok: 45, failed: 15, inFlight: 0, etaMs: null });
  const summary = lines.at(-1)!.summary!;
  const results = readResults<{ ok: boolean }>(out);
  expect(summary).toMatchObject({ total: results.length, ok: results.filter((x) => x.ok).length, exitCode: 1 });
  expect(summary.failed).toBe(results.filter((x) => !x.ok).length);
  expect(lines.filter((l) => l.summary !== undefined)).toHaveLength(1);
  // The summary for a person is replaced by the JSON one.
  expect(r.stderr).not.toMatch(/^batchpost: .*done/m);
});

test.each([
  ['no --out', []],
  ['--out -', ['--out', '-']],
])('with results on stdout (%s): stdout holds only results, stderr only the JSON lines', async (_how, out) => {
  const file = ndjsonFile(dir, mixed(12));
  const args = ['run', file, '--url', url(), ...out, '--progress', 'json', '--progress-interval', '50ms'];
  const r = await runCli(args, { cwd: dir });
  expect(r.code).toBe(1);
  expect(fs.readdirSync(dir)).toEqual(['in.ndjson']);
  const results = parseLines<{ ok: boolean }>(r.stdout);
  expect(results).toHaveLength(12);
  const stderrLines = r.stderr.split('\n').filter((l) => l !== '');
  const lines = jsonLines(r.stderr);
  expect(lines).toHaveLength(stderrLines.length);
  expect(lines.at(-1)!.summary).toMatchObject({ total: 12, ok: 9, failed: 3, exitCode: 1, recorded: null });
});

test('after --resume the summary line carries the tally of the whole results file', async () => {
  const file = ndjsonFile(dir, mixed(8));
  const out = path.join(dir, 'out.ndjson');
  fs.writeFileSync(out, `${JSON.stringify({ id: '1', ok: true, status: 200, attempts: 1, error: null })}\n`);
  const r = await runCli(['run', file, '--url', url(), '-o', out, '--resume', '--progress', 'json']);
  const lines = jsonLines(r.stderr);
  expect(lines.at(-2)).toMatchObject({ done: 7, total: 7 });
  expect(lines.at(-1)!.summary).toMatchObject({ total: 7, skipped: 1, recorded: { total: 8, ok: 6, failed: 2 } });
});

test('an unknown progress mode names json among the choices', async () => {
  const file = ndjsonFile(dir, mixed(1));
  const r = await runCli(['run', file, '--url', url(), '--progress', 'jsonl']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('expected one of bar, lines, none, auto, json');
});
