// The result of a request that was never sent (a payload that could not become a request, a batch item refused,
// a job no worker could finish): failed, with no attempt and no answer.
import type { Result } from './types.js';

export function unsentResult(id: string, code: string, message: string): Result {
  return {
    id,
    ok: false,
    status: null,
    attempts: 0,
    durationMs: 0,
    response: null,
    error: { code, message },
    startedAt: Date.now(),
  };
}
