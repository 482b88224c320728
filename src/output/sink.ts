import type { Sink } from '../engine/types.js';
import { createCsvSink } from './csv-sink.js';
import { createJsonSink } from './json-sink.js';
import type { LineWriter } from './line-writer.js';
import { createNdjsonSink } from './ndjson-sink.js';
import { createOpenAiSink } from './openai-sink.js';

export type OutputFormat = 'ndjson' | 'json' | 'csv' | 'openai';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['ndjson', 'json', 'csv', 'openai'];

/** The sink for a --format; it owns `writer` and closes it on close(). */
export function createSink(format: OutputFormat, writer: LineWriter): Sink {
  switch (format) {
    case 'ndjson':
      return createNdjsonSink(writer);
    case 'json':
      return createJsonSink(writer);
    case 'csv':
      return createCsvSink(writer);
    case 'openai':
      return createOpenAiSink(writer);
  }
}
