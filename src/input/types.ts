import type { InputRecord } from '../engine/types.js';

export type { InputRecord };

/** auto: JSON array or NDJSON, told apart by the content. CSV is never guessed from content: it is asked for. */
export type PayloadFormat = 'auto' | 'ndjson' | 'json' | 'csv';

/** A format's incremental splitter: fed decoded text in order, it appends complete records to `out`. */
export interface Splitter {
  push(text: string, out: InputRecord[]): void;
  /** The input has ended: flush what is pending (a last line without a newline, an unclosed array). */
  end(out: InputRecord[]): void;
  /** The input cannot be read past the text pushed so far: a fatal record for the line being read, and stop. */
  refuse(out: InputRecord[], error: string, code: NonNullable<InputRecord['code']>): void;
  /** True once a fatal record was produced; feeding more text is pointless. */
  readonly stopped: boolean;
}
