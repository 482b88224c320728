// The error table and docs/errors.md must list the same codes: users match on codes, so none may go undocumented.
import fs from 'node:fs';
import { ERROR_CODES, retryClassOf } from '../src/engine/errors.js';

const doc = fs.readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set([...doc.matchAll(/^\| `([A-Z_<>a-z]+)` \|/gm)].map((m) => m[1]!));

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
    for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| (always|when safe|never) \|/gm)) {
      const cls = { always: 'always', 'when safe': 'safe', never: 'never' }[m[2]!];
      expect([m[1], retryClassOf(m[1]!)]).toEqual([m[1], cls]);
    }
  });

  test('HTTP statuses: 429 and 503 always, 500/502/504 when safe, others never', () => {
    expect(
      ['HTTP_429', 'HTTP_503', 'HTTP_500', 'HTTP_502', 'HTTP_504', 'HTTP_404', 'HTTP_501'].map(retryClassOf),
    ).toEqual(['always', 'always', 'safe', 'safe', 'safe', 'never', 'never']);
  });
});
