// Every command-line option of batchpost, declared once: its flag, help, default, parser, the commands taking it
// and where its value goes. The commands' flags and --help (src/cli/options.ts), the translation into the
// library's RunOptions, the library's defaults (resolveOptions) and what travels to sender threads and workers
// (SenderConfig) are all derived from this table (src/options/values.ts). Pure data: the engine loads it too.
import type { OutputFormat } from '../output/sink.js';
import type { ProgressMode } from '../progress/index.js';
import type { RunOptions } from '../engine/options.js';
import { DEFAULT_INHERITED } from '../server/headers.js';
import {
  choice,
  parseCount,
  parseDuration,
  parseFailOn,
  parseHeaders,
  parseMethod,
  parsePositiveInt,
  parseRate,
  parseSize,
  parseThreads,
} from './parse.js';
import { parseCertFile, parseKeyFile, parseProxy } from './network.js';

export type CommandName = 'run' | 'serve' | 'worker' | 'report';

/** The headings of --help, in the order it shows them. */
export const GROUPS = {
  request: 'Request:',
  network: 'Network (proxies, TLS, HTTP/2):',
  pace: 'Pace and retries:',
  responses: 'Responses:',
  input: 'Input:',
  output: 'Output and resume:',
  reports: 'Reports:',
  progress: 'Progress and exit status:',
  distributed: 'Distributed:',
  server: 'Server:',
} as const;
export type Group = keyof typeof GROUPS;

/** How one command takes an option where it differs from the entry. */
export interface Use {
  help?: string;
  /** The command's own default; null: none. */
  default?: string | null;
  required?: boolean;
  group?: Group;
}

export interface OptionSpec {
  /** Commander's syntax: short alias, long flag, and `<value>` unless it is a switch. */
  flags: string;
  help: string;
  group: Group;
  /**
   * With a value: its default as typed on the command line; parsed, it is the library's default too. A switch:
   * its value when not given.
   */
  default?: string | readonly string[] | boolean;
  required?: boolean;
  /** May be given again: the value is the list. */
  repeatable?: boolean;
  /** The value from the text typed, or a USAGE error naming the flag; none: the text is the value. */
  parse?: ((text: string, flag: string) => unknown) | ((texts: readonly string[], flag: string) => unknown);
  /** The commands taking it: true, or how the command's use differs. */
  commands: Partial<Record<CommandName, true | Use>>;
  /** The field of the library's RunOptions its value goes to; none: the command uses it itself. */
  runOption?: keyof RunOptions;
  /** Its value travels to sender threads and workers (SenderConfig): the Sender reads it. */
  sender?: true;
}

export const INPUT_FORMATS = ['auto', 'ndjson', 'json', 'csv', 'requests'] as const;
export const BODY_FORMATS = ['json', 'form', 'text'] as const;
export const COMPRESSIONS = ['none', 'gzip'] as const;
/** The list holds every member of T: one missing does not compile. */
const allOf =
  <T extends string>() =>
  <const L extends readonly T[]>(list: L & ([Exclude<T, L[number]>] extends [never] ? unknown : never)): L =>
    list;
const OUTPUT_FORMATS = allOf<OutputFormat>()(['ndjson', 'json', 'csv', 'openai']);
const PROGRESS_MODES = allOf<ProgressMode>()(['bar', 'lines', 'none', 'auto', 'json']);

/** In flight at once across all batches: a gateway serves many callers, so more than run's default. */
const SERVE_CONCURRENCY = '64';

const RUN_AND_SERVE = { run: true, serve: true } as const;

/** Keyed by commander's attribute name for the flag (camel case, without `no-`). */
export const OPTIONS = {
  url: {
    flags: '-u, --url <url>',
    help: 'target URL; may hold {{ expr }} templates (JMESPath on the payload)',
    group: 'request',
    required: true,
    commands: {
      run: {
        help: 'target URL; may hold {{ expr }} templates (JMESPath on the payload); with --input-format requests, the base of relative urls',
        required: false,
      },
      serve: true,
    },
    runOption: 'url',
  },
  method: {
    flags: '-X, --method <method>',
    help: 'HTTP method; GET and HEAD send no body',
    group: 'request',
    default: 'POST',
    parse: parseMethod,
    commands: RUN_AND_SERVE,
    runOption: 'method',
  },
  header: {
    flags: '-H, --header <header>',
    help: '"Name: value", or @FILE of such lines; repeatable; values may hold {{ expr }}',
    group: 'request',
    repeatable: true,
    default: [],
    parse: parseHeaders,
    commands: RUN_AND_SERVE,
    runOption: 'headers',
  },
  body: {
    flags: '--body <expr>',
    help: 'JMESPath building the body from the payload (default: the payload as is)',
    group: 'request',
    commands: RUN_AND_SERVE,
    runOption: 'body',
  },
  idField: {
    flags: '--id-field <path>',
    help: 'JMESPath giving each payload its id (must be unique; default: 1-based position)',
    group: 'request',
    commands: RUN_AND_SERVE,
    runOption: 'idField',
  },
  bodyFormat: {
    flags: '--body-format <format>',
    help: 'json (the payload as is), form (an object as application/x-www-form-urlencoded) or text (a string as is)',
    group: 'request',
    default: 'json',
    parse: choice(BODY_FORMATS),
    commands: { run: true },
    runOption: 'bodyFormat',
  },
  compress: {
    flags: '--compress <codec>',
    help: 'none, or gzip: send request bodies gzip-compressed with Content-Encoding: gzip',
    group: 'request',
    default: 'none',
    parse: choice(COMPRESSIONS),
    commands: { run: true },
    runOption: 'compress',
  },
  authCommand: {
    flags: '--auth-command <cmd>',
    help: 'shell command printing "Name: value" lines or a token (Bearer); run first, again on a 401; output kept secret',
    group: 'request',
    commands: RUN_AND_SERVE,
    runOption: 'authCommand',
    sender: true,
  },
  authRefresh: {
    flags: '--auth-refresh <duration>',
    help: 'with --auth-command: also run it this often, e.g. 10m',
    group: 'request',
    parse: parseDuration,
    commands: RUN_AND_SERVE,
    runOption: 'authRefreshMs',
    sender: true,
  },
  config: {
    flags: '--config <file>',
    help: 'read options from a JSON or YAML file, keyed by long option name; flags typed win (default: $BATCHPOST_CONFIG)',
    group: 'request',
    commands: { run: true, serve: true, worker: { group: 'distributed' }, report: { group: 'reports' } },
  },
  concurrency: {
    flags: '-c, --concurrency <n>',
    help: 'requests in flight at once',
    group: 'pace',
    default: '10',
    parse: parsePositiveInt,
    commands: {
      run: true,
      serve: { default: SERVE_CONCURRENCY },
      worker: {
        help: "requests in flight per run (default: the run's --concurrency)",
        default: null,
        group: 'distributed',
      },
    },
    runOption: 'concurrency',
    sender: true,
  },
  threads: {
    flags: '--threads <n>',
    help: 'threads that send, besides the one reading and writing (0: it sends too; auto: by cores)',
    group: 'pace',
    default: 'auto',
    parse: parseThreads,
    commands: { run: true },
  },
  rate: {
    flags: '--rate <n[/s|/m]>',
    help: 'starts per second (or per minute), evenly spaced',
    group: 'pace',
    parse: parseRate,
    commands: RUN_AND_SERVE,
    runOption: 'rate',
    sender: true,
  },
  timeout: {
    flags: '--timeout <duration>',
    help: 'per attempt: 500ms, 30s, 2m',
    group: 'pace',
    default: '30s',
    parse: parseDuration,
    commands: RUN_AND_SERVE,
    runOption: 'timeoutMs',
    sender: true,
  },
  maxResponseSize: {
    flags: '--max-response-size <size>',
    help: 'largest answer body kept, e.g. 512kb or 10mb; a larger one fails with RESPONSE_TOO_LARGE',
    group: 'responses',
    default: '10mb',
    parse: parseSize,
    commands: RUN_AND_SERVE,
    runOption: 'maxResponseBytes',
  },
  location: {
    flags: '-L, --location',
    help: 'follow redirects as curl -L does (default: a 3xx is the result)',
    group: 'request',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'followRedirects',
  },
  maxRedirs: {
    flags: '--max-redirs <n>',
    help: 'with -L: the most redirects followed per attempt',
    group: 'request',
    default: '10',
    parse: parseCount,
    commands: RUN_AND_SERVE,
    runOption: 'maxRedirects',
  },
  proxy: {
    flags: '--proxy <url>',
    help: 'HTTP proxy for every request (http://[user:pass@]host:port); "" for none (default: HTTP_PROXY, HTTPS_PROXY)',
    group: 'network',
    parse: parseProxy,
    commands: RUN_AND_SERVE,
    runOption: 'proxy',
  },
  noproxy: {
    flags: '--noproxy <hosts>',
    help: 'hosts reached without the proxy, comma-separated (added to NO_PROXY): name, .domain, IP, CIDR, *',
    group: 'network',
    commands: RUN_AND_SERVE,
    runOption: 'noProxy',
  },
  cacert: {
    flags: '--cacert <file>',
    help: "PEM file of CA certificates to trust besides Node's (a private CA)",
    group: 'network',
    parse: parseCertFile,
    commands: RUN_AND_SERVE,
    runOption: 'caCert',
  },
  cert: {
    flags: '--cert <file>',
    help: 'PEM client certificate for servers that require one (mutual TLS); with --key',
    group: 'network',
    parse: parseCertFile,
    commands: RUN_AND_SERVE,
    runOption: 'clientCert',
  },
  key: {
    flags: '--key <file>',
    help: "PEM private key of --cert; an encrypted key's passphrase comes from BATCHPOST_KEY_PASSPHRASE",
    group: 'network',
    parse: parseKeyFile,
    commands: RUN_AND_SERVE,
    runOption: 'clientKey',
  },
  insecure: {
    flags: '-k, --insecure',
    help: 'do not check server certificates (a warning says so)',
    group: 'network',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'insecure',
  },
  http2: {
    flags: '--http2',
    help: 'offer HTTP/2 on https URLs (requests in flight become streams); HTTP/1.1 where the server lacks it',
    group: 'network',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'http2',
  },
  retries: {
    flags: '--retries <n>',
    help: 'extra attempts for retryable failures',
    group: 'pace',
    default: '2',
    parse: parseCount,
    commands: RUN_AND_SERVE,
    runOption: 'retries',
  },
  maxRetryAfter: {
    flags: '--max-retry-after <duration>',
    help: "cap on a server's Retry-After",
    group: 'pace',
    default: '60s',
    parse: parseDuration,
    commands: RUN_AND_SERVE,
    runOption: 'maxRetryAfterMs',
  },
  retryUnsafe: {
    flags: '--retry-unsafe',
    help: 'also retry timeouts, resets and 500/502/504 for non-idempotent methods',
    group: 'pace',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'retryUnsafe',
  },
  unreachableAfter: {
    flags: '--unreachable-after <n>',
    help: 'stop when the first n results all failed to connect and nothing got through (0: never stop)',
    group: 'pace',
    default: '20',
    parse: parseCount,
    commands: { run: true },
    runOption: 'unreachableAfter',
  },
  idempotencyKey: {
    flags: '--idempotency-key',
    help: 'send an Idempotency-Key per request (run id + request id), making retries safe',
    group: 'pace',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'idempotencyKey',
  },
  runId: {
    flags: '--run-id <id>',
    help: 'names the run in idempotency keys (default: derived from method, URL and output)',
    group: 'pace',
    commands: { run: true },
    runOption: 'runId',
  },
  adaptive: {
    flags: '--no-adaptive',
    help: "ignore the server's 429/503, Retry-After and rate-limit headers for the run's pace",
    group: 'pace',
    default: true,
    commands: RUN_AND_SERVE,
    runOption: 'adaptive',
    sender: true,
  },
  serializeBy: {
    flags: '--serialize-by <expr>',
    help: 'JMESPath key: same-key requests never in flight together, sent in input order',
    group: 'pace',
    commands: { run: true },
    runOption: 'serializeBy',
  },
  includeHeaders: {
    flags: '--include-headers',
    help: 'add response headers to each result',
    group: 'responses',
    default: false,
    commands: RUN_AND_SERVE,
    runOption: 'includeHeaders',
    sender: true,
  },
  transform: {
    flags: '--transform <expr>',
    help: 'JMESPath over {status, headers, body} replacing each response',
    group: 'responses',
    commands: RUN_AND_SERVE,
    runOption: 'transform',
    sender: true,
  },
  expect: {
    flags: '--expect <expr>',
    help: 'JMESPath over {status, headers, body} a 2xx answer must meet, else EXPECTATION_FAILED',
    group: 'responses',
    commands: RUN_AND_SERVE,
    runOption: 'expect',
    sender: true,
  },
  saveResponses: {
    flags: '--save-responses <dir>',
    help: 'stream each answer body to DIR/<id>.<ext> (ext from its Content-Type); results name the file',
    group: 'responses',
    commands: { run: true },
    runOption: 'saveResponses',
    sender: true,
  },
  inputFormat: {
    flags: '--input-format <format>',
    help: 'auto (content; .csv by name), ndjson, json, csv, or requests (a whole request per line: url, method, headers, body)',
    group: 'input',
    default: 'auto',
    parse: choice(INPUT_FORMATS),
    commands: { run: true },
  },
  csvTypes: {
    flags: '--csv-types',
    help: 'CSV input: turn numbers and true/false into JSON numbers and booleans (default: strings)',
    group: 'input',
    default: false,
    commands: { run: true },
  },
  maxLineSize: {
    flags: '--max-line-size <size>',
    help: 'largest payload (line, array element or CSV row) read, e.g. 64mb; a larger one stops the run',
    group: 'input',
    default: '64mb',
    parse: parseSize,
    commands: { run: true },
  },
  skipInvalid: {
    flags: '--skip-invalid',
    help: 'record a malformed payload as a failed result instead of stopping',
    group: 'input',
    default: false,
    commands: { run: true },
    runOption: 'skipInvalid',
  },
  dryRun: {
    flags: '--dry-run',
    help: 'validate the whole input and print the first requests; send nothing',
    group: 'input',
    default: false,
    commands: { run: true },
  },
  out: {
    flags: '-o, --out <file>',
    help: 'results file (default: stdout)',
    group: 'output',
    commands: { run: true },
  },
  format: {
    flags: '--format <format>',
    help: 'results as ndjson, json (one object keyed by id), csv, or openai (OpenAI Batch output lines)',
    group: 'output',
    default: 'ndjson',
    parse: choice(OUTPUT_FORMATS),
    commands: { run: true },
  },
  overwrite: {
    flags: '--overwrite',
    help: 'start --out afresh even if it holds results; replace an existing --failed file or batchpost report',
    group: 'output',
    default: false,
    commands: { run: true, report: { help: 'replace report files batchpost wrote earlier' } },
  },
  resume: {
    flags: '--resume',
    help: 'skip every id already recorded in --out and append the rest',
    group: 'output',
    default: false,
    commands: { run: true },
  },
  retryFailed: {
    flags: '--retry-failed',
    help: 're-send the ids recorded ok:false in --out (and any never recorded)',
    group: 'output',
    default: false,
    commands: { run: true },
  },
  rerunWhere: {
    flags: '--rerun-where <expr>',
    help: 'JMESPath over the result lines in --out: re-send the ids it matches',
    group: 'output',
    commands: { run: true },
  },
  resendChanged: {
    flags: '--resend-changed',
    help: 'with --resume: also re-send recorded ids whose payload changed since',
    group: 'output',
    default: false,
    commands: { run: true },
    runOption: 'resendChanged',
  },
  failed: {
    flags: '--failed <file>',
    help: 'write the payloads of failed requests here, in the input format, to re-run as is',
    group: 'output',
    commands: { run: true },
  },
  trace: {
    flags: '--trace <file>',
    help: "every attempt's exchange (request, answer, timing, error) as NDJSON, secrets hidden (- for stderr)",
    group: 'output',
    commands: { run: true },
  },
  traceFailed: {
    flags: '--trace-failed',
    help: 'with --trace: keep only the requests that ended ok:false',
    group: 'output',
    default: false,
    commands: { run: true },
  },
  report: {
    flags: '--report <file.html>',
    help: 'write an HTML report: charts, outcomes, slowest requests, searchable failures',
    group: 'reports',
    commands: { run: true },
  },
  html: {
    flags: '--html <file.html>',
    help: 'one self-contained HTML page: charts, outcomes, slowest requests, searchable failures',
    group: 'reports',
    commands: { report: true },
  },
  junit: {
    flags: '--junit <file.xml>',
    help: 'write JUnit XML, one test case per request, for CI test reporters',
    group: 'reports',
    commands: { run: true, report: { help: 'JUnit XML, one test case per request, for CI test reporters' } },
  },
  summary: {
    flags: '--summary <file.json>',
    help: 'write the end-of-run summary as JSON (- for stdout, with --out)',
    group: 'reports',
    commands: {
      run: true,
      report: { help: 'the summary as JSON: counts, latency percentiles, throughput, throttled time (- for stdout)' },
    },
  },
  progress: {
    flags: '--progress <mode>',
    help: 'bar, lines, none, json (a JSON object per line), or auto (bar on a terminal, lines otherwise)',
    group: 'progress',
    default: 'auto',
    parse: choice(PROGRESS_MODES),
    commands: { run: true },
  },
  progressInterval: {
    flags: '--progress-interval <duration>',
    help: 'time between plain or JSON progress lines',
    group: 'progress',
    default: '5s',
    parse: parseDuration,
    commands: { run: true },
  },
  failOn: {
    flags: '--fail-on <when>',
    help: 'exit 1 when: any request failed, none, more than N failed (e.g. 10), or more than a share (e.g. 5%)',
    group: 'progress',
    default: 'any',
    parse: parseFailOn,
    commands: { run: true },
  },
  queue: {
    flags: '--queue <url>',
    help: 'distributed: queue the requests in Redis (redis://host:port[/db]) for `batchpost worker`s to send; default: $BATCHPOST_QUEUE',
    group: 'distributed',
    commands: {
      run: true,
      worker: { help: 'Redis holding the runs: redis://host:port[/db] (rediss:// for TLS); default: $BATCHPOST_QUEUE' },
    },
  },
  queueName: {
    flags: '--queue-name <name>',
    help: "with --queue: the run's queue (default: derived from the run id, so --resume finds it)",
    group: 'distributed',
    commands: {
      run: true,
      worker: { help: "serve only this run's queue (default: every run registered in this Redis)" },
    },
  },
  stallTimeout: {
    flags: '--stall-timeout <duration>',
    help: 'a worker silent this long (killed, frozen, cut off) loses its jobs to other workers',
    group: 'distributed',
    default: '30s',
    commands: {
      worker: true,
      serve: { help: 'with --jobs: a sender silent this long loses its lines to other senders' },
    },
  },
  host: {
    flags: '--host <host>',
    help: 'address to listen on (0.0.0.0 or :: for every interface)',
    group: 'server',
    default: '127.0.0.1',
    commands: { serve: true },
  },
  port: {
    flags: '-p, --port <port>',
    help: 'port to listen on; 0 picks a free one (the ready line names it)',
    group: 'server',
    default: '8080',
    commands: { serve: true },
  },
  maxItems: {
    flags: '--max-items <n>',
    help: 'most payloads or requests in one batch; more is refused with 413',
    group: 'server',
    default: '1000',
    commands: { serve: true },
  },
  maxBytes: {
    flags: '--max-bytes <size>',
    help: 'largest batch body, e.g. 512kb or 10mb; larger is refused with 413',
    group: 'server',
    default: '10mb',
    commands: { serve: true },
  },
  inheritHeader: {
    flags: '--inherit-header <name>',
    help: `a caller header its items inherit, besides ${DEFAULT_INHERITED.join(', ')} (repeatable)`,
    group: 'server',
    repeatable: true,
    default: [],
    commands: { serve: true },
  },
  requestTimeout: {
    flags: '--request-timeout <duration>',
    help: "a caller's request headers, then its batch body, must each arrive within this long; else 408",
    group: 'server',
    default: '30s',
    parse: parseDuration,
    commands: { serve: true },
  },
  shutdownTimeout: {
    flags: '--shutdown-timeout <duration>',
    help: 'after SIGTERM, the longest wait for batches in progress before they are aborted (exit 130)',
    group: 'server',
    default: '30s',
    parse: parseDuration,
    commands: { serve: true },
  },
  jobs: {
    flags: '--jobs <url>',
    help: 'batch jobs: serve the OpenAI Batch API (files and batches under /v1), state in this Redis (redis://host:port[/db])',
    group: 'server',
    commands: { serve: true },
  },
  apiKeyFile: {
    flags: '--api-key-file <file>',
    help: 'with --jobs: the Bearer key every /v1 request must carry (first line of the file; else BATCHPOST_API_KEY)',
    group: 'server',
    commands: { serve: true },
  },
  dataDir: {
    flags: '--data-dir <dir>',
    help: 'with --jobs: where uploaded, output and error files are kept',
    group: 'server',
    default: 'batchpost-data',
    commands: { serve: true },
  },
  maxFileLines: {
    flags: '--max-file-lines <n>',
    help: 'with --jobs: most lines in an uploaded file; more is refused with 413',
    group: 'server',
    default: '50000',
    commands: { serve: true },
  },
  maxFileSize: {
    flags: '--max-file-size <size>',
    help: 'with --jobs: largest uploaded file, e.g. 200mb; larger is refused with 413',
    group: 'server',
    default: '200mb',
    commands: { serve: true },
  },
  jobsNamespace: {
    flags: '--jobs-namespace <name>',
    help: 'with --jobs: the Redis namespace of the batches (several serves can share one Redis)',
    group: 'server',
    default: 'default',
    commands: {
      serve: true,
      worker: { help: 'also send the lines of batch jobs of this serve --jobs namespace', group: 'distributed' },
    },
  },
  quiet: {
    flags: '-q, --quiet',
    help: 'no log line per batch on stderr',
    group: 'server',
    default: false,
    commands: { serve: true, worker: { help: 'no log lines, only errors', group: 'distributed' } },
  },
} as const satisfies Record<string, OptionSpec>;
