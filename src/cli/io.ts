// What a command touches of the process, handed to it rather than reached for: the standard streams, the stop
// signals and the environment. The program passes the process's own (processIO); a test passes streams it reads
// and a signal source it fires, and runs a command in its own process.
import type { ProgressStream } from '../progress/index.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';
export type StopListener = (signal: StopSignal) => void;

/** Where SIGINT and SIGTERM come from: the process, or an EventEmitter in a test. */
export interface SignalSource {
  on(signal: StopSignal, listener: StopListener): unknown;
  off(signal: StopSignal, listener: StopListener): unknown;
}

/** A stream a command writes text to; a terminal says so with isTTY (and its width in columns). */
export type OutputStream = ProgressStream;

export interface CliIO {
  /** The payloads of `run -`. */
  stdin: NodeJS.ReadableStream & { destroy(): void };
  /** Results (`run` without --out), dry-run requests, help and version. */
  stdout: OutputStream;
  /** Everything said to the user: progress, summaries, errors. */
  stderr: OutputStream;
  signals: SignalSource;
  /** Read for NO_COLOR and TERM. */
  env: Readonly<Record<string, string | undefined>>;
}

export function processIO(): CliIO {
  // Progress and messages are for a person: when nobody reads them any more (stderr closed, `2>&1 >out | head`),
  // they are dropped, and the run goes on to write its results and exit with its own code.
  if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', ignoreWriteError);
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signals: {
      on: (signal, listener) => process.on(signal, listener),
      off: (signal, listener) => process.off(signal, listener),
    },
    env: process.env,
  };
}

function ignoreWriteError(): void {}

/** Calls `listener` on each SIGINT and SIGTERM until the returned function (idempotent) is called. */
export function onStopSignals(signals: SignalSource, listener: StopListener): () => void {
  signals.on('SIGINT', listener);
  signals.on('SIGTERM', listener);
  return () => {
    signals.off('SIGINT', listener);
    signals.off('SIGTERM', listener);
  };
}

/** What every command gets: its io, and the words it was started with (for the commands it prints to continue). */
export interface CommandContext {
  argv: readonly string[];
  io: CliIO;
}

/** What a command's action is registered with: the context it runs in, and where its exit code goes. */
export interface CommandHost extends CommandContext {
  exit(code: number): void;
}
