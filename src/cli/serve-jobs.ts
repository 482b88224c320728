// serve --jobs: reads the job options (Redis URL, API key, data dir, upload limits) and starts the batch jobs
// service (src/jobs), loaded only when asked for.
import path from 'node:path';
import { BatchpostError } from '../engine/errors.js';
import type { AuthRefresher } from '../engine/auth.js';
import type { ResolvedOptions } from '../engine/options.js';
import type { JobsService } from '../jobs/index.js';
import { parseBytes } from '../server/body.js';
import type { CliIO } from './io.js';
import { parseDuration, parsePositiveInt } from './parse.js';
import type { ServeFlags } from './serve.js';

export async function openJobs(
  flags: ServeFlags,
  run: ResolvedOptions,
  io: Pick<CliIO, 'stderr' | 'env'>,
  auth: AuthRefresher | null,
): Promise<JobsService | null> {
  if (flags.jobs === undefined) {
    if (flags.apiKeyFile !== undefined) throw new BatchpostError('USAGE', '--api-key-file needs --jobs');
    return null;
  }
  const { checkRedisUrl } = await import('../queue/redis.js');
  checkRedisUrl(flags.jobs, '--jobs');
  const { startJobs, readApiKey, checkNamespace } = await import('../jobs/index.js');
  const apiKey = readApiKey(flags.apiKeyFile, io.env);
  const maxBytes = parseBytes(flags.maxFileSize);
  if (maxBytes === null)
    throw new BatchpostError('USAGE', `--max-file-size "${flags.maxFileSize}": expected a size such as 200mb`);
  const stallTimeoutMs = parseDuration(flags.stallTimeout, '--stall-timeout');
  if (stallTimeoutMs < 500) throw new BatchpostError('USAGE', `--stall-timeout ${flags.stallTimeout}: at least 500ms`);
  const log = flags.quiet ? () => {} : (line: string) => void io.stderr.write(line + '\n');
  return startJobs({
    redisUrl: flags.jobs,
    namespace: checkNamespace(flags.jobsNamespace),
    apiKey,
    dataDir: path.resolve(flags.dataDir),
    limits: { maxBytes, maxLines: parsePositiveInt(flags.maxFileLines, '--max-file-lines') },
    run,
    auth,
    stallTimeoutMs,
    log,
  });
}
