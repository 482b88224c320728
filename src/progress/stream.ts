// The one thing every display writes to. `isTTY` and `columns` are read, not assumed, so tests and pipes can
// pass any writable and the display adapts to what it is really talking to.

export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Writes a message as whole lines: a missing final newline would glue the next output (or the bar) onto it. */
export function writeLine(stream: ProgressStream, message: string): void {
  stream.write(message.endsWith('\n') ? message : `${message}\n`);
}
