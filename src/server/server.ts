// The HTTP server of `batchpost serve` (node:http): routes, one log line per batch, and the lifecycle. close() is
// graceful: it stops listening at once (new connections are refused), answers requests arriving on open
// connections 503, lets every batch already taken finish and be answered, then closes the connections and the
// upstream pools. abort() cancels the items in flight as well.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Transport } from '../engine/types.js';
import { handleBatch, type BatchOutcome } from './batch.js';
import { ClientClosed } from './body.js';
import { Gateway, type GatewayOptions } from './gateway.js';
import type { Endpoint } from './metrics.js';
import { ODataEndpoint, type ODataOutcome } from './odata.js';
import { errorBody, HttpError, sendError, sendJson } from './reply.js';
import { createTransport, transportConfigOf } from '../transport/index.js';

export interface BatchServerOptions extends GatewayOptions {
  host: string;
  /** 0: any free port (see BatchServer.url). */
  port: number;
  /** Sends the items; default: undici pools (UndiciTransport). */
  transport?: Transport;
  /** One line per batch (no newline); default: none. */
  log?: (line: string) => void;
}

export interface BatchServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  readonly gateway: Gateway;
  /** Graceful and idempotent: refuse new work, finish the batches taken, close everything. */
  close(): Promise<void>;
  /** Cancels the items in flight (their batches are not answered) and closes everything. */
  abort(): Promise<void>;
}

const ROUTES = 'POST /batch, POST /$batch (or any path ending in /$batch), GET /healthz and GET /metrics';

export async function startBatchServer(o: BatchServerOptions): Promise<BatchServer> {
  const transport = o.transport ?? createTransport(transportConfigOf(o.run));
  const gw = new Gateway(o, transport);
  const odata = new ODataEndpoint(gw);
  const log = o.log ?? (() => {});
  let draining = false;

  const batch = (
    endpoint: Endpoint,
    req: IncomingMessage,
    res: ServerResponse,
    work: (taken: () => void) => Promise<BatchOutcome | ODataOutcome>,
  ) => {
    const t0 = performance.now();
    let taken = false;
    const onTaken = () => {
      taken = true;
      gw.metrics.batchStarted(endpoint);
    };
    const answered = work(onTaken).then(
      (outcome) => {
        gw.metrics.batchAnswered(endpoint, outcome.cut === null ? 200 : 499, taken);
        const cut = outcome.cut === null ? '' : `; ${outcome.cut}`;
        log(
          `${head(req, outcome.cut === null ? 200 : 499, t0)}: ${outcome.items} item${outcome.items === 1 ? '' : 's'}, ${outcome.ok} ok, ${outcome.failed} failed${cut}`,
        );
      },
      (err: unknown) => {
        if (err instanceof HttpError) {
          // A refused body may still be arriving: answer, then close rather than read the rest.
          if (err.status === 413) res.setHeader('connection', 'close');
          sendError(res, err);
          gw.metrics.batchAnswered(endpoint, err.status, taken);
          log(`${head(req, err.status, t0)}: ${err.code} ${err.message}`);
        } else if (err instanceof ClientClosed) {
          gw.metrics.batchAnswered(endpoint, 499, taken);
          log(`${head(req, 499, t0)}: ${err.message}`);
        } else {
          if (!res.headersSent)
            sendJson(res, 500, JSON.stringify(errorBody('INTERNAL_ERROR', String((err as Error)?.message ?? err))));
          else res.destroy();
          gw.metrics.batchAnswered(endpoint, 500, taken);
          log(`${head(req, 500, t0)}: internal error: ${(err as Error)?.stack ?? String(err)}`);
        }
      },
    );
    // A batch counts as done once its answer has left (or the connection is gone): what close() waits for.
    void gw.track(
      answered.then(() =>
        res.writableFinished || res.destroyed ? undefined : new Promise((r) => res.once('close', r)),
      ),
    );
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url ?? '/');
    const method = req.method ?? 'GET';
    if (draining) {
      res.setHeader('connection', 'close');
      return sendError(
        res,
        new HttpError(
          503,
          'SHUTTING_DOWN',
          'the server is shutting down: batches already taken finish, new ones are refused',
        ),
      );
    }
    const isBatch = path === '/batch';
    const isOData = path === '/$batch' || path.endsWith('/$batch');
    if (isBatch || isOData) {
      if (method !== 'POST')
        return sendError(
          res,
          new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${path}: batches are POSTed`, { allow: 'POST' }),
        );
      if (isBatch) return batch('batch', req, res, (taken) => handleBatch(req, res, gw, taken));
      return batch('odata', req, res, (taken) => odata.handle(req, res, path, taken));
    }
    if (path === '/healthz' || path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD')
        return sendError(
          res,
          new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${path}: use GET`, { allow: 'GET, HEAD' }),
        );
      if (path === '/healthz') {
        return sendJson(
          res,
          200,
          JSON.stringify({ status: 'ok', batchesInFlight: gw.batchesInProgress, itemsInFlight: gw.stats.inFlight }),
        );
      }
      return void gw.metrics.text().then(
        (text) => {
          res.writeHead(200, {
            'content-type': gw.metrics.contentType,
            'content-length': String(Buffer.byteLength(text)),
          });
          res.end(method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => sendJson(res, 500, JSON.stringify(errorBody('INTERNAL_ERROR', String(err)))),
      );
    }
    sendError(res, new HttpError(404, 'NOT_FOUND', `no endpoint ${method} ${path}: serve answers ${ROUTES}`));
  };

  const server: Server = createServer(handler);
  // A body is read only once it is known to fit (readBody answers 100-continue itself).
  server.on('checkContinue', handler);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | null = null;
  const shutDown = (hard: boolean): Promise<void> => {
    draining = true;
    if (hard) gw.abort();
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await gw.drain();
      server.closeAllConnections();
      await stopped;
      await gw.close();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    gateway: gw,
    close: () => shutDown(false),
    abort: () => shutDown(true),
  };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function head(req: IncomingMessage, status: number, t0: number): string {
  const ms = performance.now() - t0;
  return `batchpost: ${req.socket.remoteAddress ?? '-'} ${req.method} ${req.url} ${status} in ${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
}
