// Result writers (ndjson, json, csv) over one crash-safe line writer, and the resume index.
export { createLineWriter, type LineWriter, type LineWriterTarget } from './line-writer.js';
export { createSink, OUTPUT_FORMATS, type OutputFormat } from './sink.js';
export { CSV_COLUMNS } from './csv-sink.js';
export { resultToJson, resultBodyToJson } from './result-json.js';
export { openResume, assertWritableOut, type ResumeState, type ResumeOptions } from './resume.js';
export { tallyResults, type ResultsTally } from './resume.js';
export { createFailedWriter, type FailedWriter, type FailedFormat, type FailedWriterOptions } from './failed.js';
export { openAiLine, openAiLineToJson, openAiLineOk, newLineId, type OpenAiLine } from './openai-line.js';
