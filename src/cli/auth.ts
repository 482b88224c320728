// --auth-command for a command of the CLI (run, serve): started before the first request (a failure then is the
// command's error, exit 2), and during the run a failure stops it and is said at the end.
import type { AuthRefresher } from '../engine/auth.js';
import { BatchpostError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/options.js';
import { openAuthCommand } from '../util/auth-command.js';

export interface CliAuth {
  readonly refresher: AuthRefresher;
  /** Set when a refresh during the run failed. */
  readonly failure: BatchpostError | null;
  /** What a failure during the run does (stop the run); told at most once. */
  onFailure(stop: (err: BatchpostError) => void): void;
  /** Idempotent. */
  close(): void;
}

/** Null without --auth-command. Runs the command once; rejects with AUTH_COMMAND_FAILED. */
export async function startAuth(o: ResolvedOptions, signal?: AbortSignal): Promise<CliAuth | null> {
  if (o.authCommand === undefined) {
    if (o.authRefreshMs !== undefined)
      throw new BatchpostError('USAGE', '--auth-refresh needs --auth-command', 'Add --auth-command CMD, or drop it.');
    return null;
  }
  let failure: BatchpostError | null = null;
  let stop: (err: BatchpostError) => void = () => {};
  const refresher = await openAuthCommand(
    o.authCommand,
    {
      refreshMs: o.authRefreshMs ?? null,
      onFailure: (err) => {
        failure = err;
        stop(err);
      },
    },
    signal,
  );
  return {
    refresher,
    get failure() {
      return failure;
    },
    onFailure: (fn) => (stop = fn),
    close: () => refresher.close(),
  };
}
