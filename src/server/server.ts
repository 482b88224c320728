// The HTTP server of `batchpost serve` (node:http): routes, one log line per batch, and the lifecycle. close() is
// graceful: it stops listening at once (new connections are refused), answers requests arriving on open
// connections 503, lets every batch already taken finish and be answered, then closes the connections and the
// upstream pools. abort() cancels the items in flight as well.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Transport } from '../engine/types.js';
import { handleBatch, type BatchOutcome } from './batch.js';
import { ClientClosed, requestTimedOut } from './body.js';
import { Gateway, type GatewayOptions } from './gateway.js';
import type { Endpoint } from './metrics.js';
import { ODataEndpoint, type ODataOutcome } from './odata.js';
import { errorBody, HttpError, sendError, sendJson } from './reply.js';
import { createTransport, transportConfigOf } from '../transport/index.js';
import { redactUrls } from '../util/redact.js';

export interface BatchServerOptions extends GatewayOptions {
  host: string;
  /** 0: any free port (see BatchServer.url). */
  port: number;
  /** Sends the items; default: createTransport with the run's TransportConfig, redirects kept on --url's origin. */
  transport?: Transport;
  /** One line per batch (no newline); default: none. */
  log?: (line: string) => void;
  /** Where the upstream proxies and the client key's passphrase are read; default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** More routes (serve --jobs: /v1): true when it took the request. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
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
  // -L follows redirects on --url's origin only: one elsewhere would send items to a host the operator never
  // allowed (the 3xx is then the item's answer).
  const gw = new Gateway(
    o,
    o.transport ?? ((origin) => createTransport({ ...transportConfigOf(o.run, o.env), redirectOrigin: origin })),
  );
  const log = o.log;
  // Every line: the request's URL, and messages quoting a caller's URLs, lose their secret query parameters.
  const routes = new Routes(gw, log === undefined ? () => {} : (line) => log(redactUrls(line)), o.extraRoutes);
  const timeoutMs = gw.requestTimeoutMs;
  // Headers must arrive within --request-timeout (node answers 408 through clientError below); the body gets as
  // long again once its handler runs (readBody), and node's own whole-request limit is only a backstop past both.
  const server: Server = createServer(
    {
      headersTimeout: timeoutMs,
      requestTimeout: 2 * timeoutMs + 1000,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(timeoutMs / 4))),
    },
    routes.handle,
  );
  // A body is read only once it is known to fit (readBody answers 100-continue itself).
  server.on('checkContinue', routes.handle);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return void socket.end(rawError(requestTimedOut(timeoutMs)));
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  await listen(server, o.port, o.host);
  server.on('error', () => {});
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | null = null;
  const shutDown = (hard: boolean): Promise<void> => {
    routes.draining = true;
    closing ??= closeServer(server, gw);
    if (hard) {
      gw.abort();
      // Bodies still arriving (slow uploads) end with their connections: nothing is left to wait for.
      server.closeAllConnections();
    }
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

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening, lets the batches taken be answered, then closes the connections and the gateway. */
async function closeServer(server: Server, gw: Gateway): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await gw.drain();
  server.closeAllConnections();
  await stopped;
  await gw.close();
}

type BatchWork = (taken: () => void) => Promise<BatchOutcome | ODataOutcome>;

/** Every request the server answers: the two batch endpoints, health and metrics, and the refusals. */
class Routes {
  /** Set once close() or abort() is called: requests still arriving on open connections are answered 503. */
  draining = false;
  private readonly odata: ODataEndpoint;

  constructor(
    private readonly gw: Gateway,
    private readonly log: (line: string) => void,
    private readonly extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
  ) {
    this.odata = new ODataEndpoint(gw);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url ?? '/');
    const method = req.method ?? 'GET';
    if (this.draining) {
      res.setHeader('connection', 'close');
      return sendError(res, new HttpError(503, 'SHUTTING_DOWN', SHUTTING_DOWN));
    }
    if (this.extra?.(req, res) === true) return;
    const isBatch = path === '/batch';
    if (isBatch || path === '/$batch' || path.endsWith('/$batch')) {
      if (method !== 'POST') return sendError(res, notAllowed(`${method} ${path}: batches are POSTed`, 'POST'));
      if (isBatch) return this.batch('batch', req, res, (taken) => handleBatch(req, res, this.gw, taken));
      return this.batch('odata', req, res, (taken) => this.odata.handle(req, res, path, taken));
    }
    if (path === '/healthz' || path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD')
        return sendError(res, notAllowed(`${method} ${path}: use GET`, 'GET, HEAD'));
      return path === '/healthz' ? this.health(res) : this.metrics(res, method === 'HEAD');
    }
    sendError(res, new HttpError(404, 'NOT_FOUND', `no endpoint ${method} ${path}: serve answers ${ROUTES}`));
  };

  /** Runs one batch, counts it and logs one line for it, and keeps track of it until its answer has left. */
  private batch(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse, work: BatchWork): void {
    const t0 = performance.now();
    let taken = false;
    const onTaken = () => {
      taken = true;
      this.gw.metrics.batchStarted(endpoint);
    };
    const answered = work(onTaken).then(
      (outcome) => {
        const status = outcome.cut === null ? 200 : 499;
        this.gw.metrics.batchAnswered(endpoint, status, taken);
        const cut = outcome.cut === null ? '' : `; ${outcome.cut}`;
        const items = `${outcome.items} item${outcome.items === 1 ? '' : 's'}`;
        this.log(`${head(req, status, t0)}: ${items}, ${outcome.ok} ok, ${outcome.failed} failed${cut}`);
      },
      (err: unknown) => this.failed(endpoint, taken, req, res, err, t0),
    );
    // A batch counts as done once its answer has left (or the connection is gone): what close() waits for.
    void this.gw.track(
      answered.then(() =>
        res.writableFinished || res.destroyed ? undefined : new Promise((r) => res.once('close', r)),
      ),
    );
  }

  /** A batch that failed as a whole: answered (when the connection still allows), counted and logged. */
  private failed(
    endpoint: Endpoint,
    taken: boolean,
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    t0: number,
  ): void {
    if (err instanceof HttpError) {
      // A refused body may still be arriving: answer, then close rather than read the rest.
      if (err.status === 413 || err.status === 408) res.setHeader('connection', 'close');
      sendError(res, err);
      this.gw.metrics.batchAnswered(endpoint, err.status, taken);
      this.log(`${head(req, err.status, t0)}: ${err.code} ${err.message}`);
    } else if (err instanceof ClientClosed) {
      this.gw.metrics.batchAnswered(endpoint, 499, taken);
      this.log(`${head(req, 499, t0)}: ${err.message}`);
    } else {
      if (!res.headersSent)
        sendJson(res, 500, JSON.stringify(errorBody('INTERNAL_ERROR', String((err as Error)?.message ?? err))));
      else res.destroy();
      this.gw.metrics.batchAnswered(endpoint, 500, taken);
      this.log(`${head(req, 500, t0)}: internal error: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private health(res: ServerResponse): void {
    const gw = this.gw;
    const body = { status: 'ok', batchesInFlight: gw.batchesInProgress, itemsInFlight: gw.stats.inFlight };
    sendJson(res, 200, JSON.stringify(body));
  }

  private metrics(res: ServerResponse, headOnly: boolean): void {
    void this.gw.metrics.text().then(
      (text) => {
        res.writeHead(200, {
          'content-type': this.gw.metrics.contentType,
          'content-length': String(Buffer.byteLength(text)),
        });
        res.end(headOnly ? undefined : text);
      },
      (err: unknown) => sendJson(res, 500, JSON.stringify(errorBody('INTERNAL_ERROR', String(err)))),
    );
  }
}

const SHUTTING_DOWN = 'the server is shutting down: batches already taken finish, new ones are refused';

/** A refusal written straight to a socket that has no request object (node's clientError). */
function rawError(err: HttpError): string {
  const body = JSON.stringify(errorBody(err.code, err.message));
  const reason = err.status === 408 ? 'Request Timeout' : 'Bad Request';
  return `HTTP/1.1 ${err.status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function notAllowed(message: string, allow: string): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', message, { allow });
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
  return `batchpost: ${req.socket.remoteAddress ?? '-'} ${req.method} ${redactUrls(req.url ?? '')} ${status} in ${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`;
}
