// `batchpost serve`: the same engine behind an HTTP endpoint. One request carries many payloads (POST /batch) or
// OData/Microsoft Graph sub-requests (POST /$batch); each is sent as `run` sends it, and the answer holds one
// response per item. Its flags, run's request flags among them, come from the option table; this file holds where
// to listen, the limits, and the process's life: a ready line on stderr, one line per batch, graceful SIGTERM.
import type { Command } from 'commander';
import { BatchpostError } from '../engine/errors.js';
import { resolveOptions, type ResolvedOptions } from '../engine/options.js';
import { formatBytes, parseBytes } from '../server/body.js';
import { DEFAULT_INHERITED, headerProblem, isHopByHop } from '../server/headers.js';
import type { BatchServer } from '../server/server.js';
import { startAuth, type CliAuth } from './auth.js';
import { errorText } from './errors.js';
import { EXIT } from './exit.js';
import { onStopSignals, type CliIO, type CommandHost } from './io.js';
import { parseDuration, parsePositiveInt } from './parse.js';
import type { FlagsOf } from '../options/types.js';
import { toRunOptions } from '../options/values.js';
import { addOptions } from './options.js';
import { redactUrls } from '../util/redact.js';
import { INSECURE_WARNING } from '../transport/index.js';
import type { JobsService } from '../jobs/index.js';
import { openJobs } from './serve-jobs.js';

export type ServeFlags = FlagsOf<'serve'>;

export function addServeCommand(program: Command, host: CommandHost): void {
  const cmd = program
    .command('serve')
    .description(
      'answer batches over HTTP: POST /batch (a JSON array or NDJSON of payloads, each sent as run sends it) and ' +
        'POST /$batch (the OData JSON batch format of Microsoft Graph); one response per item',
    );
  addOptions(cmd, 'serve')
    .addHelpText(
      'after',
      '\n--concurrency and --rate hold for the whole server, shared by every batch; waiting batches are served in the\n' +
        'order each would finish alone, so batches of a size go first come, first served and a small one is not stuck\n' +
        'behind a large one.\n' +
        'Docs: docs/serve.md. Example:\n' +
        '  batchpost serve --url https://api.example.com/orders --port 8080\n' +
        '  curl -s localhost:8080/batch -H \'content-type: application/json\' -d \'[{"sku":"A"},{"sku":"B"}]\'\n',
    )
    .action(async (flags: ServeFlags) => host.exit(await serveCommand(flags, host.io)));
}

export async function serveCommand(flags: ServeFlags, io: Pick<CliIO, 'stderr' | 'signals' | 'env'>): Promise<number> {
  const run = resolveOptions({ ...toRunOptions('serve', flags), runId: 'serve' });
  const limits = serveLimits(flags);
  const auth = await startAuth(run);
  let jobs: JobsService | null = null;
  let server: BatchServer;
  try {
    jobs = await openJobs(flags, run, io, auth?.refresher ?? null);
    server = await listen(flags, run, limits, io, auth, jobs);
  } catch (err) {
    auth?.close();
    await jobs?.close();
    throw err;
  }
  jobs?.registerMetrics(server.gateway.metrics.registry);
  const pace = `max ${run.concurrency} in flight${run.rate === null ? '' : `, ${run.rate}/s`}`;
  const sizes = `batches up to ${limits.maxItems} items, ${formatBytes(limits.maxBytes)}`;
  io.stderr.write(
    `batchpost: serving on ${server.url} → ${redactUrls(run.url)} (POST /batch, POST /$batch${jobs === null ? '' : ', /v1 batch jobs'}; ${pace}; ${sizes})\n`,
  );
  try {
    return await untilStopped(server, io, limits.shutdownTimeoutMs, auth);
  } finally {
    auth?.close();
    await jobs?.close();
  }
}

interface ServeLimits {
  port: number;
  maxItems: number;
  maxBytes: number;
  /** Caller headers the items inherit, lower-case. */
  inherit: Set<string>;
  /** Headers, then the body, must each arrive within this long (ms). */
  requestTimeoutMs: number;
  /** After the first signal, the longest wait for the batches in progress (ms). */
  shutdownTimeoutMs: number;
}

function serveLimits(flags: ServeFlags): ServeLimits {
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port.trim()) || port > 65535)
    throw new BatchpostError('USAGE', `--port "${flags.port}": expected a port number from 0 to 65535`);
  const maxBytes = parseBytes(flags.maxBytes);
  if (maxBytes === null)
    throw new BatchpostError(
      'USAGE',
      `--max-bytes "${flags.maxBytes}": expected a size such as 512kb, 10mb or 1048576`,
    );
  const inherit = new Set(DEFAULT_INHERITED);
  for (const name of flags.inheritHeader) inherit.add(inheritedHeader(name));
  return {
    port,
    maxItems: parsePositiveInt(flags.maxItems, '--max-items'),
    maxBytes,
    inherit,
    requestTimeoutMs: parseDuration(flags.requestTimeout, '--request-timeout'),
    shutdownTimeoutMs: parseDuration(flags.shutdownTimeout, '--shutdown-timeout'),
  };
}

/** An --inherit-header name, lower-case; refused when it names the batch request itself. */
function inheritedHeader(name: string): string {
  const lower = name.trim().toLowerCase();
  if (headerProblem(lower, '') !== null)
    throw new BatchpostError('USAGE', `--inherit-header "${name}": expected a header name such as X-Tenant`);
  if (isHopByHop(lower) || lower === 'content-type' || lower === 'idempotency-key') {
    throw new BatchpostError(
      'USAGE',
      `--inherit-header ${name}: this header describes the batch request itself and is never passed on to its items`,
    );
  }
  return lower;
}

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use',
  EADDRNOTAVAIL: 'not an address of this machine',
  EACCES: 'permission denied',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
};

async function listen(
  flags: ServeFlags,
  run: ResolvedOptions,
  limits: ServeLimits,
  io: Pick<CliIO, 'stderr' | 'env'>,
  auth: CliAuth | null,
  jobs: JobsService | null,
): Promise<BatchServer> {
  // Loaded here, not at start-up: a `run` should not pay for the server's modules (prom-client, http server).
  const { startBatchServer } = await import('../server/server.js');
  const { port, maxItems, maxBytes, inherit, requestTimeoutMs } = limits;
  const log = flags.quiet ? undefined : (line: string) => void io.stderr.write(line + '\n');
  try {
    if (run.insecure) io.stderr.write(`batchpost: ${INSECURE_WARNING}\n`);
    const gateway = { run, maxItems, maxBytes, inherit, requestTimeoutMs, auth: auth?.refresher ?? null };
    const extraRoutes = jobs === null ? undefined : jobs.handle;
    return await startBatchServer({ ...gateway, host: flags.host, port, log, env: io.env, extraRoutes });
  } catch (e) {
    const why = LISTEN_ERRORS[(e as NodeJS.ErrnoException).code ?? ''];
    if (why === undefined) throw e;
    throw new BatchpostError(
      'LISTEN_FAILED',
      `cannot listen on ${flags.host}:${port}: ${why}`,
      'Pick another --port (0 picks a free one) or --host.',
    );
  }
}

/**
 * Serves until SIGTERM or SIGINT: the first closes the server gracefully (exit 0 once the batches in progress are
 * answered, or 130 when they are not within `graceMs` and are aborted), the next aborts them at once (exit 130).
 */
async function untilStopped(
  server: BatchServer,
  io: Pick<CliIO, 'stderr' | 'signals'>,
  graceMs: number,
  auth: CliAuth | null,
): Promise<number> {
  const err = io.stderr;
  let aborted = false;
  let grace: NodeJS.Timeout | null = null;
  let stopped: () => void = () => {};
  const done = new Promise<number>((resolve) => {
    stopped = () => resolve(aborted ? EXIT.INTERRUPTED : auth?.failure ? EXIT.FAILED : EXIT.OK);
  });
  const abort = (why: string) => {
    if (aborted) return;
    aborted = true;
    err.write(`batchpost: ${why}: aborting the requests in flight; their batches are not answered\n`);
    void server.abort().then(stopped);
  };
  // Without fresh headers every upstream call would be refused: the server stops as on SIGTERM, and says why.
  auth?.onFailure((failure) => {
    err.write(errorText('AUTH_COMMAND_FAILED', failure.message, 'Fix the command, then start serve again.'));
    void server.close().then(stopped);
  });
  let signals = 0;
  const unsubscribe = onStopSignals(io.signals, (signal) => {
    if (++signals > 1) return abort(`${signal} again`);
    const n = server.gateway.batchesInProgress;
    const limit = formatDuration(graceMs);
    err.write(
      `batchpost: ${signal}: stopping — no new connections; ${n} batch${n === 1 ? '' : 'es'} in progress will finish within ${limit} (send it again to abort them)\n`,
    );
    grace = setTimeout(() => abort(`the shutdown timeout (${limit}) passed`), graceMs);
    void server.close().then(() => {
      if (aborted) return;
      err.write('batchpost: stopped\n');
      stopped();
    });
  });
  try {
    return await done;
  } finally {
    if (grace !== null) clearTimeout(grace);
    unsubscribe();
  }
}

/** "30s", "1.5s", "500ms", "2m". */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
