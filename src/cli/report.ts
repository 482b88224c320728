// `batchpost report RESULTS`: the reports of a run, made after the fact from its results file — an HTML page,
// JUnit XML, a JSON summary — and the run's summary on stderr. Exit 0 when the files were written, 1 when one
// could not be, 2 for a usage mistake or a results file that is not one.
import type { Command } from 'commander';
import { exitCodeOf } from '../engine/errors.js';
import { formatCount } from '../progress/format.js';
import { painter, useColor } from '../progress/color.js';
import { formatSummary } from '../progress/summary.js';
import { assertReplaceable } from '../output/replace-guard.js';
import { checkTargets, type ReportTargets } from '../report/files.js';
import type { FileReport } from '../report/index.js';
import type { FlagsOf } from '../options/types.js';
import { errorText } from './errors.js';
import { EXIT } from './exit.js';
import type { CliIO, CommandHost } from './io.js';
import { addOptions, examples } from './options.js';

export type ReportFlags = FlagsOf<'report'>;

export function addReportCommand(program: Command, host: CommandHost): Command {
  const cmd = program
    .command('report')
    .description('make the HTML report, JUnit XML or JSON summary of a results file written earlier (--out)')
    .argument('<results>', 'results file written by batchpost run (NDJSON, --format json or openai; .gz too)');
  return addOptions(cmd, 'report')
    .addHelpText(
      'after',
      '\nDocs: docs/reports.md.' +
        examples([
          'batchpost report results.ndjson --html report.html',
          'batchpost report results.ndjson --junit junit.xml --summary summary.json',
        ]),
    )
    .action(async (results: string, flags: ReportFlags) => host.exit(await reportCommand(results, flags, host.io)));
}

export async function reportCommand(
  results: string,
  flags: ReportFlags,
  io: Pick<CliIO, 'stdout' | 'stderr' | 'env'>,
): Promise<number> {
  const targets: ReportTargets = {
    html: flags.html ?? null,
    junit: flags.junit ?? null,
    summary: flags.summary ?? null,
  };
  checkTargets(targets, { html: '--html', junit: '--junit', summary: '--summary' }, [['the results file', results]]);
  const replace = { overwrite: flags.overwrite ?? false, continuing: false };
  assertReplaceable('--html', targets.html, 'html', replace);
  assertReplaceable('--junit', targets.junit, 'junit', replace);
  assertReplaceable('--summary', targets.summary, 'summary', replace);
  const err = io.stderr;
  // The report modules (aggregation, HTML page, JUnit) load only for this command and for a run that asks for them.
  const { aggregateFile, writeHtmlReport, writeJunitReport, writeSummaryReport } = await import('../report/index.js');
  const report = await aggregateFile(results);
  if (report.read.tornLine !== null) {
    err.write(
      `batchpost: ${results}:${report.read.tornLine}: skipped a torn last line (a run was stopped mid-write)\n`,
    );
  }
  const color = useColor(err, io.env);
  err.write(
    `${formatSummary(report.summary, {
      color,
      symbols: color,
      resultsPath: `${results} (${formatCount(report.read.results)} results)`,
      timings: report.snapshot.timings,
    })}\n`,
  );

  const c = painter(color);
  let code: number = EXIT.OK;
  const write = async (flag: string, file: string | null, writer: (file: string, r: FileReport) => Promise<void>) => {
    if (file === null) return;
    try {
      await writer(file, report);
      err.write(`  ${c.dim(flag)}${' '.repeat(Math.max(1, 9 - flag.length))}${file === '-' ? 'stdout' : file}\n`);
    } catch (e) {
      code = exitCodeOf('OUTPUT_FAILED');
      err.write(errorText('OUTPUT_FAILED', `--${flag} ${file} could not be written: ${(e as Error).message}`));
    }
  };
  await write('html', targets.html, writeHtmlReport);
  await write('junit', targets.junit, writeJunitReport);
  await write('summary', targets.summary, (file, r) => writeSummaryReport(file, r, io.stdout));
  return code;
}
