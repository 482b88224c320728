// Who sends a run's requests: the workers of a distributed run (--queue), sender threads (--threads), or this
// thread through connections of its own.
import type { AuthRefresher } from '../../engine/auth.js';
import type { ResolvedOptions } from '../../engine/options.js';
import type { SenderFactory } from '../../engine/run.js';
import { Sender } from '../../engine/sender.js';
import { senderConfigOf } from '../../engine/sender-config.js';
import type { OnAttempt, Transport } from '../../engine/types.js';
import type { QueueRun } from '../../queue/index.js';
import { queueSourceOf } from '../../queue/source.js';
import { ThreadedSender, threadsFor } from '../../threads/index.js';
import {
  checkTransportConfig,
  createTransport,
  transportConfigOf,
  type TransportConfig,
} from '../../transport/index.js';
import type { Env } from '../../transport/config.js';
import type { RunFlags, RunSetup } from '../run-options.js';

/** Null without --queue or BATCHPOST_QUEUE (or --queue-name, refused without them). */
export async function openQueue(
  flags: RunFlags,
  setup: RunSetup,
  options: ResolvedOptions,
  note: (message: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<QueueRun | null> {
  if (flags.queue === undefined && flags.queueName === undefined && queueSourceOf(undefined, env) === null) return null;
  // Loaded only for --queue: BullMQ is slow to load (docs/benchmarks.md), and a local run should not pay it.
  const { openQueueRun } = await import('../../queue/index.js');
  return openQueueRun(flags, options, { resume: setup.resume !== null, note, env });
}

export type SendDeps =
  | { transport: Transport; sender?: undefined; auth: AuthRefresher | null }
  | { transport?: undefined; sender: SenderFactory };

export interface Senders {
  /** For the Run's deps. */
  readonly deps: SendDeps;
  /** The sender threads, once the Run has made them (it hands over its live stats); null without threads. */
  readonly threads: ThreadedSender | null;
  /** Why the queue stopped the run (QUEUE_LOST, QUEUE_UNAVAILABLE), else null. */
  readonly queueFailure: Error | null;
  /** Closes the connections, waits for the threads to exit, releases the queue. */
  close(): Promise<void>;
}

/**
 * `env`: where the proxies and the client key's passphrase are read (the command's environment). `onAttempt`
 * (--trace) needs every attempt seen where it happens, and request lines carry their own retry policy (their
 * method), which only this thread's Sender takes: the requests are then sent from this thread, whatever --threads
 * says (--queue is refused with both). `auth`: --auth-command's headers, for this thread's Sender or the threads.
 */
export function chooseSenders(
  queue: QueueRun | null,
  setup: RunSetup,
  options: ResolvedOptions,
  env: Env,
  extra: { onAttempt?: OnAttempt; auth?: AuthRefresher | null } = {},
): Senders {
  const { onAttempt, auth = null } = extra;
  const mainThreadOnly = onAttempt !== undefined || options.inputKind === 'requests';
  const threadCount = queue === null && !mainThreadOnly ? threadsFor(setup.threads, options.concurrency) : 0;
  let threads: ThreadedSender | null = null;
  const connect: TransportConfig = transportConfigOf(options, env);
  // Certificates that do not work stop the run before anything is queued or sent; only an encrypted key whose
  // passphrase is not here is left to the workers, which read theirs from their own environment.
  const keyElsewhere =
    queue !== null && connect.tls?.passphrase === undefined && /ENCRYPTED/.test(connect.tls?.key ?? '');
  if (!keyElsewhere) checkTransportConfig(connect);
  const transport = queue === null && threadCount === 0 ? createTransport(connect) : null;
  let deps: SendDeps;
  if (transport !== null && onAttempt !== undefined)
    deps = { sender: (o, stats) => new Sender({ ...o, onAttempt, auth }, transport, stats) };
  else if (transport !== null) deps = { transport, auth };
  else if (queue !== null) deps = { sender: queue.sender };
  else
    deps = {
      sender: (_, stats) =>
        (threads = new ThreadedSender(senderConfigOf(options), connect, threadCount, stats, undefined, auth)),
    };
  return {
    deps,
    get threads() {
      return threads;
    },
    get queueFailure() {
      return queue?.failure ?? null;
    },
    async close() {
      await transport?.close();
      await threads?.exited();
      await queue?.close();
    },
  };
}
