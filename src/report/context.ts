// What a report knows besides the results: where they came from, the run's parameters (already redacted), the
// run's own duration and exit code. `run` fills it from its options and summary; `report` from the file alone.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReportContext {
  /** Made by `run` (live, with the run's parameters) or by `report` (after the fact, from the file). */
  source: 'run' | 'report';
  version: string;
  /** Epoch ms. */
  generatedAt: number;
  /** The results file as given (null: results went to stdout) and its format. */
  results: { path: string; format: 'ndjson' | 'json' | 'csv' | 'openai' } | null;
  /** Line numbers link into the results file (ndjson/json files; csv cells may span lines). */
  linkLines: boolean;
  /** The run's start (epoch ms) and wall-clock duration (ms); for `report`, the span of the results. */
  startedAt: number | null;
  durationMs: number;
  /** Requests per second over the duration. */
  ratePerSec: number;
  exitCode: number | null;
  interrupted: boolean;
  /** Method and URL (redacted), shown under the title. */
  target: string | null;
  /** The command line (redacted), or null. */
  command: string | null;
  /** Label → value rows of the parameters section (redacted). */
  parameters: Array<[string, string]>;
  /** Requests skipped because --resume found them recorded. */
  skipped: number;
  /** Why the run stopped early, when it did (an input error, an interrupt). */
  stopped: string | null;
}

let version: string | null = null;

/** batchpost's version, from the package.json above this file (src/ under ts-jest, dist/src/ when built). */
export function batchpostVersion(): string {
  if (version !== null) return version;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'batchpost' && pkg.version) return (version = pkg.version);
    } catch {
      // not here; look further up
    }
    dir = path.dirname(dir);
  }
  return (version = 'unknown');
}
