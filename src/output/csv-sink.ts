import { stringifyCsv as stringify } from './csv-lib.js';
import type { Result, Sink } from '../engine/types.js';
import type { LineWriter } from './line-writer.js';

export const CSV_COLUMNS = [
  'id',
  'ok',
  'status',
  'attempts',
  'durationMs',
  'response',
  'error_code',
  'error_message',
] as const;

/**
 * `--format csv` for spreadsheets: one row per result under a header row. Every cell is handed to csv-stringify
 * as a string we chose, because its default casts would write booleans as "1"/"" and dates as epochs. `response`
 * is compact JSON text (a text body keeps its JSON quotes) so a cell round-trips to the value that was received.
 */
export function createCsvSink(writer: LineWriter): Sink {
  writer.write(stringify([CSV_COLUMNS]));
  return {
    write(result: Result): void {
      const response = result.response;
      const row = [
        result.id,
        result.ok ? 'true' : 'false',
        result.status === null ? '' : String(result.status),
        String(result.attempts),
        String(result.durationMs),
        response === null || response === undefined ? '' : JSON.stringify(response),
        result.error ? result.error.code : '',
        result.error ? result.error.message : '',
      ];
      writer.write(stringify([row]));
    },
    close: () => writer.close(),
  };
}
