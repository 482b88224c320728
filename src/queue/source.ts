// Where a run or a worker finds its Redis: --queue, else the BATCHPOST_QUEUE environment variable, which keeps a
// password out of `ps` and shell history. And how the commands batchpost prints for the user name that Redis.
import { redactUrls } from '../util/redact.js';

/** The environment variable read when --queue is not given. */
export const QUEUE_ENV = 'BATCHPOST_QUEUE';

export interface QueueSource {
  url: string;
  /** Taken from BATCHPOST_QUEUE: printed commands leave it out, and need the variable set. */
  fromEnv: boolean;
}

/** --queue, else BATCHPOST_QUEUE (when not empty), else null. */
export function queueSourceOf(flag: string | undefined, env: NodeJS.ProcessEnv): QueueSource | null {
  if (flag !== undefined) return { url: flag, fromEnv: false };
  const url = env[QUEUE_ENV];
  return url ? { url, fromEnv: true } : null;
}

/** What a message calls the setting: the flag, or the variable. */
export function queueOptionName(s: QueueSource): string {
  return s.fromEnv ? QUEUE_ENV : '--queue';
}

/**
 * The command that starts a worker for a queue, and a line after it when it cannot be pasted as is: a URL from
 * BATCHPOST_QUEUE is left out (the worker reads it from there), a password in --queue is shown as <hidden>.
 */
export function workerCommandOf(s: QueueSource, queueName: string, quote: (word: string) => string): string {
  const words = ['batchpost', 'worker', ...(s.fromEnv ? [] : ['--queue', redactUrls(s.url, '<hidden>')])];
  const command = [...words, '--queue-name', queueName].map(quote).join(' ');
  if (s.fromEnv) return `${command}\n  (with ${QUEUE_ENV} set to the same Redis URL)`;
  if (command.includes('<hidden>'))
    return `${command}\n  The Redis password is shown as <hidden>: put it back, or set ${QUEUE_ENV} instead of --queue.`;
  return command;
}
