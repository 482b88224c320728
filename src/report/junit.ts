// JUnit XML, one test case per request, in one suite per run: the format GitLab, Jenkins and GitHub test
// reporters read. The suite header carries counts that are known only at the end, so test cases are written
// first — to a temporary file as results arrive (run), or in a second pass over the results file (report) — and
// the final file is assembled behind a temporary name and renamed into place: a reader never sees half a file,
// and memory stays flat for a million test cases.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Result } from '../engine/types.js';
import { createLineWriter, type LineWriter } from '../output/index.js';
import { openReportFile, writesInPlace } from './files.js';
import { redactUrls, redactValue } from '../util/redact.js';
import { xmlAttr, xmlText } from './xml.js';

export interface JunitSuite {
  name: string;
  /** Every test case's classname (dots group test cases into packages in Jenkins). */
  classname: string;
  tests: number;
  failures: number;
  /** Wall-clock duration of the run, seconds; null when the results record no timings (no `time` is written). */
  timeSec: number | null;
  /** When the run started, epoch ms; null when unknown. */
  timestamp: number | null;
  properties: Array<[name: string, value: string]>;
}

const RESPONSE_CHARS = 1000;

/**
 * One `<testcase>` element with its newline; a failed request carries `<failure type="CODE" message="…">`. A result
 * read from a line without timings (`noTimings`, --format openai) has no `time` (optional in JUnit) and no
 * attempts or duration in its details, rather than zeros.
 */
export function junitCase(r: Result & { noTimings?: true }, classname: string): string {
  const time = r.noTimings ? '' : ` time="${seconds(r.durationMs)}"`;
  const head = `    <testcase name="${xmlAttr(r.id)}" classname="${xmlAttr(classname)}"${time}`;
  if (r.ok) return `${head}/>\n`;
  const code = r.error?.code ?? (r.status !== null ? `HTTP_${r.status}` : 'FAILED');
  const message = redactUrls(r.error?.message ?? `answered ${r.status}`);
  let details = `${code}: ${message}\nstatus: ${r.status ?? 'none'}`;
  if (!r.noTimings) details += `\nattempts: ${r.attempts}\nduration: ${r.durationMs} ms`;
  if (r.response !== null && r.response !== undefined) {
    const response = redactValue(r.response);
    const text = typeof response === 'string' ? response : JSON.stringify(response);
    details += `\nresponse: ${text.length > RESPONSE_CHARS ? `${text.slice(0, RESPONSE_CHARS)}…` : text}`;
  }
  return `${head}>\n      <failure type="${xmlAttr(code)}" message="${xmlAttr(message)}">${xmlText(details)}</failure>\n    </testcase>\n`;
}

function junitHead(s: JunitSuite): string {
  const time = s.timeSec === null ? '' : ` time="${s.timeSec.toFixed(3)}"`;
  const timestamp = s.timestamp === null ? '' : ` timestamp="${new Date(s.timestamp).toISOString().slice(0, 19)}"`;
  const counts = `tests="${s.tests}" failures="${s.failures}" errors="0" skipped="0"${time}`;
  let out = '<?xml version="1.0" encoding="UTF-8"?>\n';
  out += `<testsuites name="batchpost" ${counts}>\n`;
  out += `  <testsuite name="${xmlAttr(s.name)}" ${counts}${timestamp} hostname="${xmlAttr(os.hostname())}">\n`;
  if (s.properties.length > 0) {
    out += '    <properties>\n';
    for (const [name, value] of s.properties)
      out += `      <property name="${xmlAttr(name)}" value="${xmlAttr(value)}"/>\n`;
    out += '    </properties>\n';
  }
  return out;
}

const JUNIT_TAIL = '  </testsuite>\n</testsuites>\n';

/**
 * Writes `target` from a header, a stream of test-case text and the tail, through `target.tmp-PID` renamed into
 * place (a FIFO or a device is written in place). `cases` is a file of test cases (run) or a function that writes them (report).
 */
export async function assembleJunit(
  target: string,
  suite: JunitSuite,
  cases: string | ((write: (text: string) => Promise<void>) => Promise<void>),
): Promise<void> {
  const file = await openReportFile(target);
  try {
    const out = bufferedWriter(file.handle);
    await out.write(junitHead(suite));
    if (typeof cases === 'string') {
      for await (const chunk of fs.createReadStream(cases, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        await out.writeBytes(chunk);
      }
    } else {
      await cases(out.write);
    }
    await out.write(JUNIT_TAIL);
    await out.flush();
  } catch (err) {
    await file.discard();
    throw err;
  }
  await file.commit();
}

/**
 * Test cases written as results arrive, into a temporary file beside the target (same file system, so nothing
 * large is copied across disks). Removed when the report is written or the process exits.
 */
export class JunitCases {
  readonly path: string;
  private readonly writer: LineWriter;
  private closed = false;
  private readonly cleanup = (): void => {
    try {
      fs.rmSync(this.path, { force: true });
    } catch {
      // best effort at exit
    }
  };

  constructor(
    target: string,
    private readonly classname: string,
  ) {
    // Beside the target (one file system, no copy across disks), unless the target is a device or a pipe.
    const dir = writesInPlace(target) ? os.tmpdir() : path.dirname(target);
    this.path = path.join(dir, `.${path.basename(target)}.cases-${process.pid}.tmp`);
    this.writer = createLineWriter({ path: this.path, append: false });
    process.on('exit', this.cleanup);
  }

  /** The first write failure (disk full), or null. */
  get error(): Error | null {
    return this.writer.error;
  }

  add(r: Result): void {
    if (!this.closed) this.writer.write(junitCase(r, this.classname));
  }

  /** Writes the JUnit file at `target` and removes the temporary file. */
  async finish(target: string, suite: JunitSuite): Promise<void> {
    this.closed = true;
    await this.writer.close();
    try {
      if (this.writer.error) throw this.writer.error;
      await assembleJunit(target, suite, this.path);
    } finally {
      await this.discard();
    }
  }

  /** Removes the temporary file; also what a run that ends without finish() calls. */
  async discard(): Promise<void> {
    this.closed = true;
    await this.writer.close();
    this.cleanup();
    process.off('exit', this.cleanup);
  }
}

function seconds(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? (ms / 1000).toFixed(4).replace(/\.?0+$/, '') : '0';
}

interface BufferedWriter {
  write: (text: string) => Promise<void>;
  writeBytes: (bytes: Buffer) => Promise<void>;
  flush: () => Promise<void>;
}

/** Collects text into ~1 MB writes: one syscall per thousands of test cases. */
function bufferedWriter(fh: fs.promises.FileHandle): BufferedWriter {
  const LIMIT = 1 << 20;
  let parts: string[] = [];
  let size = 0;
  const writeAll = async (bytes: Buffer): Promise<void> => {
    for (let off = 0; off < bytes.length;) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
  };
  const flush = async (): Promise<void> => {
    if (size === 0) return;
    const text = parts.join('');
    parts = [];
    size = 0;
    await writeAll(Buffer.from(text, 'utf8'));
  };
  return {
    write: async (text: string) => {
      parts.push(text);
      size += text.length;
      if (size >= LIMIT) await flush();
    },
    writeBytes: async (bytes: Buffer) => {
      await flush();
      await writeAll(bytes);
    },
    flush,
  };
}
