// `batchpost run` flags as commander hands them over, and their translation into the engine's RunOptions.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import type { RunOptions } from '../engine/options.js';
import { BatchpostError } from '../engine/errors.js';
import { parseChoice, parseCount, parseDuration, parseFailOn, parseHeaders, parsePositiveInt, parseRate, type FailOn } from './parse.js';

export interface RunFlags {
  url: string;
  method: string;
  header: string[];
  body?: string;
  idField?: string;
  concurrency: string;
  rate?: string;
  timeout: string;
  retries: string;
  maxRetryAfter: string;
  retryUnsafe?: boolean;
  idempotencyKey?: boolean;
  runId?: string;
  out?: string;
  format: string;
  includeHeaders?: boolean;
  transform?: string;
  progress: string;
  failOn: string;
  resume?: boolean;
  retryFailed?: boolean;
  overwrite?: boolean;
  skipInvalid?: boolean;
  dryRun?: boolean;
  inputFormat: string;
}

export const FORMATS = ['ndjson', 'json', 'csv'] as const;
export const PROGRESS_MODES = ['auto', 'bar', 'lines', 'none'] as const;
export const INPUT_FORMATS = ['auto', 'ndjson', 'json'] as const;

export function addRunOptions(cmd: Command): Command {
  const collect = (v: string, acc: string[]) => [...acc, v];
  return cmd
    .requiredOption('-u, --url <url>', 'target URL; may hold {{ expr }} templates (JMESPath on the payload)')
    .option('-X, --method <method>', 'HTTP method; GET and HEAD send no body', 'POST')
    .option('-H, --header <header>', '"Name: value", repeatable; values may hold {{ expr }}', collect, [])
    .option('--body <expr>', 'JMESPath building the body from the payload (default: the payload as is)')
    .option('--id-field <path>', 'JMESPath giving each payload its id (must be unique; default: 1-based position)')
    .option('-c, --concurrency <n>', 'requests in flight at once', '10')
    .option('--rate <n[/s|/m]>', 'starts per second (or per minute), evenly spaced')
    .option('--timeout <duration>', 'per attempt: 500ms, 30s, 2m', '30s')
    .option('--retries <n>', 'extra attempts for retryable failures', '2')
    .option('--max-retry-after <duration>', "cap on a server's Retry-After", '60s')
    .option('--retry-unsafe', 'also retry timeouts, resets and 500/502/504 for non-idempotent methods')
    .option('--idempotency-key', 'send an Idempotency-Key per request (run id + request id), making retries safe')
    .option('--run-id <id>', 'names the run in idempotency keys (default: derived from method, URL and output)')
    .option('-o, --out <file>', 'results file (default: stdout)')
    .option('--format <format>', 'results as ndjson, json (one object keyed by id) or csv', 'ndjson')
    .option('--include-headers', 'add response headers to each result')
    .option('--transform <expr>', 'JMESPath over {status, headers, body} replacing each response')
    .option('--progress <mode>', 'bar, lines, none, or auto (bar on a terminal, lines otherwise)', 'auto')
    .option('--fail-on <when>', 'exit 1 when: any request failed, none, or more than a percentage (e.g. 5%)', 'any')
    .option('--resume', 'skip every id already recorded in --out and append the rest')
    .option('--retry-failed', 're-send the ids recorded ok:false in --out (and any never recorded)')
    .option('--overwrite', 'start --out afresh even if it holds results')
    .option('--skip-invalid', 'record a malformed payload as a failed result instead of stopping')
    .option('--dry-run', 'validate the whole input and print the first requests; send nothing')
    .option('--input-format <format>', 'auto (detected from content), ndjson or json', 'auto');
}

export interface RunSetup {
  options: RunOptions;
  format: (typeof FORMATS)[number];
  progress: (typeof PROGRESS_MODES)[number];
  inputFormat: (typeof INPUT_FORMATS)[number];
  failOn: FailOn;
}

export function toRunSetup(input: string, f: RunFlags): RunSetup {
  const format = parseChoice(f.format, '--format', FORMATS);
  if ((f.resume || f.retryFailed) && !f.out) {
    throw new BatchpostError('USAGE', `${f.resume ? '--resume' : '--retry-failed'} needs --out FILE: it reads the results recorded there`);
  }
  if ((f.resume || f.retryFailed) && format !== 'ndjson') {
    throw new BatchpostError('USAGE', `--resume and --retry-failed need --format ndjson (the default): only it is appended line by line`);
  }
  if (f.resume && f.retryFailed) throw new BatchpostError('USAGE', '--resume and --retry-failed: pick one (--retry-failed also sends what was never recorded)');
  const method = f.method.toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new BatchpostError('USAGE', `--method "${f.method}": expected an HTTP method such as POST or PUT`);
  const options: RunOptions = {
    url: f.url,
    method,
    headers: parseHeaders(f.header),
    body: f.body,
    idField: f.idField,
    concurrency: parsePositiveInt(f.concurrency, '--concurrency'),
    rate: f.rate === undefined ? null : parseRate(f.rate),
    timeoutMs: parseDuration(f.timeout, '--timeout'),
    retries: parseCount(f.retries, '--retries'),
    maxRetryAfterMs: parseDuration(f.maxRetryAfter, '--max-retry-after'),
    retryUnsafe: f.retryUnsafe ?? false,
    idempotencyKey: f.idempotencyKey ?? false,
    runId: f.runId ?? defaultRunId(method, f.url, input, f.out),
    includeHeaders: f.includeHeaders ?? false,
    transform: f.transform,
    skipInvalid: f.skipInvalid ?? false,
  };
  return {
    options,
    format,
    progress: parseChoice(f.progress, '--progress', PROGRESS_MODES),
    inputFormat: parseChoice(f.inputFormat, '--input-format', INPUT_FORMATS),
    failOn: parseFailOn(f.failOn),
  };
}

/** Stable for the same command run again (as --resume does), so idempotency keys repeat exactly. */
function defaultRunId(method: string, url: string, input: string, out: string | undefined): string {
  const where = out ? path.resolve(out) : input === '-' ? 'stdin' : path.resolve(input);
  return createHash('sha256').update(`${method} ${url} ${where}`).digest('base64url').slice(0, 12);
}
