// JSON the tests read back (answers, result lines, summary files), typed as the shape each test expects of it:
// the type is the test's claim, and its assertions check the values.
import fs from 'node:fs';

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function readJson<T>(file: string): T {
  return parseJson<T>(fs.readFileSync(file, 'utf8'));
}

/** What the fixture server's /echo answers: the request as it arrived, its JSON body parsed. */
export interface EchoAnswer<Body = unknown> {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[]>;
  body: Body;
}
