// Who sends a run's requests: the workers of a distributed run (--queue), sender threads (--threads), or this
// thread through connections of its own.
import type { ResolvedOptions } from '../../engine/options.js';
import type { SenderFactory } from '../../engine/run.js';
import { senderConfigOf } from '../../engine/sender-config.js';
import type { Transport } from '../../engine/types.js';
import type { QueueRun } from '../../queue/index.js';
import { queueSourceOf } from '../../queue/source.js';
import { ThreadedSender, threadsFor } from '../../threads/index.js';
import { createTransport, transportConfigOf } from '../../transport/index.js';
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

export type SendDeps = { transport: Transport; sender?: undefined } | { transport?: undefined; sender: SenderFactory };

export interface Senders {
  /** For the Run's deps. */
  readonly deps: SendDeps;
  /** The sender threads, once the Run has made them (it hands over its live stats); null without threads. */
  readonly threads: ThreadedSender | null;
  /** Why the queue stopped the run (QUEUE_LOST), else null. */
  readonly queueFailure: Error | null;
  /** Closes the connections, waits for the threads to exit, releases the queue. */
  close(): Promise<void>;
}

export function chooseSenders(queue: QueueRun | null, setup: RunSetup, options: ResolvedOptions): Senders {
  const threadCount = queue === null ? threadsFor(setup.threads, options.concurrency) : 0;
  let threads: ThreadedSender | null = null;
  const transport = queue === null && threadCount === 0 ? ownTransport(options) : null;
  let deps: SendDeps;
  if (transport !== null) deps = { transport };
  else if (queue !== null) deps = { sender: queue.sender };
  else
    deps = {
      sender: (_, stats) =>
        (threads = new ThreadedSender(senderConfigOf(options), transportConfigOf(options), threadCount, stats)),
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

/** Only a run that sends from this thread needs connections of its own. */
function ownTransport(options: ResolvedOptions): Transport {
  return createTransport(transportConfigOf(options));
}
