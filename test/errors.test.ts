// The error table and docs/errors.md must list the same codes: users match on codes, so none may go undocumented;
// and scripts branch on exit codes, so the documented one of each code must be the one the CLI exits with.
import fs from 'node:fs';
import { ERROR_CODES, exitCodeOf, retryClassOf } from '../src/engine/errors.js';

const doc = fs.readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set([...doc.matchAll(/^\| `([A-Z0-9_<>a-z]+)` \|/gm)].map((m) => m[1]!));
const stderrStart = doc.indexOf('## On stderr');
/** The section of the codes that stop a command, whose table has an exit column. */
const stderrSection = doc.slice(stderrStart, doc.indexOf('\n## ', stderrStart + 1));

describe('error codes', () => {
  test('every code in the table is documented', () => {
    const missing = Object.keys(ERROR_CODES).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
  });

  test('every documented code exists in the table', () => {
    const extra = [...documented].filter((c) => c !== 'HTTP_<status>' && !(c in ERROR_CODES));
    expect(extra).toEqual([]);
    expect(documented.has('HTTP_<status>')).toBe(true);
  });

  test('the documented retry class matches the table', () => {
    for (const m of doc.matchAll(/^\| `([A-Z0-9_]+)` \| (always|when safe|never) \|/gm)) {
      const cls = { always: 'always', 'when safe': 'safe', never: 'never' }[m[2]!];
      expect([m[1], retryClassOf(m[1]!)]).toEqual([m[1], cls]);
    }
  });

  test("the documented exit code of each code that stops a command is the table's", () => {
    const stderrTable = new Map(
      [...stderrSection.matchAll(/^\| `([A-Z0-9_]+)` \| (\d+) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
    );
    const stopping = Object.entries(ERROR_CODES).filter(([, info]) => 'exit' in info);
    expect(stopping.length).toBeGreaterThan(10);
    for (const [code] of stopping) {
      // A code documented elsewhere (serve's LISTEN_FAILED) names its exit code in its row.
      const documented =
        stderrTable.get(code) ?? Number(new RegExp(`^\\| \`${code}\` \\|.*exit code (\\d+)`, 'm').exec(doc)?.[1]);
      expect([code, documented]).toEqual([code, exitCodeOf(code)]);
    }
    for (const [code, exit] of stderrTable) expect([code, exit]).toEqual([code, exitCodeOf(code)]);
  });

  test('every code of scope run is in the stderr table, and OUTPUT_FAILED and THREAD_FAILED exit 1', () => {
    const runCodes = Object.entries(ERROR_CODES).filter(([, info]) => info.scope === 'run');
    for (const [code] of runCodes) expect([code, stderrSection.includes(`| \`${code}\` | `)]).toEqual([code, true]);
    expect([exitCodeOf('OUTPUT_FAILED'), exitCodeOf('THREAD_FAILED'), exitCodeOf('USAGE')]).toEqual([1, 1, 2]);
  });

  test('HTTP statuses: 429 and 503 always, 500/502/504 when safe, others never', () => {
    expect(
      ['HTTP_429', 'HTTP_503', 'HTTP_500', 'HTTP_502', 'HTTP_504', 'HTTP_404', 'HTTP_501'].map(retryClassOf),
    ).toEqual(['always', 'always', 'safe', 'safe', 'safe', 'never', 'never']);
  });
});
