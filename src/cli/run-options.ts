// `batchpost run` flags as commander hands them over, and their translation into the engine's RunOptions.
import { OUTPUT_FORMATS, type OutputFormat } from '../output/index.js';
import { PROGRESS_MODES, type ProgressMode } from '../progress/index.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Command } from 'commander';
import type { RunOptions } from '../engine/options.js';
import { BatchpostError } from '../engine/errors.js';
import type { ReportTargets } from '../report/index.js';
import {
  parseChoice,
  parseCount,
  parseDuration,
  parseFailOn,
  parseHeaders,
  parsePositiveInt,
  parseRate,
  type FailOn,
} from './parse.js';

export interface RunFlags {
  url: string;
  method: string;
  header: string[];
  body?: string;
  idField?: string;
  concurrency: string;
  threads: string;
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
  expect?: string;
  serializeBy?: string;
  adaptive: boolean;
  failed?: string;
  rerunWhere?: string;
  resendChanged?: boolean;
  csvTypes?: boolean;
  progressInterval: string;
  report?: string;
  junit?: string;
  summary?: string;
  queue?: string;
  queueName?: string;
}

export const INPUT_FORMATS = ['auto', 'ndjson', 'json', 'csv'] as const;

export function addRunOptions(cmd: Command): Command {
  const collect = (v: string, acc: string[]) => [...acc, v];
  return cmd
    .requiredOption('-u, --url <url>', 'target URL; may hold {{ expr }} templates (JMESPath on the payload)')
    .option('-X, --method <method>', 'HTTP method; GET and HEAD send no body', 'POST')
    .option('-H, --header <header>', '"Name: value", repeatable; values may hold {{ expr }}', collect, [])
    .option('--body <expr>', 'JMESPath building the body from the payload (default: the payload as is)')
    .option('--id-field <path>', 'JMESPath giving each payload its id (must be unique; default: 1-based position)')
    .option('-c, --concurrency <n>', 'requests in flight at once', '10')
    .option(
      '--threads <n>',
      'threads that send, besides the one reading and writing (0: it sends too; auto: by cores)',
      'auto',
    )
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
    .option('--progress-interval <duration>', 'time between plain progress lines', '5s')
    .option('--fail-on <when>', 'exit 1 when: any request failed, none, or more than a percentage (e.g. 5%)', 'any')
    .option('--resume', 'skip every id already recorded in --out and append the rest')
    .option('--retry-failed', 're-send the ids recorded ok:false in --out (and any never recorded)')
    .option('--overwrite', 'start --out afresh even if it holds results')
    .option('--skip-invalid', 'record a malformed payload as a failed result instead of stopping')
    .option('--dry-run', 'validate the whole input and print the first requests; send nothing')
    .option('--input-format <format>', 'auto (content; .csv by name), ndjson, json or csv', 'auto')
    .option('--csv-types', 'CSV input: turn numbers and true/false into JSON numbers and booleans (default: strings)')
    .option('--expect <expr>', 'JMESPath over {status, headers, body} a 2xx answer must meet, else EXPECTATION_FAILED')
    .option('--serialize-by <expr>', 'JMESPath key: same-key requests never in flight together, sent in input order')
    .option('--no-adaptive', "ignore the server's 429/503, Retry-After and rate-limit headers for the run's pace")
    .option('--failed <file>', 'write the payloads of failed requests here, in the input format, to re-run as is')
    .option('--rerun-where <expr>', 'JMESPath over the result lines in --out: re-send the ids it matches')
    .option('--resend-changed', 'with --resume: also re-send recorded ids whose payload changed since')
    .option('--report <file.html>', 'write an HTML report: charts, outcomes, slowest requests, searchable failures')
    .option('--junit <file.xml>', 'write JUnit XML, one test case per request, for CI test reporters')
    .option('--summary <file.json>', 'write the end-of-run summary as JSON')
    .option(
      '--queue <url>',
      'distributed: queue the requests in Redis (redis://host:port[/db]) for `batchpost worker`s to send',
    )
    .option(
      '--queue-name <name>',
      "with --queue: the run's queue (default: derived from the run id, so --resume finds it)",
    );
}

/** More sender threads than this only add start-up time and memory. */
const MAX_THREADS = 64;

function parseThreads(value: string): number {
  const n = parseCount(value, '--threads');
  if (n > MAX_THREADS)
    throw new BatchpostError('USAGE', `--threads ${n}: at most ${MAX_THREADS} (one per core is what pays)`);
  return n;
}

export type ResumeMode = 'resume' | 'retry-failed' | 'rerun' | null;

export interface RunSetup {
  options: RunOptions;
  resume: ResumeMode;
  format: OutputFormat;
  progress: ProgressMode;
  inputFormat: (typeof INPUT_FORMATS)[number];
  failOn: FailOn;
  progressIntervalMs: number;
  /** --report, --junit, --summary. */
  reports: ReportTargets;
  /** --threads: sender threads, or 'auto' (decided with the options; see threadsFor). */
  threads: number | 'auto';
}

export function toRunSetup(input: string, f: RunFlags): RunSetup {
  const format = parseChoice(f.format, '--format', OUTPUT_FORMATS);
  const modes = [
    f.resume && '--resume',
    f.retryFailed && '--retry-failed',
    f.rerunWhere !== undefined && '--rerun-where',
  ].filter(Boolean);
  if (modes.length > 1)
    throw new BatchpostError('USAGE', `${modes.join(' and ')}: pick one (each also sends what was never recorded)`);
  const mode = modes[0];
  if (mode && !f.out)
    throw new BatchpostError('USAGE', `${mode} needs --out FILE: it reads the results recorded there`);
  if (mode && format !== 'ndjson') {
    throw new BatchpostError('USAGE', `${mode} needs --format ndjson (the default): only it is appended line by line`);
  }
  if (f.resendChanged && !f.resume) throw new BatchpostError('USAGE', '--resend-changed goes with --resume');
  const shared = toRequestOptions(f);
  const options: RunOptions = {
    ...shared,
    runId: f.runId ?? defaultRunId(shared.method!, f.url, input, f.out),
    skipInvalid: f.skipInvalid ?? false,
    serializeBy: f.serializeBy,
    resendChanged: f.resendChanged ?? false,
  };
  let inputFormat = parseChoice(f.inputFormat, '--input-format', INPUT_FORMATS);
  // A .csv name is the one thing content detection cannot tell (a CSV row looks like anything).
  if (inputFormat === 'auto' && /\.csv$/i.test(input)) inputFormat = 'csv';
  options.inputKind = inputFormat === 'csv' ? 'csv' : 'json';
  return {
    options,
    resume: f.rerunWhere !== undefined ? 'rerun' : f.retryFailed ? 'retry-failed' : f.resume ? 'resume' : null,
    format,
    progress: parseChoice(f.progress, '--progress', PROGRESS_MODES),
    inputFormat,
    failOn: parseFailOn(f.failOn),
    progressIntervalMs: parseDuration(f.progressInterval, '--progress-interval'),
    reports: { html: f.report ?? null, junit: f.junit ?? null, summary: f.summary ?? null },
    threads: f.threads === 'auto' ? 'auto' : parseThreads(f.threads),
  };
}

/** The run flags that shape, pace and retry each request: `batchpost serve` takes these too. */
export const REQUEST_FLAGS = [
  '--url',
  '--method',
  '--header',
  '--body',
  '--id-field',
  '--concurrency',
  '--rate',
  '--timeout',
  '--retries',
  '--max-retry-after',
  '--retry-unsafe',
  '--idempotency-key',
  '--include-headers',
  '--transform',
  '--expect',
  '--no-adaptive',
] as const;

export type RequestFlags = Pick<
  RunFlags,
  | 'url'
  | 'method'
  | 'header'
  | 'body'
  | 'idField'
  | 'concurrency'
  | 'rate'
  | 'timeout'
  | 'retries'
  | 'maxRetryAfter'
  | 'retryUnsafe'
  | 'idempotencyKey'
  | 'includeHeaders'
  | 'transform'
  | 'expect'
  | 'adaptive'
>;

/** Adds the REQUEST_FLAGS to another command, as addRunOptions defines them; `defaults` replaces some defaults. */
export function addRequestOptions(cmd: Command, defaults: Partial<Record<keyof RequestFlags, string>> = {}): Command {
  for (const option of addRunOptions(new Command()).options) {
    if (!(REQUEST_FLAGS as readonly string[]).includes(option.long ?? '')) continue;
    const value = defaults[option.attributeName() as keyof RequestFlags];
    cmd.addOption(value === undefined ? option : option.default(value));
  }
  return cmd;
}

/** The RunOptions the REQUEST_FLAGS give (no run id: each command names its runs). */
export function toRequestOptions(f: RequestFlags): RunOptions {
  const method = f.method.toUpperCase();
  if (!/^[A-Z]+$/.test(method))
    throw new BatchpostError('USAGE', `--method "${f.method}": expected an HTTP method such as POST or PUT`);
  return {
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
    includeHeaders: f.includeHeaders ?? false,
    transform: f.transform,
    expect: f.expect,
    adaptive: f.adaptive,
  };
}

/** Stable for the same command run again (as --resume does), so idempotency keys repeat exactly. */
function defaultRunId(method: string, url: string, input: string, out: string | undefined): string {
  const where = out ? path.resolve(out) : input === '-' ? 'stdin' : path.resolve(input);
  return createHash('sha256').update(`${method} ${url} ${where}`).digest('base64url').slice(0, 12);
}
