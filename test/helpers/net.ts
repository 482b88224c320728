// Real network parts for the network tests, made at test time: a test CA and certificates (openssl), https, mTLS
// and HTTP/2 servers that count what reaches their request handler, and a forward proxy that counts what it carries
// (absolute-form requests and CONNECT tunnels).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { tmpDir } from './cli.js';

export interface Certs {
  dir: string;
  /** Paths of PEM files. */
  ca: string;
  serverKey: string;
  /** For 127.0.0.1 (SAN IP:127.0.0.1), signed by the CA. */
  server: string;
  /** Signed by the CA, expired. */
  expired: string;
  /** Signed by the CA, for another host name only. */
  otherHost: string;
  clientKey: string;
  client: string;
  /** The client key encrypted with `passphrase`. */
  clientKeyEncrypted: string;
  passphrase: string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, server certificates (good, expired, other host) and a client certificate, in a fresh temp dir. */
export function makeCerts(): Certs {
  const dir = tmpDir();
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=batchpost test CA',
  ]);
  const sign = (name: string, cn: string, days: string, ext: string) => {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      dir,
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        `${name}.pem`,
        '-days',
        days,
        '-extfile',
        `${name}.ext`,
      ]),
    );
  };
  sign('server', '127.0.0.1', '2', 'subjectAltName=IP:127.0.0.1\n');
  sign('expired', '127.0.0.1', '-1', 'subjectAltName=IP:127.0.0.1\n');
  sign('other', 'other.example', '2', 'subjectAltName=DNS:other.example\n');
  sign('client', 'batchpost client', '2', 'extendedKeyUsage=clientAuth\n');
  const passphrase = 'correct horse battery';
  openssl(dir, ['pkey', '-in', 'client.key', '-aes256', '-passout', `pass:${passphrase}`, '-out', 'client-enc.key']);
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    serverKey: p('server.key'),
    server: p('server.pem'),
    expired: p('expired.pem'),
    otherHost: p('other.pem'),
    clientKey: p('client.key'),
    client: p('client.pem'),
    clientKeyEncrypted: p('client-enc.key'),
    passphrase,
  };
}

export interface CountingServer {
  url: string;
  port: number;
  /** Requests that reached the request handler, with the HTTP version they came in. */
  hits: { method: string; url: string; httpVersion: string; headers: http.IncomingHttpHeaders }[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

function counting(hits: CountingServer['hits']): Handler {
  return (req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, headers: req.headers });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, httpVersion: req.httpVersion, echo: body.length }));
    });
  };
}

async function listening(
  server: net.Server,
  scheme: string,
  hits: CountingServer['hits'],
  sockets = new Set<net.Socket>(),
): Promise<CountingServer> {
  let connections = 0;
  server.on('connection', (s: net.Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    hits,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const read = (f: string) => fs.readFileSync(f);

/** An https server with `cert` (a path); with `clientCa`, it requires a client certificate signed by that CA. */
export function httpsServer(certs: Certs, cert = certs.server, clientCa?: string): Promise<CountingServer> {
  const hits: CountingServer['hits'] = [];
  const key = cert.replace(/\.pem$/, '.key');
  const options: https.ServerOptions = { key: read(key), cert: read(cert) };
  if (clientCa !== undefined)
    Object.assign(options, { ca: read(clientCa), requestCert: true, rejectUnauthorized: true });
  const server = https.createServer(options, counting(hits) as http.RequestListener);
  server.on('tlsClientError', () => {});
  return listening(server, 'https', hits);
}

/** An HTTP/2 server over TLS; `allowHTTP1` false: it speaks nothing else. */
export function http2Server(certs: Certs, allowHTTP1 = false): Promise<CountingServer> {
  const hits: CountingServer['hits'] = [];
  const server = http2.createSecureServer({ key: read(certs.serverKey), cert: read(certs.server), allowHTTP1 });
  server.on('request', counting(hits));
  server.on('tlsClientError', () => {});
  server.on('sessionError', () => {});
  return listening(server, 'https', hits);
}

/** A plain http server counting requests. */
export function httpServer(): Promise<CountingServer> {
  const hits: CountingServer['hits'] = [];
  return listening(http.createServer(counting(hits) as http.RequestListener), 'http', hits);
}

export interface ForwardProxy {
  url: string;
  port: number;
  /** Absolute-form requests it forwarded ("GET http://host:port/path"). */
  forwarded: string[];
  /** CONNECT tunnels it opened ("host:port"). */
  tunnels: string[];
  /** Proxy-Authorization values it was sent (to check credentials arrive, never elsewhere). */
  auth: (string | undefined)[];
  close(): Promise<void>;
}

/**
 * A forward proxy on node:http: absolute-form requests are forwarded, CONNECT opens a tunnel. With `credentials`
 * ("user:pass"), anything without them gets 407.
 */
export async function forwardProxy(credentials?: string): Promise<ForwardProxy> {
  const forwarded: string[] = [];
  const tunnels: string[] = [];
  const auth: (string | undefined)[] = [];
  const expected = credentials === undefined ? undefined : `Basic ${Buffer.from(credentials).toString('base64')}`;
  const allowed = (h: string | undefined) => expected === undefined || h === expected;
  const server = http.createServer((req, res) => {
    auth.push(req.headers['proxy-authorization']);
    if (!allowed(req.headers['proxy-authorization'])) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    forwarded.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    auth.push(req.headers['proxy-authorization']);
    if (!allowed(req.headers['proxy-authorization'])) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const s = await listening(server, 'http', []);
  return { url: s.url, port: s.port, forwarded, tunnels, auth, close: () => s.close() };
}

/** A `batchpost serve` child on a free port: its URL once the ready line is out, and its end. */
export async function startServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<{
  url: string;
  child: import('node:child_process').ChildProcess;
  stderr: () => string;
  done: Promise<import('./cli.js').CliResult>;
}> {
  const { startCli, waitFor } = await import('./cli.js');
  const { child, done } = startCli(['serve', ...args, '--port', '0'], { env, timeoutMs: 60_000 });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer | string) => (stderr += String(d)));
  await waitFor(() => /serving on http:\/\/\S+/.test(stderr) || child.exitCode !== null, 15_000, 'serve to start');
  const m = /serving on (http:\/\/\S+)/.exec(stderr);
  if (m === null) throw new Error(`serve did not start:\n${stderr}`);
  return { url: m[1]!, child, stderr: () => stderr, done };
}

/** POSTs a JSON array to serve's /batch; its JSON answer. */
export async function postBatch(
  url: string,
  items: unknown[],
): Promise<{ results: { ok: boolean; error?: { code: string; message: string }; status?: number | null }[] }> {
  const res = await fetch(`${url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(items),
  });
  return (await res.json()) as never;
}
