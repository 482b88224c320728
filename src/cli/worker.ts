// `batchpost worker`: sends the requests of distributed runs (`batchpost run --queue …`), on any number of
// machines. A ready line on stderr, a line when it takes up or finishes a run, graceful SIGTERM: a first signal
// lets the requests being sent finish and hands the rest of its jobs back to the queue; a second cancels those in
// flight too and hands them back.
import type { Command } from 'commander';
import { BatchpostError } from '../engine/errors.js';
import type { Redis } from 'ioredis';
import type { WorkerPool } from '../queue/index.js';
import { errorText } from './errors.js';
import { QUEUE_ENV, queueOptionName, queueSourceOf } from '../queue/source.js';
import { EXIT } from './exit.js';
import { onStopSignals, type CliIO, type CommandHost, type SignalSource } from './io.js';
import type { FlagsOf } from '../options/types.js';
import { addOptions } from './options.js';
import { parseDuration, parsePositiveInt } from './parse.js';

export type WorkerFlags = FlagsOf<'worker'>;

export function addWorkerCommand(program: Command, host: CommandHost): void {
  const cmd = program
    .command('worker')
    .description(
      'send the requests of distributed runs (batchpost run --queue redis://…); run as many as you like, anywhere',
    );
  addOptions(cmd, 'worker')
    .addHelpText(
      'after',
      "\n--rate is the run's, shared by every worker (BullMQ's limiter). Docs: docs/distributed.md. Example:\n" +
        '  batchpost run orders.ndjson --url https://api.example.com/orders --queue redis://10.0.0.5:6379 --out results.ndjson\n' +
        '  batchpost worker --queue redis://10.0.0.5:6379        # on each machine that sends\n',
    )
    .action(async (flags: WorkerFlags) => host.exit(await workerCommand(flags, host.io)));
}

export async function workerCommand(
  flags: WorkerFlags,
  io: Pick<CliIO, 'stderr' | 'signals' | 'env'>,
): Promise<number> {
  const source = queueSourceOf(flags.queue, io.env);
  if (source === null)
    throw new BatchpostError('USAGE', `worker needs --queue redis://HOST:PORT, or the URL in ${QUEUE_ENV}`);
  // Loaded here, not at the top: BullMQ is slow to load (docs/benchmarks.md), and other commands should not pay it.
  const { checkRedisUrl, closeRedis, connectRedis, queueNameOf, redactUrl, WorkerPool } =
    await import('../queue/index.js');
  const url = source.url;
  checkRedisUrl(url, queueOptionName(source));
  const queueName = flags.queueName === undefined ? null : queueNameOf(flags.queueName, '');
  const concurrency = flags.concurrency === undefined ? null : parsePositiveInt(flags.concurrency, '--concurrency');
  const stallTimeoutMs = parseDuration(flags.stallTimeout, '--stall-timeout');
  if (stallTimeoutMs < 500)
    throw new BatchpostError(
      'USAGE',
      `--stall-timeout ${flags.stallTimeout}: at least 500ms (locks are renewed at half of it)`,
    );
  const err = io.stderr;
  const log = flags.quiet ? () => {} : (line: string) => void err.write(line + '\n');
  let down = false;
  const redis = await connectRedis(url, 'batchpost-worker', (up, why) => {
    if (!up && !down) err.write(`batchpost worker: Redis unreachable${why ? ` (${why})` : ''}; reconnecting\n`);
    else if (up && down) err.write('batchpost worker: Redis is back\n');
    down = !up;
  });
  try {
    // A failure told before untilStopped listens waits for it.
    let early: BatchpostError | null = null;
    let fatal: (err: BatchpostError) => void = (e) => (early ??= e);
    const onFatal = (e: BatchpostError) => fatal(e);
    const pool = new WorkerPool({ redis, queueName, concurrency, stallTimeoutMs, log, onFatal, env: io.env });
    const jobs = await startServing(url, redis, pool, queueName, async () => {
      const { startJobSender, checkNamespace } = await import('../jobs/index.js');
      return startJobSender(url, checkNamespace(flags.jobsNamespace), concurrency, stallTimeoutMs, log, onFatal);
    });
    const what = queueName === null ? 'every run' : `queue ${queueName}`;
    log(
      `batchpost worker: ${pool.id} serving ${what} on ${redactUrl(url)}${concurrency === null ? '' : `, ${concurrency} in flight per run`}`,
    );
    const code = await untilStopped(
      pool,
      io.signals,
      log,
      (stop) => {
        fatal = stop;
        if (early !== null) stop(early);
      },
      err,
    );
    // Bounded: after QUEUE_UNAVAILABLE the jobs sender's commands wait on a Redis that does not answer.
    await Promise.race([jobs.close(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    const t = pool.totals;
    log(`batchpost worker: stopped; sent ${t.sent} request${t.sent === 1 ? '' : 's'} (${t.ok} ok, ${t.failed} failed)`);
    return code;
  } finally {
    await closeRedis(redis);
  }
}

/**
 * The pool's first look for runs, then the sender of batch jobs: given up when Redis stops answering meanwhile
 * (nothing else watches it yet), with QUEUE_UNAVAILABLE naming the step and where Redis is.
 */
async function startServing(
  url: string,
  redis: Redis,
  pool: WorkerPool,
  queueName: string | null,
  startJobs: () => Promise<Closable>,
): Promise<Closable> {
  const { hostOf, whileAnswering } = await import('../queue/index.js');
  let doing = 'the worker was connecting';
  const steps = async () => {
    await redis.ping();
    doing =
      queueName === null ? 'the worker was looking for runs to serve' : `the worker was reading queue ${queueName}`;
    await pool.start();
    doing = 'the worker was starting the sender of batch jobs';
    return startJobs();
  };
  const hint = `Check that Redis at ${hostOf(url)} is up and answering, then start the worker again.`;
  try {
    return await whileAnswering(redis, url, () => doing, steps(), hint);
  } catch (err) {
    pool.returnJobs();
    void pool.stop();
    throw err;
  }
}

interface Closable {
  close(): Promise<void>;
}

/**
 * Works until SIGTERM or SIGINT: the first lets the requests in flight finish and hands the rest back to the
 * queue (exit 0), the next hands back those in flight too (exit 130).
 */
async function untilStopped(
  pool: WorkerPool,
  signals: SignalSource,
  log: (line: string) => void,
  onFatal: (stop: (err: BatchpostError) => void) => void,
  stderr: CliIO['stderr'],
): Promise<number> {
  let count = 0;
  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finished = resolve));
  // A run's --auth-command failed: this worker cannot send its requests; they go back to the queue.
  let failed = false;
  onFatal((err) => {
    if (failed) return;
    failed = true;
    if (err.code === 'QUEUE_UNAVAILABLE') {
      // Redis does not answer: a graceful stop would wait on it for ever. Requests in flight are cancelled (their
      // results could not be stored); the jobs go back to the queue when their locks expire.
      stderr.write(errorText(err.code, err.message, err.hint));
      pool.returnJobs();
      void pool.stop();
      return finished(err.exitCode);
    }
    stderr.write(errorText('AUTH_COMMAND_FAILED', err.message, 'Fix the command; its jobs go back to the queue.'));
    void pool.stop().then(() => finished(EXIT.FAILED));
  });
  const unsubscribe = onStopSignals(signals, (signal) => {
    count++;
    if (count === 1) {
      const n = pool.inFlight;
      log(
        `batchpost worker: ${signal}: stopping — ${n} request${n === 1 ? '' : 's'} in flight will finish, the rest go back to the queue (send it again to hand those back too)`,
      );
      void pool.stop().then(() => finished(count > 1 ? EXIT.INTERRUPTED : EXIT.OK));
    } else {
      log(`batchpost worker: ${signal} again: handing the requests in flight back to the queue`);
      pool.returnJobs();
    }
  });
  try {
    return await done;
  } finally {
    unsubscribe();
  }
}
