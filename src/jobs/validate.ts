// Validates a batch's input file as OpenAI does before anything is sent: each line a JSON object with a unique
// string `custom_id`, `method` POST, `url` equal to the batch's endpoint (never another origin), and an object
// `body`. Errors name the line (1-based); the first MAX_ERRORS are kept.
import { isBlank, readLines } from './lines.js';

export interface LineError {
  code: string;
  message: string;
  param: string | null;
  line: number;
}

export interface Validation {
  total: number;
  errors: LineError[];
}

const MAX_ERRORS = 100;

/** One validated line: what the sender needs. */
export interface BatchLine {
  custom_id: string;
  body: unknown;
}

export async function validateFile(file: string, endpoint: string, signal?: AbortSignal): Promise<Validation> {
  const seen = new Set<string>();
  const errors: LineError[] = [];
  let total = 0;
  for await (const { n, text } of readLines(file, 0, 1, signal)) {
    if (isBlank(text)) continue;
    total++;
    if (errors.length >= MAX_ERRORS) continue;
    const problem = checkLine(text, endpoint, seen);
    if (problem !== null) errors.push({ ...problem, line: n });
  }
  if (total === 0)
    errors.push({ code: 'empty_file', message: 'The input file holds no requests', param: null, line: 1 });
  return { total, errors };
}

function checkLine(text: string, endpoint: string, seen: Set<string>): Omit<LineError, 'line'> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { code: 'invalid_json_line', message: 'This line is not valid JSON', param: null };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { code: 'invalid_request', message: 'Each line must be a JSON object', param: null };
  const line = v as Record<string, unknown>;
  const id = line.custom_id;
  if (typeof id !== 'string' || id === '')
    return { code: 'missing_required_parameter', message: 'custom_id must be a non-empty string', param: 'custom_id' };
  if (seen.has(id))
    return {
      code: 'duplicate_custom_id',
      message: `The custom_id ${JSON.stringify(id)} is used by an earlier line`,
      param: 'custom_id',
    };
  seen.add(id);
  if (line.method !== 'POST') return { code: 'invalid_method', message: 'method must be POST', param: 'method' };
  if (line.url !== endpoint) return urlProblem(line.url, endpoint);
  if (typeof line.body !== 'object' || line.body === null || Array.isArray(line.body))
    return { code: 'missing_required_parameter', message: 'body must be a JSON object', param: 'body' };
  return null;
}

function urlProblem(url: unknown, endpoint: string): Omit<LineError, 'line'> {
  if (typeof url === 'string' && /^[a-z][a-z0-9+.-]*:|^\/\//i.test(url))
    return {
      code: 'invalid_url',
      message: `url must be a path on this server's upstream (${endpoint}); absolute URLs to other origins are refused`,
      param: 'url',
    };
  return { code: 'mismatched_endpoint', message: `url must be the batch's endpoint ${endpoint}`, param: 'url' };
}
