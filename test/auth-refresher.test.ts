// The refresher behind --auth-command, alone: refreshes serialised per generation, a failure told once and kept,
// close() idempotent, and a sender thread's RemoteAuth asking the main thread once per generation.
import { AuthRefresher, RemoteAuth, withAuth } from '../src/engine/auth.js';
import { BatchpostError } from '../src/engine/errors.js';
import { headersOf } from '../src/util/auth-command.js';
import { isSecretName, redactHeaders } from '../src/util/redact.js';

/** A fetch whose runs the test finishes by hand. */
function manualFetch() {
  const calls: { resolve: (h: Record<string, string>) => void; reject: (e: Error) => void }[] = [];
  const fetch = () => new Promise<Record<string, string>>((resolve, reject) => calls.push({ resolve, reject }));
  return { fetch, calls };
}

test('64 refreshes asked for the same generation run the command once; an older generation gets the current headers', async () => {
  const { fetch, calls } = manualFetch();
  const auth = new AuthRefresher(fetch, { refreshMs: null });
  const started = auth.start();
  calls[0]!.resolve({ authorization: 'Bearer one' });
  await started;
  expect(auth.current().generation).toBe(1);
  const waits = Array.from({ length: 64 }, () => auth.refresh(1));
  expect(calls).toHaveLength(2);
  calls[1]!.resolve({ authorization: 'Bearer two' });
  const got = await Promise.all(waits);
  expect(new Set(got.map((g) => g.generation))).toEqual(new Set([2]));
  // A 401 to generation 1 arriving now: the headers of generation 2 at once, no run.
  expect((await auth.refresh(1)).headers).toEqual({ authorization: 'Bearer two' });
  expect(calls).toHaveLength(2);
  auth.close();
  auth.close();
});

test('a failed refresh is told once, rejects every waiter and every later refresh', async () => {
  const { fetch, calls } = manualFetch();
  const failures: BatchpostError[] = [];
  const auth = new AuthRefresher(fetch, { refreshMs: null, onFailure: (e) => failures.push(e) });
  const started = auth.start();
  calls[0]!.resolve({ authorization: 'Bearer one' });
  await started;
  const a = auth.refresh(1);
  const b = auth.refresh(1);
  calls[1]!.reject(new BatchpostError('AUTH_COMMAND_FAILED', 'exited with code 1'));
  await expect(a).rejects.toMatchObject({ code: 'AUTH_COMMAND_FAILED' });
  await expect(b).rejects.toMatchObject({ code: 'AUTH_COMMAND_FAILED' });
  await expect(auth.refresh(1)).rejects.toMatchObject({ code: 'AUTH_COMMAND_FAILED' });
  expect(failures).toHaveLength(1);
  expect(calls).toHaveLength(2);
});

test('a waiter leaves when its signal aborts; the refresh goes on for the others', async () => {
  const { fetch, calls } = manualFetch();
  const auth = new AuthRefresher(fetch, { refreshMs: null });
  const ac = new AbortController();
  const a = auth.refresh(0, ac.signal);
  const b = auth.refresh(0);
  ac.abort(new Error('stopped'));
  await expect(a).rejects.toThrow('stopped');
  calls[0]!.resolve({ authorization: 'Bearer one' });
  expect((await b).generation).toBe(1);
  auth.close();
});

test('RemoteAuth asks the main thread once per generation and takes what it is sent', async () => {
  const asked: number[] = [];
  const remote = new RemoteAuth({ generation: 1, headers: { authorization: 'Bearer one' } }, (s) => asked.push(s));
  const waits = [remote.refresh(1), remote.refresh(1), remote.refresh(1)];
  expect(asked).toEqual([1]);
  remote.update({ generation: 2, headers: { authorization: 'Bearer two' } });
  expect((await Promise.all(waits)).map((w) => w.generation)).toEqual([2, 2, 2]);
  expect((await remote.refresh(1)).generation).toBe(2);
  const failing = remote.refresh(2);
  expect(asked).toEqual([1, 2]);
  remote.fail('--auth-command exited with code 1');
  await expect(failing).rejects.toMatchObject({ code: 'AUTH_COMMAND_FAILED' });
});

test('auth headers replace headers of the same name in any case, and keep the others', () => {
  expect(withAuth({ Authorization: 'Basic x', 'X-A': ['1', '2'] }, { authorization: 'Bearer t' })).toEqual({
    'X-A': ['1', '2'],
    authorization: 'Bearer t',
  });
});

test("the command's output: header lines, or one token; its header names become secret names", () => {
  expect(headersOf('abc.def-123\n')).toEqual({ authorization: 'Bearer abc.def-123' });
  expect(headersOf('X-Tenant-Pass: p1\r\nAuthorization: Bearer t\n\n')).toEqual({
    'X-Tenant-Pass': 'p1',
    Authorization: 'Bearer t',
  });
  expect(() => headersOf('')).toThrow('printed nothing');
  expect(() => headersOf('two words')).toThrow('neither');
  expect(() => headersOf('A: 1\nnot a header\n')).toThrow('line 2');
  expect(isSecretName('X-Workspace')).toBe(false);
  headersOf('X-Workspace: w1');
  expect(isSecretName('X-Workspace')).toBe(true);
  expect(redactHeaders({ 'x-workspace': 'w1' })).toEqual({ 'x-workspace': '[redacted]' });
});
