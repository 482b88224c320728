// `batchpost report`: the same reports from a results file made earlier. One pass aggregates; with --junit a
// second pass writes the test cases (the suite header needs the counts first). Memory stays flat for any size.
import path from 'node:path';
import type { Summary } from '../engine/types.js';
import { ReportAggregator, summaryFromSnapshot, type ReportSnapshot } from './aggregate.js';
import { batchpostVersion, type ReportContext } from './context.js';
import { junitClassname, relativeHref, writeFileAtomic, writeToStream, type ReportTargets } from './files.js';
import { renderReportHtml } from './html-page.js';
import { assembleJunit, junitCase } from './junit.js';
import { readResults, type ReadOutcome } from './read-results.js';
import { summaryJsonText } from './summary-json.js';

export interface FileReport {
  summary: Summary;
  snapshot: ReportSnapshot;
  read: ReadOutcome;
  context: ReportContext;
}

/** Reads `results` once and returns what every report is made from. */
export async function aggregateFile(results: string): Promise<FileReport> {
  const aggregator = new ReportAggregator();
  const read = await readResults(results, (r, line) => aggregator.add(r, line));
  const snapshot = aggregator.snapshot();
  const summary = summaryFromSnapshot(snapshot);
  const context: ReportContext = {
    source: 'report',
    version: batchpostVersion(),
    generatedAt: Date.now(),
    results: { path: results, format: read.format },
    linkLines: true,
    startedAt: snapshot.firstStartedAt,
    durationMs: summary.durationMs,
    ratePerSec: summary.ratePerSec,
    exitCode: null,
    interrupted: false,
    target: null,
    command: null,
    parameters: [
      ['results file', results],
      ['format', read.format],
      ['result lines', String(read.results)],
    ],
    skipped: 0,
    stopped: null,
  };
  if (read.tornLine !== null) context.parameters.push(['torn last line', `line ${read.tornLine}, skipped`]);
  return { summary, snapshot, read, context };
}

export function writeHtmlReport(file: string, r: FileReport): Promise<void> {
  const href = relativeHref(file, r.context.results!.path);
  return writeFileAtomic(file, renderReportHtml(r.snapshot, r.context, { resultsHref: href }));
}

/** `file` `-` is `stdout`. */
export function writeSummaryReport(file: string, r: FileReport, stdout: NodeJS.WritableStream): Promise<void> {
  const text = summaryJsonText(r.summary, r.snapshot, r.context);
  return file === '-' ? writeToStream(stdout, text) : writeFileAtomic(file, text);
}

/** The second pass: one test case per result line, streamed into the file. */
export function writeJunitReport(file: string, r: FileReport): Promise<void> {
  const results = r.context.results!.path;
  const classname = junitClassname(results);
  return assembleJunit(
    file,
    {
      name: `batchpost ${path.basename(results)}`,
      classname,
      tests: r.snapshot.total,
      failures: r.snapshot.failed,
      timeSec: r.snapshot.timings ? r.summary.durationMs / 1000 : null,
      timestamp: r.snapshot.firstStartedAt,
      properties: [['results', results]],
    },
    async (write) => {
      let parts: string[] = [];
      await readResults(
        results,
        (result) => void parts.push(junitCase(result, classname)),
        async () => {
          if (parts.length === 0) return;
          const text = parts.join('');
          parts = [];
          await write(text);
        },
      );
      if (parts.length > 0) await write(parts.join(''));
    },
  );
}

export type { ReportTargets };
