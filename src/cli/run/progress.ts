// While a run goes: the progress display, the total it counts toward, and what SIGINT and SIGTERM do to the run.
import fs from 'node:fs';
import type { Run } from '../../engine/run.js';
import type { Progress } from '../../engine/types.js';
import { countPayloads } from '../../input/index.js';
import { formatCount } from '../../progress/format.js';
import { createProgress, useColor } from '../../progress/index.js';
import { onStopSignals, type CliIO } from '../io.js';
import type { RunSetup } from '../run-options.js';

const COUNT_FIRST_BYTES = 16 * 1024 * 1024;

export interface Display {
  progress: Progress;
  /** Colour on stderr (a terminal, NO_COLOR unset): for the progress and the end-of-run summary. */
  color: boolean;
}

/**
 * Symbols and colour go together (useColor): off for NO_COLOR and TERM=dumb, which then get plain ASCII. A dumb
 * terminal cannot move the cursor either, so `auto` gives it plain lines rather than a bar redrawn in place.
 */
export function createDisplay(setup: RunSetup, io: CliIO): Display {
  const color = useColor(io.stderr, io.env);
  const mode = setup.progress === 'auto' && io.env.TERM === 'dumb' ? 'lines' : setup.progress;
  const options = { stream: io.stderr, color, symbols: color, intervalMs: setup.progressIntervalMs };
  return { progress: createProgress(mode, options), color };
}

/**
 * A total makes the bar and ETA honest. Small files are counted before the first request (milliseconds); large
 * ones alongside the run until `signal` aborts, so a 1 GB input starts sending at once. Stdin cannot be read
 * twice: no total.
 */
export async function countTotal(
  input: string,
  setup: RunSetup,
  run: Run,
  skipped: number,
  signal: AbortSignal,
): Promise<void> {
  if (input === '-') return;
  const count = countPayloads(input, { format: setup.inputFormat, signal }).then(
    (n: number) => void (run.stats.total = Math.max(0, n - skipped)),
    () => {},
  );
  if (fs.statSync(input).size <= COUNT_FIRST_BYTES) await count;
}

/**
 * The first SIGINT or SIGTERM stops the run (requests in flight finish and are recorded), the next aborts those
 * in flight. Returns the unsubscribe.
 */
export function stopOnSignals(io: CliIO, run: Run, progress: Progress): () => void {
  let signals = 0;
  return onStopSignals(io.signals, () => {
    signals++;
    if (signals === 1) {
      const n = run.stats.inFlight;
      progress.note(
        `batchpost: stopping — ${formatCount(n)} request${n === 1 ? '' : 's'} in flight will finish (Ctrl-C again to abort them)`,
      );
      run.stop();
    } else {
      progress.note('batchpost: aborting requests in flight (they are not recorded; --resume sends them again)');
      run.abort();
    }
  });
}
