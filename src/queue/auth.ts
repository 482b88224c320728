// A queued run's --auth-command on a sender that is not the run's own process (`batchpost worker`, for `run --queue`
// and for serve --jobs): the command's text travels in the published config, and each such sender runs it itself,
// so its output (the secret) never leaves the machine that needs it.
import type { AuthRefresher } from '../engine/auth.js';
import { BatchpostError } from '../engine/errors.js';
import type { SenderConfig } from '../engine/sender-config.js';
import { openAuthCommand } from '../util/auth-command.js';

/**
 * The config's --auth-command run once (null without one); false when it failed, told to `onFatal` as is a
 * refresh failing later: without headers the sender cannot send, so it stops. `signal` ends a first run still going
 * (false, not told).
 */
export async function startConfigAuth(
  config: Pick<SenderConfig, 'authCommand' | 'authRefreshMs'>,
  onFatal: (err: BatchpostError) => void,
  signal?: AbortSignal,
): Promise<AuthRefresher | null | false> {
  if (config.authCommand === null) return null;
  try {
    return await openAuthCommand(config.authCommand, { refreshMs: config.authRefreshMs, onFailure: onFatal }, signal);
  } catch (err) {
    if (signal?.aborted) return false; // stopped while it ran: nothing failed
    if (!(err instanceof BatchpostError)) throw err;
    onFatal(err);
    return false;
  }
}
