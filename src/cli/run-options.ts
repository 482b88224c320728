// `batchpost run`: its flags (from the option table) and their translation into the engine's RunOptions plus what
// the command sets up itself; the checks here are those spanning several flags.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import type { RunOptions } from '../engine/options.js';
import { BatchpostError } from '../engine/errors.js';
import type { OutputFormat } from '../output/index.js';
import type { FailOn } from '../options/parse.js';
import type { PayloadFormat } from '../input/index.js';
import type { FlagsOf, ValuesOf } from '../options/types.js';
import { parseFlags, runOptionsOf } from '../options/values.js';
import type { ProgressMode } from '../progress/index.js';
import type { ReportTargets } from '../report/index.js';
import { shellQuote } from '../util/shell-quote.js';
import { addOptions, examples } from './options.js';
import { looksLikeUrl, urlAsInput } from './usage-hints.js';

export type RunFlags = FlagsOf<'run'>;

export function addRunOptions(cmd: Command): Command {
  return addOptions(cmd, 'run').addHelpText(
    'after',
    '\nDocs: README.md.' +
      examples([
        'batchpost run orders.ndjson --url https://api.example.com/orders --out results.ndjson',
        "batchpost run users.ndjson --url 'https://api.example.com/users/{{ id }}' -X PUT --rate 50/s -o results.ndjson",
        'batchpost run orders.ndjson --url https://api.example.com/orders --out results.ndjson --resume',
        'batchpost run orders.ndjson --url https://api.example.com/orders --out results.ndjson --report report.html',
      ]),
  );
}

export type ResumeMode = 'resume' | 'retry-failed' | 'rerun' | null;

export interface RunSetup {
  options: RunOptions;
  resume: ResumeMode;
  format: OutputFormat;
  progress: ProgressMode;
  /** How the input is split into payloads (--input-format requests reads JSON or NDJSON, as auto does). */
  inputFormat: PayloadFormat;
  /** --max-line-size, in bytes (characters of decoded text; see ReadOptions.maxLineSize). */
  maxLineSize: number;
  failOn: FailOn;
  progressIntervalMs: number;
  /** --report, --junit, --summary. */
  reports: ReportTargets;
  /** --threads: sender threads, or 'auto' (decided with the options; see threadsFor). */
  threads: number | 'auto';
}

export function toRunSetup(input: string, f: RunFlags): RunSetup {
  const v = parseFlags('run', f);
  const resume = resumeModeOf(v);
  const options = runOptionsOf('run', v);
  const requests = v.inputFormat === 'requests';
  // Request lines may all name absolute urls; any other input needs somewhere to send its payloads.
  if (v.url === undefined && !requests && looksLikeUrl(input)) throw urlAsInput(input);
  if (v.url === undefined && !requests)
    throw new BatchpostError(
      'USAGE',
      "required option '-u, --url <url>' not specified",
      'Give --url, or --input-format requests for a file of whole requests (url, method, headers, body per line)',
    );
  options.url = v.url ?? '';
  options.runId ??= defaultRunId(options.method!, options.url, input, v.out);
  if (v.inputFormat === 'auto' && /\.ya?ml$/i.test(input)) throw yamlInput(input);
  // A .csv name is the one thing content detection cannot tell (a CSV row looks like anything).
  const asked = v.inputFormat === 'requests' ? 'auto' : v.inputFormat;
  const inputFormat = !requests && asked === 'auto' && /\.csv(\.gz)?$/i.test(input) ? 'csv' : asked;
  options.inputKind = requests ? 'requests' : inputFormat === 'csv' ? 'csv' : 'json';
  if (requests && (v.queue !== undefined || (v.threads !== 'auto' && v.threads > 0)))
    throw new BatchpostError(
      'USAGE',
      `--input-format requests and ${v.queue !== undefined ? '--queue' : '--threads'}: request lines are sent from this thread only`,
      'Leave out --threads (or give --threads 0); raise --concurrency instead',
    );
  return {
    options,
    resume,
    format: v.format,
    progress: v.progress,
    inputFormat,
    maxLineSize: v.maxLineSize,
    failOn: v.failOn,
    progressIntervalMs: v.progressInterval,
    reports: { html: v.report ?? null, junit: v.junit ?? null, summary: v.summary ?? null },
    threads: v.threads,
  };
}

/** A .yaml/.yml input: refused by its name before anything is read, with the command that converts it. */
function yamlInput(input: string): BatchpostError {
  const ndjson = `${input.replace(/\.ya?ml$/i, '')}.ndjson`;
  return new BatchpostError(
    'INPUT_UNSUPPORTED',
    `${input}: YAML, which batchpost does not read (JSON, NDJSON or CSV)`,
    `Convert it to NDJSON first, e.g. yq -o=json -I=0 '.[]' ${shellQuote(input)} > ${shellQuote(ndjson)}`,
  );
}

/** --resume, --retry-failed or --rerun-where: at most one, each reading an ndjson --out. */
function resumeModeOf(v: ValuesOf<'run'>): ResumeMode {
  const modes = [
    v.resume && '--resume',
    v.retryFailed && '--retry-failed',
    v.rerunWhere !== undefined && '--rerun-where',
  ];
  const given = modes.filter(Boolean);
  if (given.length > 1)
    throw new BatchpostError('USAGE', `${given.join(' and ')}: pick one (each also sends what was never recorded)`);
  const mode = given[0];
  if (mode && !v.out)
    throw new BatchpostError('USAGE', `${mode} needs --out FILE: it reads the results recorded there`);
  if (mode && v.format !== 'ndjson' && v.format !== 'openai')
    throw new BatchpostError(
      'USAGE',
      `${mode} needs --format ndjson (the default) or openai: only they are appended line by line`,
    );
  if (v.resendChanged && !v.resume) throw new BatchpostError('USAGE', '--resend-changed goes with --resume');
  if (v.traceFailed && v.trace === undefined)
    throw new BatchpostError('USAGE', '--trace-failed goes with --trace FILE');
  if (v.trace !== undefined && v.queue !== undefined)
    throw new BatchpostError(
      'USAGE',
      '--trace and --queue: the exchanges happen on the workers, which keep no trace',
      'Trace a local run of the requests in question instead.',
    );
  return v.rerunWhere !== undefined ? 'rerun' : v.retryFailed ? 'retry-failed' : v.resume ? 'resume' : null;
}

/** Stable for the same command run again (as --resume does), so idempotency keys repeat exactly. */
function defaultRunId(method: string, url: string, input: string, out: string | undefined): string {
  const where = out ? path.resolve(out) : input === '-' ? 'stdin' : path.resolve(input);
  return createHash('sha256').update(`${method} ${url} ${where}`).digest('base64url').slice(0, 12);
}
