// The one place results leave the process. Two forces pull against each other: a `kill -9` must lose at most the
// requests in flight, and a syscall per result would cap the rate a run can reach (docs/benchmarks.md). So write()
// only queues text and the queue is handed to the kernel once per event-loop turn (setImmediate): results written in
// one turn reach the kernel before the next turn starts, which is all the crash safety a killed process can have
// (the page cache survives the process; only a power loss would need fsync, which we do not pay for).
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';

export type LineWriterTarget = { path: string; append: boolean } | { fd: 1; stream: NodeJS.WriteStream };

export interface LineWriter {
  /** Queues text (complete lines, newline included). Never a syscall; the text reaches the kernel this turn. */
  write(text: string): void;
  /** Hands everything queued to the kernel now: for signal handlers and exit paths. */
  flushSync(): void;
  /** Flushes and releases the file. Idempotent: every call returns the same promise. */
  close(): Promise<void>;
  /** The first write failure (OUTPUT_FAILED; `cause` holds the system error, e.g. EPIPE), or null. */
  readonly error: Error | null;
  /** Called once with the first write failure, so the run can stop instead of producing results nobody keeps. */
  onError(callback: (error: Error) => void): void;
}

// A burst larger than this within one turn is written at once, so memory stays bounded whatever the caller does.
const MAX_PENDING_CHARS = 1 << 20;

export function createLineWriter(target: LineWriterTarget): LineWriter {
  const isFile = 'path' in target;
  const label = isFile ? target.path : 'stdout';
  const stream = isFile ? null : target.stream;
  const fd = isFile ? openFile(target.path, target.append) : target.fd;

  let pending: string[] = [];
  let pendingChars = 0;
  let immediate: NodeJS.Immediate | null = null;
  let error: Error | null = null;
  const errorCallbacks: Array<(error: Error) => void> = [];
  let closing: Promise<void> | null = null;
  // Stream writes still owned by the stream; close() waits for them so nothing is cut off at exit.
  let streamWritesInFlight = 0;
  let streamSettled: (() => void) | null = null;

  function fail(cause: unknown): void {
    if (error) return;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const failure = new BatchpostError(
      'OUTPUT_FAILED',
      `cannot write results to ${label}: ${reason}`,
      isFile ? 'Check free disk space and permissions, then run again with --resume.' : undefined,
    );
    failure.cause = cause;
    error = failure;
    // What was queued can no longer be written anywhere; keeping it would only grow memory.
    pending = [];
    pendingChars = 0;
    for (const callback of errorCallbacks) callback(failure);
    streamSettled?.();
  }

  function onStreamWritten(err?: Error | null): void {
    streamWritesInFlight--;
    if (err) fail(err);
    if (streamWritesInFlight === 0 && streamSettled) streamSettled();
  }

  function flushSync(): void {
    if (immediate) {
      clearImmediate(immediate);
      immediate = null;
    }
    if (pending.length === 0 || error) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    pendingChars = 0;
    if (stream) {
      // process.stdout is synchronous for files and pipes on Linux; a failure (EPIPE when `| head` exits) comes
      // back through the callback or the 'error' event, both routed to fail().
      streamWritesInFlight++;
      stream.write(text, onStreamWritten);
      return;
    }
    const bytes = Buffer.from(text, 'utf8');
    try {
      let offset = 0;
      // writeSync may write less than asked (e.g. disk nearly full); a line cut short here would be torn.
      while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      fail(err);
    }
  }

  const flushOnTurn = (): void => {
    immediate = null;
    flushSync();
  };

  // A process.exit() anywhere (an uncaught error path, a second Ctrl-C) must not drop what is queued.
  const flushOnExit = (): void => flushSync();
  process.on('exit', flushOnExit);
  if (stream) stream.on('error', fail);

  return {
    write(text: string): void {
      if (closing) throw new Error(`results writer for ${label} is closed`);
      if (error) return;
      pending.push(text);
      pendingChars += text.length;
      if (pendingChars >= MAX_PENDING_CHARS) flushSync();
      else if (immediate === null) immediate = setImmediate(flushOnTurn);
    },

    flushSync,

    close(): Promise<void> {
      closing ??= (async () => {
        flushSync();
        process.removeListener('exit', flushOnExit);
        if (stream) {
          if (streamWritesInFlight > 0 && !error) {
            await new Promise<void>((resolve) => (streamSettled = resolve));
          }
          return; // fd 1 belongs to the process, not to us
        }
        await new Promise<void>((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
      })();
      return closing;
    },

    get error(): Error | null {
      return error;
    },

    onError(callback: (error: Error) => void): void {
      if (error) callback(error);
      else errorCallbacks.push(callback);
    },
  };
}

function openFile(path: string, append: boolean): number {
  try {
    return fs.openSync(path, append ? 'a' : 'w');
  } catch (err) {
    throw new BatchpostError(
      'OUTPUT_FAILED',
      `cannot open ${path} for results: ${(err as Error).message}`,
      'Check that the folder exists and is writable.',
    );
  }
}
