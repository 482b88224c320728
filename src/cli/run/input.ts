// The payloads of a run: a file or stdin, read in the format the flags give, noting the format found on the way;
// and --failed, which writes the payloads of failed requests back in that same format.
import fs from 'node:fs';
import path from 'node:path';
import { requireFile } from '../../util/input-file.js';
import type { InputRecord } from '../../engine/types.js';
import { readPayloads } from '../../input/index.js';
import { createFailedWriter, type FailedWriter } from '../../output/index.js';
import type { CliIO } from '../io.js';
import { looksLikeUrl, urlAsInput } from '../usage-hints.js';
import type { RunSetup } from '../run-options.js';

export type InputSource = NodeJS.ReadableStream & { destroy(): void };

/** What reading found out: --failed writes in the input's own format (a CSV file with its header). */
export interface DetectedInput {
  format: 'ndjson' | 'json' | 'csv';
  csvHeader?: string;
}

export interface RunInput {
  source: InputSource;
  records: AsyncIterable<InputRecord>;
  detected: DetectedInput;
}

export function openRunInput(input: string, setup: RunSetup, csvTypes: boolean, io: CliIO): RunInput {
  const source = openSource(input, io);
  const detected: DetectedInput = { format: setup.inputFormat === 'csv' ? 'csv' : 'ndjson' };
  const records = readPayloads(source, {
    format: setup.inputFormat,
    csvTypes,
    maxLineSize: setup.maxLineSize,
    onCsvHeader: (header) => (detected.csvHeader = header),
    onFormat: (format) => (detected.format = format),
  });
  return { source, records, detected };
}

function openSource(input: string, io: CliIO): InputSource {
  if (input === '-') return io.stdin;
  if (looksLikeUrl(input) && !fs.existsSync(input)) throw urlAsInput(input);
  requireFile(input, 'a file of payloads', 'Give a file of JSON or NDJSON payloads, or - to read stdin.');
  return fs.createReadStream(input, { highWaterMark: 256 * 1024 });
}

/** The input as messages name it. */
export function inputName(input: string): string {
  return input === '-' ? 'stdin' : path.normalize(input);
}

export interface FailedPayloads {
  /** Bound: handed to the Run as its onFailed. */
  write: (record: InputRecord) => void;
  close(): Promise<void>;
  /** The first write failure (OUTPUT_FAILED), or null. */
  readonly error: Error | null;
  /** Called once with the first write failure, like the results writer's. */
  onError(callback: (error: Error) => void): void;
}

/**
 * --failed: the payloads of failed requests, in the input's own format, so the file can be run as is. Opened at
 * the first failure (the input format is known by then) and otherwise created empty at the end; its path is
 * checked before anything is sent (cli/run/outputs.ts).
 */
export function failedPayloads(file: string, detected: DetectedInput): FailedPayloads {
  let writer: FailedWriter | null = null;
  let onError: ((error: Error) => void) | null = null;
  const open = (): FailedWriter => {
    if (writer !== null) return writer;
    writer = createFailedWriter(file, detected.format, { csvHeader: detected.csvHeader ?? '' });
    if (onError !== null) writer.onError(onError);
    return writer;
  };
  return {
    write: (record: InputRecord) => open().write(record),
    close: () => open().close(),
    get error() {
      return writer?.error ?? null;
    },
    onError: (callback) => {
      onError = callback;
      writer?.onError(callback);
    },
  };
}
