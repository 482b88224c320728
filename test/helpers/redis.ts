// redis-server processes of a test's own, on free ports: settings under test (eviction, databases, passwords), and
// isolation (a worker without --queue-name serves every run in its Redis, so test runs sharing one Redis would send
// each other's requests).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from '../../fixtures/server.js';

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  /** The arguments after `--port N`, to start it again on the same port. */
  args: string[];
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A redis-server without persistence on `port` (a free one by default), answering PING before this returns. */
export async function startRedisServer(extra: string[], port?: number, password?: string): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra];
  const child = spawn('redis-server', ['--port', String(p), ...args], { stdio: 'ignore' });
  const server: RedisServer = { port: p, url: `redis://127.0.0.1:${p}`, child, args };
  const end = Date.now() + 60_000;
  for (;;) {
    if (
      await redisAnswers(`redis://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${p}`)
    )
      return server;
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server --port ${p} ${args.join(' ')} did not start`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a Redis answers PING at `url` (one try, two seconds at most to connect). */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Kills it (as a crash would: nothing saved; a stopped one is continued first) and waits for it to exit. Idempotent. */
export async function stopRedisServer(server: RedisServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGCONT');
  server.child.kill('SIGKILL');
  await exited;
}

export interface RedisTap {
  port: number;
  /** The tap's URL: what a client connects to instead of the server's. */
  url: string;
  /** Stops listening and cuts every connection through it. Idempotent. */
  close(): Promise<void>;
}

/**
 * A TCP relay in front of the Redis on `target`: `onSend` sees each chunk a client sends (RESP text, whole commands
 * at start-up's sizes) before it is passed on, so a test can freeze the server (SIGSTOP) just before a given command
 * reaches it: the step of a client's start-up a real frozen server would hang.
 */
export async function startRedisTap(target: number, onSend: (text: string) => void): Promise<RedisTap> {
  const sockets = new Set<net.Socket>();
  const keep = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    keep(client);
    const upstream = net.connect(target, '127.0.0.1');
    keep(upstream);
    client.on('data', (chunk: Buffer) => {
      onSend(chunk.toString('latin1'));
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

/** `run` writing its results to `out`, with the progress lines the queue tests read. */
export const queueRunArgs = (input: string, url: string, out: string, extra: string[] = []): string[] => [
  'run',
  input,
  '--url',
  url,
  '--out',
  out,
  '--progress',
  'lines',
  '--progress-interval',
  '250ms',
  ...extra,
];
