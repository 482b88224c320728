// --resume and --retry-failed read back an NDJSON results file that may be a gigabyte and may end in a line torn by
// a kill -9. The file is streamed, never loaded; only ids are kept in memory.
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';
import { gzipMember, isGzipPath, resultChunks, type GzipScan } from './gzip-file.js';
import { holdsResults } from './holds-results.js';
import { openAiLineCode, openAiLineOk } from './openai-line.js';

export interface ResumeState {
  /** Ids not to send again: every recorded id (resume), or those whose last record is not to be re-sent. */
  done: Set<string>;
  /** Request hash of each id in `done`, for the ids whose line carries one: --resume notices edited payloads. */
  hashes: Map<string, string>;
  /** Distinct ids kept (in `done`). */
  kept: number;
  /** Distinct ids whose record was dropped to be re-sent (retry-failed, rerun). */
  resend: number;
  /** A torn last line (a crash mid-write) was cut off the file. */
  repairedTornLine: boolean;
  /** Result lines read, duplicates included, before any retry-failed rewrite. */
  lines: number;
}

export interface ResumeOptions {
  /** resume: keep every record; retry-failed: re-send ok:false; rerun: re-send the records `where` matches. */
  mode: 'resume' | 'retry-failed' | 'rerun';
  /** With mode rerun: true for a recorded result line (parsed) whose id is to be sent again. */
  where?: (line: Record<string, unknown>) => boolean;
  signal?: AbortSignal;
}

const NEWLINE = 10;

/**
 * Reads the results file at `path` and prepares it to be appended to: repairs its last line if a crash tore it,
 * and with retry-failed or rerun rewrites it (atomically) to hold only the last line of each kept id, so that after the
 * failures are re-sent and appended the file holds exactly one line per id.
 */
export async function openResume(path: string, options: ResumeOptions): Promise<ResumeState> {
  const { mode, signal } = options;
  signal?.throwIfAborted();
  const stat = await statResults(path);
  const index = new ResumeIndex(resendTest(options));
  if (stat === null) return index.state();

  const scan = await scanLines(path, signal, (buf, start, end, lineNo) => {
    const head = readResultHead(buf, start, end);
    if (head === null) return;
    if (typeof head === 'string') throw corrupt(path, lineNo, head);
    index.record(head, lineNo);
  });
  const repairedTornLine = await repairTail(path, scan, index);

  const { keepIds, resendIds, lastLineOfRepeated } = index;
  if (mode !== 'resume' && (resendIds.size > 0 || lastLineOfRepeated.size > 0)) {
    await rewriteKeeping(path, stat.mode, keepIds, lastLineOfRepeated, signal);
  }
  return { ...index.state(), repairedTornLine };
}

/** Every id of a results file by its last line: what a resumed run's summary and exit code are about. */
export interface ResultsTally {
  /** Distinct ids. */
  total: number;
  ok: number;
  failed: number;
  /** Failed ids by error code. */
  byError: Record<string, number>;
}

/** Reads the results file at `path` (read only; a torn last line is left out) and counts its ids' outcomes. */
export async function tallyResults(path: string, signal?: AbortSignal): Promise<ResultsTally> {
  const last = new Map<string, string | null>();
  if ((await statResults(path)) !== null) {
    await scanLines(path, signal, (buf, start, end) => {
      const head = readResultHead(buf, start, end);
      if (head === null || typeof head === 'string') return;
      last.set(head.id, head.ok ? null : errorCodeOf(head.value));
    });
  }
  const tally: ResultsTally = { total: last.size, ok: 0, failed: 0, byError: {} };
  for (const code of last.values()) {
    if (code === null) tally.ok++;
    else {
      tally.failed++;
      tally.byError[code] = (tally.byError[code] ?? 0) + 1;
    }
  }
  return tally;
}

function errorCodeOf(line: Record<string, unknown>): string {
  if (isOpenAiLine(line)) return openAiLineCode(line) ?? 'UNKNOWN';
  const code = (line.error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** Whether a recorded line's id is to be sent again, by mode. */
function resendTest(options: ResumeOptions): (line: ResultHead) => boolean {
  const where = options.where;
  if (options.mode === 'resume') return () => false;
  if (options.mode === 'retry-failed') return (h) => !h.ok;
  return (h) => where!(h.value);
}

/** The results file's stat, or null when there is none yet; anything but a regular file is refused. */
async function statResults(path: string): Promise<fs.Stats | null> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!stat.isFile()) {
    throw new BatchpostError(
      'USAGE',
      `${path} is not a regular file, so it cannot be resumed`,
      'Give --out a file path.',
    );
  }
  return stat;
}

/** The ids of the results file as its lines are read: last record wins, so an id moves between the two sets. */
class ResumeIndex {
  readonly keepIds = new Set<string>();
  readonly resendIds = new Set<string>();
  readonly hashes = new Map<string, string>();
  /** Only ids seen more than once get an entry (the line of their last record): the rewrite keeps that line alone. */
  readonly lastLineOfRepeated = new Map<string, number>();
  private lines = 0;

  constructor(private readonly resend: (line: ResultHead) => boolean) {}

  record(parsed: ResultHead, lineNo: number): void {
    if (this.keepIds.has(parsed.id) || this.resendIds.has(parsed.id)) this.lastLineOfRepeated.set(parsed.id, lineNo);
    if (!this.resend(parsed)) {
      this.resendIds.delete(parsed.id);
      this.keepIds.add(parsed.id);
      if (parsed.hash !== undefined) this.hashes.set(parsed.id, parsed.hash);
      else this.hashes.delete(parsed.id);
    } else {
      this.keepIds.delete(parsed.id);
      this.resendIds.add(parsed.id);
      this.hashes.delete(parsed.id);
    }
    this.lines++;
  }

  state(): ResumeState {
    return {
      done: this.keepIds,
      hashes: this.hashes,
      kept: this.keepIds.size,
      resend: this.resendIds.size,
      repairedTornLine: false,
      lines: this.lines,
    };
  }
}

/**
 * The bytes after the last newline: a torn write is cut off (true), a whole record that only lacks its newline
 * gets one and is recorded, and anything else is RESULTS_CORRUPT.
 */
async function repairTail(path: string, scan: ScanResult, index: ResumeIndex): Promise<boolean> {
  if (isGzipPath(path)) return repairGzipTail(path, scan, index);
  if (scan.tail.length === 0) return false;
  const tailLine = scan.lines + 1;
  const head = readResultHead(scan.tail, 0, scan.tail.length);
  if (head === null || head === 'not valid JSON') {
    // A write cut short by a crash: what was not fully written was never recorded, so it is sent again.
    await fs.promises.truncate(path, scan.bytes - scan.tail.length);
    return true;
  }
  if (typeof head === 'string') throw corrupt(path, tailLine, head);
  // A whole record that only lacks its newline: appending to it as is would glue two records together.
  await fs.promises.appendFile(path, '\n');
  index.record(head, tailLine);
  return false;
}

/**
 * A .gz file: a torn last member is cut off (its lines were never recorded, so they are sent again). Members end
 * with their lines, so bytes after the last newline are either a whole record (it gets its newline, in a member
 * of its own) or not batchpost's.
 */
async function repairGzipTail(path: string, scan: ScanResult, index: ResumeIndex): Promise<boolean> {
  if (scan.tornMemberAt !== null) await fs.promises.truncate(path, scan.tornMemberAt);
  if (scan.tail.length > 0) {
    const tailLine = scan.lines + 1;
    const head = readResultHead(scan.tail, 0, scan.tail.length);
    if (head === null) return scan.tornMemberAt !== null;
    if (typeof head === 'string') throw corrupt(path, tailLine, head);
    await fs.promises.appendFile(path, gzipMember('\n'));
    index.record(head, tailLine);
  }
  return scan.tornMemberAt !== null;
}

/**
 * Throws OUTPUT_EXISTS rather than silently overwriting or appending to results from another run, and refuses
 * --overwrite on a file that does not hold results (it is someone's data, not batchpost's to replace). A FIFO or
 * a device is written in place, so it is never refused.
 */
export function assertWritableOut(path: string, options: { resume: boolean; overwrite: boolean }): void {
  if (options.resume) return;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    return; // missing (or unreadable, which opening it will report)
  }
  if (!stat.isFile() || stat.size === 0) return;
  if (!holdsResults(path)) {
    throw new BatchpostError(
      'OUTPUT_EXISTS',
      `${path} exists and does not hold batchpost results, so it is not replaced${options.overwrite ? ', even with --overwrite' : ''}`,
      'Give --out a new file, or remove that one first if it really is to go.',
    );
  }
  if (options.overwrite) return;
  throw new BatchpostError(
    'OUTPUT_EXISTS',
    `${path} already holds results`,
    'Add --resume to continue it, --retry-failed to re-send its failures, or --overwrite to start over.',
  );
}

interface ResultHead {
  id: string;
  ok: boolean;
  hash?: string;
  value: Record<string, unknown>;
}

/** The id and outcome of one line; null for a blank line; a reason (string) when it is not a result line. */
function readResultHead(buf: Buffer, start: number, end: number): ResultHead | string | null {
  if (start === end) return null;
  const text = buf.toString('utf8', start, end);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trim() === '' ? null : 'not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  if (isOpenAiLine(value as Record<string, unknown>)) {
    const line = value as { custom_id: string; response?: unknown; error?: unknown };
    return { id: line.custom_id, ok: openAiLineOk(line), value: value as Record<string, unknown> };
  }
  const { id, ok, hash } = value as { id?: unknown; ok?: unknown; hash?: unknown };
  if (typeof id !== 'string') return 'no string "id"';
  if (typeof ok !== 'boolean') return 'no boolean "ok"';
  return { id, ok, hash: typeof hash === 'string' ? hash : undefined, value: value as Record<string, unknown> };
}

/** A --format openai line: its payload id is `custom_id` (its `id` names the line), its outcome has no `ok`. */
function isOpenAiLine(value: Record<string, unknown>): boolean {
  return typeof value.custom_id === 'string' && !('ok' in value) && 'response' in value && 'error' in value;
}

function corrupt(path: string, line: number, reason: string): BatchpostError {
  return new BatchpostError(
    'RESULTS_CORRUPT',
    `${path}:${line}: not a result line (${reason})`,
    'Fix or remove that line, then run again.',
  );
}

interface ScanResult {
  /** Bytes read. */
  bytes: number;
  /** Complete (newline-terminated) lines seen. */
  lines: number;
  /** Bytes after the last newline: empty, a record missing its newline, or a torn write. */
  tail: Buffer;
  /** A .gz file: where a last gzip member torn by a crash starts (null: none). */
  tornMemberAt: number | null;
}

/**
 * Calls `onLine` with the bytes of each newline-terminated line (newline excluded) and a 1-based line number.
 * Lines are split on bytes, not decoded text: a newline byte never occurs inside a UTF-8 sequence, and byte
 * offsets are what truncation needs. `afterChunk` lets the caller do async work with what a chunk produced.
 */
async function scanLines(
  path: string,
  signal: AbortSignal | undefined,
  onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void,
  afterChunk?: () => Promise<void>,
): Promise<ScanResult> {
  let carry: Buffer[] = [];
  let lineNo = 0;
  let bytes = 0;
  const gzip: GzipScan = { tornAt: null };
  for await (const chunk of resultChunks(path, gzip, signal)) {
    bytes += chunk.length;
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl !== -1 && carry.length > 0) {
      carry.push(chunk.subarray(0, nl));
      const line = Buffer.concat(carry);
      carry = [];
      onLine(line, 0, line.length, ++lineNo);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    while (nl !== -1) {
      onLine(chunk, start, nl, ++lineNo);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
    if (afterChunk) await afterChunk();
  }
  return { bytes, lines: lineNo, tail: Buffer.concat(carry), tornMemberAt: gzip.tornAt };
}

/**
 * Rewrites the file with only the last line of each kept id, byte for byte. Written beside it and renamed over it,
 * so a crash leaves either the old file or the new one, never a mix.
 */
async function rewriteKeeping(
  path: string,
  mode: number,
  keepIds: Set<string>,
  lastLineOfRepeated: Map<string, number>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const out = await fs.promises.open(tmp, 'w');
  const newline = Buffer.from('\n');
  const gzip = isGzipPath(path);
  let kept: Buffer[] = [];
  try {
    await out.chmod(mode & 0o7777);
    await scanLines(
      path,
      signal,
      (buf, start, end, lineNo) => {
        const head = readResultHead(buf, start, end);
        if (head === null || typeof head === 'string' || !keepIds.has(head.id)) return;
        const last = lastLineOfRepeated.get(head.id);
        if (last !== undefined && last !== lineNo) return;
        kept.push(buf.subarray(start, end), newline);
      },
      async () => {
        if (kept.length === 0) return;
        const parts = kept;
        kept = [];
        const plain = Buffer.concat(parts);
        const bytes = gzip ? gzipMember(plain) : plain;
        for (let offset = 0; offset < bytes.length;) {
          offset += (await out.write(bytes, offset, bytes.length - offset)).bytesWritten;
        }
      },
    );
    await out.sync();
    await out.close();
    signal?.throwIfAborted();
    await fs.promises.rename(tmp, path);
  } catch (err) {
    await out.close().catch(() => {});
    await fs.promises.unlink(tmp).catch(() => {});
    throw err;
  }
}
