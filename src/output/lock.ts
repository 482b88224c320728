// One run at a time per results file: two runs appending to one file (two --resume started by mistake, a cron job
// that overlaps itself) would each send what the other sends and record every id twice. A run holds `FILE.lock`,
// created exclusively and holding its pid and host; a lock whose pid is gone from this host (a kill -9, a power
// cut) is stale and taken over. The same look clears what a killed --retry-failed left: `FILE.tmp-PID` of dead pids.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';

export interface ResultsLock {
  /** Removes the lock file. Idempotent. */
  release(): void;
}

/** Takes the lock on the results file `file`, or throws OUTPUT_LOCKED naming the run that holds it. */
export function lockResults(file: string): ResultsLock {
  const lockPath = `${file}.lock`;
  const owner = `${process.pid}\n${os.hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      try {
        fs.writeSync(fd, owner);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (err) {
      // A folder that cannot take the lock (missing, read-only) is reported by opening the results file itself.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return NO_LOCK;
      const holder = readHolder(lockPath);
      if (attempt > 0 || holder === null || !isStale(holder)) throw locked(file, lockPath, holder);
      fs.rmSync(lockPath, { force: true });
    }
  }
  removeDeadLeftovers(file);
  return new HeldLock(lockPath);
}

const NO_LOCK: ResultsLock = { release: () => {} };

class HeldLock implements ResultsLock {
  private held = true;

  constructor(private readonly lockPath: string) {
    // A process.exit() on any path (a second Ctrl-C, an uncaught error) must not leave the lock behind.
    process.on('exit', this.release);
  }

  readonly release = (): void => {
    if (!this.held) return;
    this.held = false;
    process.off('exit', this.release);
    try {
      fs.rmSync(this.lockPath, { force: true });
    } catch {
      // a lock that cannot be removed is stale once this process is gone
    }
  };
}

interface Holder {
  pid: number;
  host: string;
}

function readHolder(lockPath: string): Holder | null {
  try {
    const [pid = '', host = ''] = fs.readFileSync(lockPath, 'utf8').split('\n');
    return /^\d+$/.test(pid) ? { pid: Number(pid), host } : null;
  } catch {
    return null;
  }
}

/** A holder on this host whose process is gone. One on another host cannot be checked, so it is never stale. */
function isStale(holder: Holder): boolean {
  return holder.host === os.hostname() && !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `FILE.tmp-PID` rewrites left by runs killed mid-rewrite (their pid is gone). */
function removeDeadLeftovers(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = name.slice(prefix.length);
    if (/^\d+$/.test(pid) && !isAlive(Number(pid))) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function locked(file: string, lockPath: string, holder: Holder | null): BatchpostError {
  const who = holder === null ? 'another run' : `run ${holder.pid} on ${holder.host}`;
  return new BatchpostError(
    'OUTPUT_LOCKED',
    `${file} is in use by ${who} (${lockPath})`,
    `Wait for that run to end. If no run is using the file, remove ${lockPath} and run again.`,
  );
}
