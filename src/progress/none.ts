// --progress none: no counters at all, but notes ("stopping…", the resume command) are still messages the user
// needs, so they are printed.
import type { Progress } from '../engine/types.js';
import { writeLine, type ProgressStream } from './stream.js';

export class NoneProgress implements Progress {
  readonly #stream: ProgressStream;

  constructor(options: { stream: ProgressStream }) {
    this.#stream = options.stream;
  }

  start(): void {}

  note(message: string): void {
    writeLine(this.#stream, message);
  }

  stop(): void {}
}
