// The set-up most CLI test files share: one fixture server for the file (reset before each test, closed after the
// last) and temp folders removed after the last test. Call at the top level of a test file.
import fs from 'node:fs';
import { startFixtureServer, type FixtureServer, type FixtureServerOptions } from '../../fixtures/server.js';
import { tmpDir } from './cli.js';

/** The file's fixture server: usable inside tests and hooks (it starts in a beforeAll hook registered here). */
export function useFixtureServer(options?: FixtureServerOptions): FixtureServer {
  let current: FixtureServer | null = null;
  beforeAll(async () => {
    current = await startFixtureServer(options);
  });
  beforeEach(() => current?.reset());
  afterAll(() => current?.close());
  const started = (): FixtureServer => {
    if (current === null) throw new Error('the fixture server starts in beforeAll: use it inside tests and hooks');
    return current;
  };
  return new Proxy({} as FixtureServer, {
    get(_target, key) {
      const server = started();
      const value: unknown = Reflect.get(server, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(server) : value;
    },
    set: (_target, key, value) => Reflect.set(started(), key, value),
  });
}

/** A function that makes a fresh temp folder; every folder it made is removed after the file's last test. */
export function useTmpDirs(): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = tmpDir();
    dirs.push(dir);
    return dir;
  };
}
