// The option table drives the commands: their flags and --help groups, the RunOptions the flags give, the
// library's defaults and what travels to sender threads and workers all come from src/options/table.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { processIO, type CommandHost } from '../src/cli/io.js';
import { addReportCommand } from '../src/cli/report.js';
import { addRunOptions, toRunSetup, type RunFlags } from '../src/cli/run-options.js';
import { addServeCommand } from '../src/cli/serve.js';
import { addWorkerCommand } from '../src/cli/worker.js';
import { resolveOptions, type RunOptions } from '../src/engine/options.js';
import { compileSender, senderConfigOf, type SenderConfig } from '../src/engine/sender-config.js';
import { GROUPS, OPTIONS, type CommandName, type OptionSpec, type Use } from '../src/options/table.js';
import type { SenderKey } from '../src/options/types.js';
import { toRunOptions } from '../src/options/values.js';
import { runCli } from './helpers/cli.js';

type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const COMMANDS: CommandName[] = ['run', 'serve', 'worker', 'report'];
const ENTRIES = Object.entries(OPTIONS) as [string, OptionSpec][];
const isSwitch = (spec: OptionSpec) => !spec.flags.includes('<');
const useOf = (spec: OptionSpec, command: CommandName): Use | undefined => {
  const use = spec.commands[command];
  return use === true ? {} : use;
};
const longFlag = (spec: OptionSpec) => /--[\w-]+/.exec(spec.flags)![0];
/** The library value a default as typed gives, worked out here rather than by the code under test. */
const parsedDefault = (spec: OptionSpec): unknown =>
  isSwitch(spec) ? spec.default : (spec.parse as (t: unknown, f: string) => unknown)(spec.default, longFlag(spec));

/** The commands as main.ts registers them, their actions replaced to hand the flags over instead of running. */
function program(): Command {
  const p = new Command('batchpost').exitOverride().configureOutput({ writeErr: () => {} });
  addRunOptions(p.command('run').argument('<input>'));
  const host: CommandHost = { argv: [], io: processIO(), exit: () => {} };
  addReportCommand(p, host);
  addServeCommand(p, host);
  addWorkerCommand(p, host);
  for (const c of p.commands) c.exitOverride();
  return p;
}
const commandOf = (p: Command, name: CommandName) => p.commands.find((c) => c.name() === name)!;

async function flagsOf(name: CommandName, args: string[]): Promise<Record<string, unknown>> {
  const p = program();
  let flags: Record<string, unknown> = {};
  commandOf(p, name).action((...a: unknown[]) => {
    flags = a.find((x) => typeof x === 'object' && x !== null && !(x instanceof Command)) as Record<string, unknown>;
  });
  await p.parseAsync([name, ...args], { from: 'user' });
  return flags;
}

/** --help split by group heading: heading -> the option terms under it. */
function helpGroups(help: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of help.split('\n')) {
    if (/^\S.*:$/.test(line)) groups.set(line, (current = []));
    else if (current !== null && /^ {2}-/.test(line)) current.push(line.trim());
    else if (line === '') current = null;
  }
  return groups;
}

describe('flags and --help', () => {
  test.each(COMMANDS)('%s: every table entry naming it is in its --help, under its group', (name) => {
    const groups = helpGroups(commandOf(program(), name).helpInformation());
    const expected = ENTRIES.filter(([, spec]) => spec.commands[name] !== undefined);
    expect(expected.length).toBeGreaterThan(0);
    for (const [, spec] of expected) {
      const heading = GROUPS[useOf(spec, name)!.group ?? spec.group];
      const terms = groups.get(heading) ?? [];
      expect({ flag: spec.flags, in: terms.some((t) => t.startsWith(spec.flags)) }).toEqual({
        flag: spec.flags,
        in: true,
      });
    }
  });

  test.each(COMMANDS)('%s: takes exactly the table entries naming it, with their defaults', (name) => {
    const cmd = commandOf(program(), name);
    const taken = cmd.options.map((o) => o.attributeName()).sort();
    expect(taken).toEqual(
      ENTRIES.filter(([, spec]) => spec.commands[name] !== undefined)
        .map(([key]) => key)
        .sort(),
    );
    for (const option of cmd.options) {
      const spec = (OPTIONS as Record<string, OptionSpec>)[option.attributeName()]!;
      expect(option.flags).toBe(spec.flags);
      const own = useOf(spec, name)!;
      const shown = own.default === null ? undefined : (own.default ?? (isSwitch(spec) ? undefined : spec.default));
      expect({ flag: option.flags, default: option.defaultValue as unknown }).toEqual({
        flag: option.flags,
        default: shown,
      });
      expect(option.mandatory).toBe(own.required ?? spec.required ?? false);
    }
  });

  test("groups show in GROUPS' order", () => {
    const order = Object.values(GROUPS) as string[];
    for (const name of COMMANDS) {
      const headings = [...helpGroups(commandOf(program(), name).helpInformation()).keys()].filter((h) =>
        order.includes(h),
      );
      expect(headings).toEqual([...headings].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    }
  });

  test.each(COMMANDS)('batchpost %s --help: grouped, ending with examples', async (name) => {
    const r = await runCli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n\nRequest:\n|\n\nReports:\n|\n\nDistributed:\n/);
    expect(r.stdout).toMatch(/Examples?:\n( {2}(batchpost|curl) .*\n)+\n*$/);
  });
});

describe('per-command uses', () => {
  test('serve: --concurrency defaults to 64; run: 10; worker: none (the run decides)', async () => {
    expect(toRunOptions('serve', (await flagsOf('serve', ['--url', 'http://h/'])) as never).concurrency).toBe(64);
    expect(resolveOptions(toRunOptions('serve', (await flagsOf('serve', ['--url', 'http://h/'])) as never))).toEqual(
      expect.objectContaining({ concurrency: 64 }),
    );
    expect(
      toRunSetup('in.ndjson', (await flagsOf('run', ['in.ndjson', '--url', 'http://h/'])) as RunFlags).options,
    ).toEqual(expect.objectContaining({ concurrency: 10 }));
    expect((await flagsOf('worker', ['--queue', 'redis://h'])).concurrency).toBeUndefined();
    expect(commandOf(program(), 'worker').helpInformation()).toContain("(default: the run's");
  });

  test('--queue is optional to the parser: BATCHPOST_QUEUE stands in (worker refuses neither, see queue-redis-safety)', async () => {
    expect((await flagsOf('worker', [])).queue).toBeUndefined();
    expect((await flagsOf('run', ['in.ndjson', '--url', 'http://h/'])).queue).toBeUndefined();
  });
});

/** PEM files for the TLS flags, which read them when parsed (their text is the value). */
const PEM_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-options-'));
const pemFile = (name: string, text: string): string => {
  fs.writeFileSync(path.join(PEM_DIR, name), text);
  return path.join(PEM_DIR, name);
};
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

/** A value for each run entry with a RunOptions field, as typed and as the library gets it (none its default). */
const SAMPLES: Record<string, { args: string[]; value: unknown }> = {
  url: { args: ['--url', 'http://h/x'], value: 'http://h/x' },
  method: { args: ['-X', 'put'], value: 'PUT' },
  header: { args: ['-H', 'A: b', '-H', 'C: d'], value: { A: 'b', C: 'd' } },
  body: { args: ['--body', 'b'], value: 'b' },
  idField: { args: ['--id-field', 'i'], value: 'i' },
  bodyFormat: { args: ['--body-format', 'form'], value: 'form' },
  compress: { args: ['--compress', 'gzip'], value: 'gzip' },
  authCommand: { args: ['--auth-command', 'get-token'], value: 'get-token' },
  authRefresh: { args: ['--auth-refresh', '10m'], value: 600_000 },
  concurrency: { args: ['-c', '7'], value: 7 },
  rate: { args: ['--rate', '120/m'], value: 2 },
  timeout: { args: ['--timeout', '2s'], value: 2000 },
  maxResponseSize: { args: ['--max-response-size', '512kb'], value: 512 * 1024 },
  location: { args: ['-L'], value: true },
  maxRedirs: { args: ['--max-redirs', '3'], value: 3 },
  retries: { args: ['--retries', '5'], value: 5 },
  maxRetryAfter: { args: ['--max-retry-after', '1.5m'], value: 90_000 },
  retryUnsafe: { args: ['--retry-unsafe'], value: true },
  unreachableAfter: { args: ['--unreachable-after', '5'], value: 5 },
  idempotencyKey: { args: ['--idempotency-key'], value: true },
  runId: { args: ['--run-id', 'r1'], value: 'r1' },
  adaptive: { args: ['--no-adaptive'], value: false },
  serializeBy: { args: ['--serialize-by', 'k'], value: 'k' },
  includeHeaders: { args: ['--include-headers'], value: true },
  saveResponses: { args: ['--save-responses', 'bodies'], value: 'bodies' },
  transform: { args: ['--transform', 'body'], value: 'body' },
  expect: { args: ['--expect', 'status'], value: 'status' },
  skipInvalid: { args: ['--skip-invalid'], value: true },
  resendChanged: { args: ['--resend-changed', '--resume', '-o', 'out.ndjson'], value: true },
  proxy: { args: ['--proxy', 'proxy.corp:3128'], value: 'http://proxy.corp:3128' },
  noproxy: { args: ['--noproxy', 'localhost,.internal'], value: 'localhost,.internal' },
  cacert: { args: ['--cacert', pemFile('ca.pem', CERT_PEM)], value: CERT_PEM },
  cert: { args: ['--cert', pemFile('client.pem', CERT_PEM)], value: CERT_PEM },
  key: { args: ['--key', pemFile('client.key', KEY_PEM)], value: KEY_PEM },
  insecure: { args: ['-k'], value: true },
  http2: { args: ['--http2'], value: true },
};

describe('flags to RunOptions', () => {
  const mapped = ENTRIES.filter(([, spec]) => spec.commands.run !== undefined && spec.runOption !== undefined);

  test('every run entry with a RunOptions field has a sample here', () => {
    expect(mapped.map(([key]) => key).sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  test('toRunSetup maps every run entry to its RunOptions field, and only those', async () => {
    const flags = await flagsOf('run', ['in.ndjson', ...Object.values(SAMPLES).flatMap((s) => s.args)]);
    const { options } = toRunSetup('in.ndjson', flags as RunFlags);
    const defaults = resolveOptions({ url: 'http://h/' }) as unknown as Record<string, unknown>;
    for (const [key, spec] of mapped) {
      const got = (options as unknown as Record<string, unknown>)[spec.runOption!];
      expect({ key, got }).toEqual({ key, got: SAMPLES[key]!.value });
      expect({ key, isDefault: got === defaults[spec.runOption!] }).toEqual({ key, isDefault: false });
    }
    expect(Object.keys(options).sort()).toEqual([...mapped.map(([, s]) => s.runOption!), 'inputKind'].sort());
  });

  test('without flags: the run id is derived and every other value is the library default', async () => {
    const flags = (await flagsOf('run', ['in.ndjson', '--url', 'http://h/'])) as RunFlags;
    const { options } = toRunSetup('in.ndjson', flags);
    expect(options.runId).toMatch(/^[\w-]{12}$/);
    expect(toRunSetup('in.csv', flags).options.inputKind).toBe('csv');
    expect(resolveOptions({ ...options, runId: undefined })).toEqual(resolveOptions({ url: 'http://h/' }));
  });
});

describe('defaults, declared once', () => {
  const defaulted = ENTRIES.filter(([, spec]) => spec.runOption !== undefined && spec.default !== undefined);

  test("resolveOptions' defaults are the table's, parsed", () => {
    const resolved = resolveOptions({ url: 'http://h/' }) as unknown as Record<string, unknown>;
    expect(defaulted.length).toBeGreaterThan(10);
    for (const [key, spec] of defaulted) {
      expect({ key, value: resolved[spec.runOption!] }).toEqual({ key, value: parsedDefault(spec) });
    }
  });

  test('the values are those batchpost always had', () => {
    expect(resolveOptions({ url: 'http://h/' })).toEqual(
      expect.objectContaining({
        method: 'POST',
        headers: {},
        concurrency: 10,
        rate: null,
        timeoutMs: 30_000,
        retries: 2,
        maxRetryAfterMs: 60_000,
        retryBaseDelayMs: 200,
        retryUnsafe: false,
        idempotencyKey: false,
        runId: 'batchpost',
        includeHeaders: false,
        adaptive: true,
        resendChanged: false,
        inputKind: 'json',
        skipInvalid: false,
      }),
    );
  });

  test('resolveOptions keeps only RunOptions fields, and a caller given value wins', () => {
    const options = { url: 'http://h/', concurrency: 3, method: 'put', transport: {} } as RunOptions;
    const resolved = resolveOptions(options);
    expect(resolved).not.toHaveProperty('transport');
    expect(resolved).toEqual(expect.objectContaining({ concurrency: 3, method: 'PUT' }));
    expect(() => resolveOptions({ url: 'http://h/', concurrency: 0 })).toThrow(/concurrency must be a positive/);
  });
});

describe('SenderConfig', () => {
  const senderKeys = ENTRIES.filter(([, spec]) => spec.sender).map(([, spec]) => spec.runOption!);

  test("its keys are the table's sender entries and the retry policy", () => {
    expect(senderKeys.length).toBeGreaterThan(5);
    const config = senderConfigOf(resolveOptions({ url: 'http://h/' }));
    expect(Object.keys(config).sort()).toEqual([...senderKeys, 'policy'].sort());
    // The type says the same (checked when the tests compile).
    const sameKeys: Equal<keyof SenderConfig, SenderKey | 'policy'> = true;
    expect(sameKeys).toBe(true);
  });

  test('each sender value reaches the Sender, and survives JSON (a distributed run stores it in Redis)', () => {
    const o = resolveOptions({
      url: 'http://h/',
      concurrency: 3,
      rate: 7,
      timeoutMs: 1234,
      includeHeaders: true,
      saveResponses: 'bodies',
      adaptive: false,
      transform: 'body',
      expect: 'status',
      authCommand: 'get-token',
      authRefreshMs: 60_000,
    });
    const config = JSON.parse(JSON.stringify(senderConfigOf(o))) as SenderConfig;
    const sender = compileSender({ ...config, extra: 1 } as SenderConfig);
    for (const key of senderKeys) {
      if (key === 'transform' || key === 'expect') continue;
      expect({ key, value: (sender as Record<string, unknown>)[key] }).toEqual({
        key,
        value: (o as unknown as Record<string, unknown>)[key],
      });
    }
    expect(sender.expect?.source).toBe('status');
    expect(sender.transform).not.toBeNull();
    expect(sender).not.toHaveProperty('extra');
    const bare = JSON.parse(JSON.stringify(senderConfigOf(resolveOptions({ url: 'http://h/' })))) as SenderConfig;
    expect(bare).toEqual(expect.objectContaining({ transform: null, expect: null }));
  });
});
