// The one place results leave the process. Two forces pull against each other: a `kill -9` must lose at most the
// requests in flight, and a syscall per result would cap the rate a run can reach (docs/benchmarks.md). So write()
// only queues text and the queue is handed to the kernel once per event-loop turn (setImmediate): results written in
// one turn reach the kernel before the next turn starts, which is all the crash safety a killed process can have
// (the page cache survives the process; only a power loss would need fsync, which we do not pay for).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { BatchpostError } from '../engine/errors.js';

export type LineWriterTarget =
  | {
      path: string;
      append: boolean;
      /** What the file holds, for messages: "results" unless said. */
      role?: string;
      /** Each flush is written as one whole gzip member (gzip-file.ts reads them back). */
      gzip?: boolean;
    }
  | { fd: 1; stream: NodeJS.WritableStream };

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
  return new QueuedLineWriter(target);
}

class QueuedLineWriter implements LineWriter {
  private readonly label: string;
  private readonly role: string;
  private readonly isFile: boolean;
  private readonly gzip: boolean;
  /** Null for a file, written with writeSync on `fd`. */
  private readonly stream: NodeJS.WritableStream | null;
  private readonly fd: number;
  private pending: string[] = [];
  private pendingChars = 0;
  private immediate: NodeJS.Immediate | null = null;
  private failure: Error | null = null;
  private readonly errorCallbacks: Array<(error: Error) => void> = [];
  private closing: Promise<void> | null = null;
  /** Stream writes still owned by the stream; close() waits for them so nothing is cut off at exit. */
  private streamWritesInFlight = 0;
  private streamSettled: (() => void) | null = null;

  constructor(target: LineWriterTarget) {
    this.isFile = 'path' in target;
    this.gzip = 'path' in target && target.gzip === true;
    this.label = 'path' in target ? target.path : 'stdout';
    this.role = ('path' in target && target.role) || 'results';
    this.stream = 'path' in target ? null : target.stream;
    this.fd = 'path' in target ? openFile(target.path, target.append, this.role) : target.fd;
    // A process.exit() anywhere (an uncaught error path, a second Ctrl-C) must not drop what is queued.
    process.on('exit', this.flushOnExit);
    if (this.stream) this.stream.on('error', this.fail);
  }

  write(text: string): void {
    if (this.closing) throw new Error(`results writer for ${this.label} is closed`);
    if (this.failure) return;
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= MAX_PENDING_CHARS) this.flushSync();
    else if (this.immediate === null) this.immediate = setImmediate(this.flushOnTurn);
  }

  flushSync(): void {
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (this.pending.length === 0 || this.failure) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    if (this.stream) this.writeToStream(this.stream, text);
    else this.writeToFile(text);
  }

  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  get error(): Error | null {
    return this.failure;
  }

  onError(callback: (error: Error) => void): void {
    if (this.failure) callback(this.failure);
    else this.errorCallbacks.push(callback);
  }

  private readonly flushOnTurn = (): void => {
    this.immediate = null;
    this.flushSync();
  };

  private readonly flushOnExit = (): void => this.flushSync();

  private writeToStream(stream: NodeJS.WritableStream, text: string): void {
    // process.stdout is synchronous for files and pipes on Linux; a failure (EPIPE when `| head` exits) comes
    // back through the callback or the 'error' event, both routed to fail().
    this.streamWritesInFlight++;
    stream.write(text, this.onStreamWritten);
  }

  private writeToFile(text: string): void {
    try {
      const bytes = this.gzip ? zlib.gzipSync(text) : Buffer.from(text, 'utf8');
      let offset = 0;
      // writeSync may write less than asked (e.g. disk nearly full); a line cut short here would be torn.
      while (offset < bytes.length) offset += fs.writeSync(this.fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      this.fail(err);
    }
  }

  private readonly onStreamWritten = (err?: Error | null): void => {
    this.streamWritesInFlight--;
    if (err) this.fail(err);
    if (this.streamWritesInFlight === 0 && this.streamSettled) this.streamSettled();
  };

  private readonly fail = (cause: unknown): void => {
    if (this.failure) return;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const failure = new BatchpostError(
      'OUTPUT_FAILED',
      `cannot write ${this.role} to ${this.label}: ${reason}`,
      this.isFile
        ? `Check free disk space and permissions${this.role === 'results' ? ', then run again with --resume' : ''}.`
        : undefined,
    );
    failure.cause = cause;
    this.failure = failure;
    // What was queued can no longer be written anywhere; keeping it would only grow memory.
    this.pending = [];
    this.pendingChars = 0;
    for (const callback of this.errorCallbacks) callback(failure);
    this.streamSettled?.();
  };

  private async release(): Promise<void> {
    this.flushSync();
    process.removeListener('exit', this.flushOnExit);
    if (this.stream) {
      if (this.streamWritesInFlight > 0 && !this.failure) {
        await new Promise<void>((resolve) => (this.streamSettled = resolve));
      }
      return; // fd 1 belongs to the process, not to us
    }
    await new Promise<void>((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

function openFile(path: string, append: boolean, role: string): number {
  try {
    return fs.openSync(path, append ? 'a' : 'w');
  } catch (err) {
    throw new BatchpostError(
      'OUTPUT_FAILED',
      `cannot open ${path} for ${role}: ${(err as Error).message}`,
      'Check that the folder exists and is writable.',
    );
  }
}
