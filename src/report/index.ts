// Reports of a run: an HTML page with charts, JUnit XML, a JSON summary. `run` feeds results as they are written
// (run-reports.ts); `batchpost report` reads a results file after the fact (file-reports.ts). Both go through the one
// aggregator, so the two agree.
export { ReportAggregator, summaryFromSnapshot, type ReportSnapshot, type AggregateLimits } from './aggregate.js';
export { RunReports, type RunReportsSetup } from './run-reports.js';
export {
  aggregateFile,
  writeHtmlReport,
  writeJunitReport,
  writeSummaryReport,
  type FileReport,
} from './file-reports.js';
export { checkTargets, hasTargets, type ReportTargets } from './files.js';
