// --auth-command: runs the user's command through /bin/sh and reads the headers it prints. Its output is a secret:
// no message quotes it, and its header names count as secret names for redaction (redact.ts). What it says on
// stderr is shown when it fails (the last lines, bounded).
import { spawn } from 'node:child_process';
import { AuthRefresher } from '../engine/auth.js';
import { BatchpostError } from '../engine/errors.js';
import { markSecretName, REDACTED } from './redact.js';
import { escapeControls } from './terminal-text.js';

/** A command that takes longer has failed: a token endpoint that hangs would otherwise hang the run. */
export const AUTH_COMMAND_TIMEOUT_MS = 30_000;
/** Lines of its stderr shown when it fails. */
const STDERR_LINES = 20;
/** Bytes kept of each stream: headers fit many times over; a runaway command cannot fill memory. */
const MAX_BYTES = 64 * 1024;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/;
// eslint-disable-next-line no-control-regex -- a header value may hold tabs, never another control character
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

export interface AuthCommandOptions {
  /** --auth-refresh in ms; null: refresh on a 401 only. */
  refreshMs: number | null;
  /** Told once when a refresh during the run fails. */
  onFailure?: (err: BatchpostError) => void;
  timeoutMs?: number;
}

/** A refresher running `command`, started: the command has run once. Rejects with AUTH_COMMAND_FAILED. */
export async function openAuthCommand(
  command: string,
  o: AuthCommandOptions,
  signal?: AbortSignal,
): Promise<AuthRefresher> {
  const timeoutMs = o.timeoutMs ?? AUTH_COMMAND_TIMEOUT_MS;
  const refresher = new AuthRefresher((s) => runAuthCommand(command, s, timeoutMs), {
    refreshMs: o.refreshMs,
    onFailure: o.onFailure,
  });
  try {
    await refresher.start(signal);
  } catch (err) {
    refresher.close();
    throw err;
  }
  return refresher;
}

/** Runs the command once: its headers, or an AUTH_COMMAND_FAILED BatchpostError. */
export function runAuthCommand(
  command: string,
  signal: AbortSignal,
  timeoutMs: number = AUTH_COMMAND_TIMEOUT_MS,
): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    // Its own process group: a timeout or a stop ends the command and whatever it started (curl, a CLI).
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = new Bounded('head');
    const err = new Bounded('tail');
    let why: string | null = null;
    const kill = (reason: string) => {
      why ??= reason;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`did not finish within ${timeoutMs / 1000} s`), timeoutMs);
    const onAbort = () => kill('was stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => out.add(b));
    child.stderr.on('data', (b: Buffer) => err.add(b));
    child.once('error', (e) => (why ??= `could not start: ${e.message}`));
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      const stdout = out.text();
      try {
        if (why === null && code !== 0) why = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        if (why === null) return resolve(headersOf(stdout));
      } catch (e) {
        why = (e as Error).message;
      }
      reject(failure(why, err.text(), stdout));
    });
  });
}

/** "Name: value" lines, or one bare token (Authorization: Bearer <token>). Messages never quote the output. */
export function headersOf(stdout: string): Record<string, string> {
  const lines = stdout
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '');
  if (lines.length === 0) throw new Error('printed nothing on stdout');
  const headers: Record<string, string> = {};
  for (const [i, line] of lines.entries()) {
    const m = HEADER_LINE.exec(line);
    if (m === null) {
      if (lines.length === 1 && /^[\x21-\x7e]+$/.test(line)) return secret({ authorization: `Bearer ${line}` });
      throw new Error(
        lines.length === 1
          ? 'printed a line that is neither "Name: value" nor a token'
          : `line ${i + 1} of its output is not "Name: value"`,
      );
    }
    if (CONTROL.test(m[2]!)) throw new Error(`line ${i + 1} of its output holds a control character`);
    headers[m[1]!] = m[2]!;
  }
  return secret(headers);
}

function secret(headers: Record<string, string>): Record<string, string> {
  for (const name of Object.keys(headers)) markSecretName(name);
  return headers;
}

function failure(why: string, stderr: string, stdout: string): BatchpostError {
  // A command that printed a token and then failed: its stderr may repeat it.
  let shown = stderr;
  for (const line of stdout.split('\n')) {
    const s = line.trim();
    if (s.length >= 8) shown = shown.split(s).join(REDACTED);
  }
  const lines = shown.split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  const tail = lines.slice(-STDERR_LINES).map((l) => `    ${escapeControls(l.slice(0, 500))}`);
  const said =
    tail.length === 0
      ? '; it wrote nothing on stderr'
      : `; its stderr${lines.length > STDERR_LINES ? ` (last ${STDERR_LINES} lines)` : ''}:\n${tail.join('\n')}`;
  return new BatchpostError('AUTH_COMMAND_FAILED', `--auth-command ${why}${said}`);
}

/** The first (or last) MAX_BYTES of a stream. */
class Bounded {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly keep: 'head' | 'tail') {}

  add(b: Buffer): void {
    if (this.keep === 'head' && this.size >= MAX_BYTES) return;
    this.chunks.push(b);
    this.size += b.length;
    if (this.keep === 'tail' && this.size > 2 * MAX_BYTES) {
      const all = Buffer.concat(this.chunks).subarray(-MAX_BYTES);
      this.chunks = [all];
      this.size = all.length;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return (this.keep === 'head' ? all.subarray(0, MAX_BYTES) : all.subarray(-MAX_BYTES)).toString('utf8');
  }
}
