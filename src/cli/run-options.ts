// `batchpost run`: its flags (from the option table) and their translation into the engine's RunOptions plus what
// the command sets up itself; the checks here are those spanning several flags.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import type { RunOptions } from '../engine/options.js';
import { BatchpostError } from '../engine/errors.js';
import type { OutputFormat } from '../output/index.js';
import type { FailOn } from '../options/parse.js';
import { INPUT_FORMATS } from '../options/table.js';
import type { FlagsOf, ValuesOf } from '../options/types.js';
import { parseFlags, runOptionsOf } from '../options/values.js';
import type { ProgressMode } from '../progress/index.js';
import type { ReportTargets } from '../report/index.js';
import { shellQuote } from '../util/shell-quote.js';
import { addOptions, examples } from './options.js';

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
  inputFormat: (typeof INPUT_FORMATS)[number];
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
  options.runId ??= defaultRunId(options.method!, v.url, input, v.out);
  if (v.inputFormat === 'auto' && /\.ya?ml$/i.test(input)) throw yamlInput(input);
  // A .csv name is the one thing content detection cannot tell (a CSV row looks like anything).
  const inputFormat = v.inputFormat === 'auto' && /\.csv$/i.test(input) ? 'csv' : v.inputFormat;
  options.inputKind = inputFormat === 'csv' ? 'csv' : 'json';
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
  return v.rerunWhere !== undefined ? 'rerun' : v.retryFailed ? 'retry-failed' : v.resume ? 'resume' : null;
}

/** Stable for the same command run again (as --resume does), so idempotency keys repeat exactly. */
function defaultRunId(method: string, url: string, input: string, out: string | undefined): string {
  const where = out ? path.resolve(out) : input === '-' ? 'stdin' : path.resolve(input);
  return createHash('sha256').update(`${method} ${url} ${where}`).digest('base64url').slice(0, 12);
}
