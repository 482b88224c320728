// The payload readers: JSON/NDJSON/CSV text in, one InputRecord per payload out, streaming.
export { isRecordStream, readPayloads, type ReadOptions } from './read.js';
export { countPayloads, type CountOptions } from './count.js';
export type { PayloadFormat, InputRecord } from './types.js';
// csv.js is loaded only for CSV input (loading csv-parse is a noticeable share of start-up): read.ts and count.ts
// import it when asked.
export type { CsvReadOptions } from './csv.js';
