// TLS as a user meets it: a private CA (--cacert), -k/--insecure, a client certificate (--cert/--key, an encrypted
// key's passphrase from BATCHPOST_KEY_PASSPHRASE), and the stable codes of each certificate problem, with advice
// that fits and nothing reaching the server's request handler. Certificates are made at test time with openssl;
// the CLI runs as a child process (build first), in run (with and without sender threads), serve and worker.
import fs from 'node:fs';
import path from 'node:path';
import { resolveOptions } from '../src/engine/options.js';
import { configOf, transportOf } from '../src/queue/config.js';
import { ndjsonFile, payloads, readResults, runCli, startCli, tmpDir, waitFor } from './helpers/cli.js';
import { httpsServer, makeCerts, postBatch, startServe, type Certs, type CountingServer } from './helpers/net.js';

interface Line {
  id: string;
  ok: boolean;
  attempts: number;
  status: number | null;
  response: unknown;
  error: { code: string; message: string } | null;
}

let certs: Certs;
let good: CountingServer;
let mtls: CountingServer;
let expired: CountingServer;
let otherHost: CountingServer;
const servers = (): CountingServer[] => [good, mtls, expired, otherHost];

beforeAll(async () => {
  certs = makeCerts();
  good = await httpsServer(certs);
  mtls = await httpsServer(certs, certs.server, certs.ca);
  expired = await httpsServer(certs, certs.expired);
  otherHost = await httpsServer(certs, certs.otherHost);
});
afterAll(async () => {
  await Promise.all(servers().map((s) => s?.close()));
  fs.rmSync(certs.dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const s of servers()) s.hits.length = 0;
});

/** Runs `n` payloads against `url` with `args`; the result lines and the CLI's outcome. */
async function run(url: string, n: number, args: string[], env: Record<string, string> = {}) {
  const dir = tmpDir();
  const input = ndjsonFile(dir, payloads(n));
  const out = path.join(dir, 'out.ndjson');
  const r = await runCli(['run', input, '--url', `${url}/orders`, '--out', out, '--progress', 'none', ...args], {
    env,
    timeoutMs: 60_000,
  });
  const lines = fs.existsSync(out) ? readResults<Line>(out) : [];
  return { ...r, lines };
}

/** Every line failed with `code` on its only attempt, with advice naming `advice` and never idempotency keys. */
function expectFailure(lines: Line[], code: string, advice: RegExp): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) {
    expect(l.ok).toBe(false);
    expect(l.error!.code).toBe(code);
    expect(l.attempts).toBe(1);
    expect(l.error!.message).toMatch(advice);
    expect(l.error!.message).not.toMatch(/idempotency|retry-unsafe/);
  }
}

describe('certificate problems: their own codes, never retried, nothing reaches the server', () => {
  test('a certificate of a CA not trusted: TLS_CERT_UNTRUSTED pointing at --cacert and --insecure', async () => {
    const r = await run(good.url, 3, []);
    expectFailure(r.lines, 'TLS_CERT_UNTRUSTED', /--cacert FILE.*-k\/--insecure/);
    expect(good.hits).toEqual([]);
  });

  test('an expired certificate: TLS_CERT_EXPIRED, even with its CA trusted', async () => {
    const r = await run(expired.url, 3, ['--cacert', certs.ca]);
    expectFailure(r.lines, 'TLS_CERT_EXPIRED', /has expired/);
    expect(expired.hits).toEqual([]);
  });

  test('a certificate for another host: TLS_HOSTNAME_MISMATCH', async () => {
    const r = await run(otherHost.url, 3, ['--cacert', certs.ca]);
    expectFailure(r.lines, 'TLS_HOSTNAME_MISMATCH', /not for this host/);
    expect(otherHost.hits).toEqual([]);
  });

  test('an mTLS server without --cert: TLS_HANDSHAKE_FAILED pointing at --cert, not a reset', async () => {
    const r = await run(mtls.url, 8, ['--cacert', certs.ca, '--concurrency', '4']);
    expectFailure(r.lines, 'TLS_HANDSHAKE_FAILED', /client certificate.*--cert FILE --key FILE/);
    expect(mtls.hits).toEqual([]);
  });

  test('every first attempt failing TLS stops the run early with the code and its remedy', async () => {
    const r = await run(good.url, 60, ['--concurrency', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${good.port} (TLS_CERT_UNTRUSTED)`);
    expect(r.stderr).toMatch(/The last: .*not trusted/);
    expect(r.stderr).toContain('Add --cacert FILE');
    expect(r.stderr).not.toContain('Check the URL and that the server is up');
    expect(r.lines.length).toBeLessThan(60);
    expect(good.hits).toEqual([]);
  });
});

describe('trusting and presenting certificates', () => {
  test('--cacert adds the CA: every request is answered', async () => {
    const r = await run(good.url, 5, ['--cacert', certs.ca]);
    expect(r.code).toBe(0);
    expect(r.lines.every((l) => l.ok)).toBe(true);
    expect(good.hits).toHaveLength(5);
  });

  test.each([
    ['this thread', []],
    ['two sender threads', ['--threads', '2']],
  ])('-k/--insecure (%s): answered, with one warning line on stderr', async (_name, extra) => {
    const r = await run(good.url, 6, ['-k', ...extra]);
    expect(r.code).toBe(0);
    expect(r.lines.filter((l) => l.ok)).toHaveLength(6);
    expect(r.stderr.match(/warning: --insecure/g)).toHaveLength(1);
  });

  test.each([
    ['this thread', []],
    ['two sender threads', ['--threads', '2']],
  ])('mTLS with --cert and --key (%s): answered', async (_name, extra) => {
    const r = await run(mtls.url, 6, [
      '--cacert',
      certs.ca,
      '--cert',
      certs.client,
      '--key',
      certs.clientKey,
      ...extra,
    ]);
    expect(r.code).toBe(0);
    expect(r.lines.filter((l) => l.ok)).toHaveLength(6);
    expect(mtls.hits).toHaveLength(6);
  });

  test('an encrypted key: its passphrase from BATCHPOST_KEY_PASSPHRASE; without it a clear USAGE error', async () => {
    const args = ['--cacert', certs.ca, '--cert', certs.client, '--key', certs.clientKeyEncrypted];
    const missing = await run(mtls.url, 2, args);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('set its passphrase in BATCHPOST_KEY_PASSPHRASE');
    expect(missing.stderr).toContain('[USAGE]');
    const ok = await run(mtls.url, 2, args, { BATCHPOST_KEY_PASSPHRASE: certs.passphrase });
    expect(ok.code).toBe(0);
    expect(ok.lines.filter((l) => l.ok)).toHaveLength(2);
    expect(ok.stderr + ok.stdout).not.toContain(certs.passphrase);
  });

  test('--cacert naming a file that is not a certificate: USAGE, naming the flag', async () => {
    const r = await run(good.url, 1, ['--cacert', certs.clientKey]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cacert .*expected a PEM certificate/);
  });
});

describe('serve and worker connect with the same TLS choices', () => {
  test('serve: --cacert/--cert/--key reach its upstream; without --cacert an item fails TLS_CERT_UNTRUSTED', async () => {
    const tls = ['--cacert', certs.ca, '--cert', certs.client, '--key', certs.clientKey];
    const ok = await startServe(['--url', `${mtls.url}/orders`, ...tls]);
    try {
      const answer = await postBatch(ok.url, [{ a: 1 }, { a: 2 }]);
      expect(answer.results.map((r) => r.ok)).toEqual([true, true]);
      expect(mtls.hits).toHaveLength(2);
    } finally {
      ok.child.kill('SIGTERM');
      await ok.done;
    }
    const bad = await startServe(['--url', `${good.url}/orders`]);
    try {
      const answer = await postBatch(bad.url, [{ a: 1 }]);
      expect(answer.results[0]!.error!.code).toBe('TLS_CERT_UNTRUSTED');
    } finally {
      bad.child.kill('SIGTERM');
      await bad.done;
    }
  });

  test('worker: the run ships the PEM text; the worker reads the key passphrase from its own environment', async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const queue = `net-tls-${process.pid}-${Date.now()}`;
    const dir = tmpDir();
    // Only the worker knows the passphrase: the run's machine has none to ship.
    const worker = startCli(['worker', '--queue', redisUrl, '--queue-name', queue], {
      env: { BATCHPOST_KEY_PASSPHRASE: certs.passphrase },
      timeoutMs: 60_000,
    });
    let stderr = '';
    worker.child.stderr!.on('data', (d: Buffer | string) => (stderr += String(d)));
    try {
      await waitFor(() => /serving queue/.test(stderr), 15_000, 'the worker to start');
      const input = ndjsonFile(dir, payloads(8));
      const out = path.join(dir, 'out.ndjson');
      const args = ['--cacert', certs.ca, '--cert', certs.client, '--key', certs.clientKeyEncrypted];
      const r = await runCli(
        ['run', input, '--url', `${mtls.url}/orders`, '--out', out, '--progress', 'none', '--queue', redisUrl].concat([
          '--queue-name',
          queue,
          ...args,
        ]),
        { timeoutMs: 60_000 },
      );
      expect(r.code).toBe(0);
      expect(readResults<Line>(out).filter((l) => l.ok)).toHaveLength(8);
      expect(mtls.hits).toHaveLength(8);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.done;
    }
  });
});

test('the run config in Redis holds the PEM text but never the passphrase; a worker adds its own', () => {
  const pem = fs.readFileSync(certs.clientKeyEncrypted, 'utf8');
  const run = resolveOptions({
    url: 'https://127.0.0.1/x',
    clientCert: 'CERT',
    clientKey: pem,
    keyPassphrase: 'secret-pass',
  });
  const stored = JSON.stringify(configOf(run));
  expect(stored).toContain('ENCRYPTED PRIVATE KEY');
  expect(stored).not.toContain('secret-pass');
  const worker = transportOf(JSON.parse(stored) as never, 3, { BATCHPOST_KEY_PASSPHRASE: 'worker-pass' });
  expect(worker.tls).toMatchObject({ key: pem, passphrase: 'worker-pass' });
});
