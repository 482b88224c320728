// The payload readers: JSON/NDJSON/CSV text in, one InputRecord per payload out, streaming.
export { readPayloads, type ReadOptions } from './read.js';
export { countPayloads, type CountOptions } from './count.js';
export type { PayloadFormat, InputRecord } from './types.js';
export { inferCsvValue, type CsvReadOptions } from './csv.js';
