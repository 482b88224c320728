// Headers from --auth-command, kept fresh: fetched before the first request, again when an answer is 401 and, with
// --auth-refresh, on a timer. Refreshes are serialised: whoever saw a 401 with the headers of generation N waits
// for the one refresh that makes N + 1; whoever saw it with headers older than the current ones re-sends at once.
// Pure: how headers are fetched (a shell command, a message to the main thread) is handed in.
import { BatchpostError } from './errors.js';
import type { HeaderMap } from './types.js';

/** The auth headers of one refresh. `generation` grows by one per refresh; 0 before the first. */
export interface AuthHeaders {
  readonly generation: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where a Sender gets auth headers from. */
export interface AuthSource {
  /** The headers to send now; generation 0 (none yet) until the first fetch. */
  current(): AuthHeaders;
  /**
   * Headers newer than generation `stale` (the one a 401 was answered to): at once when there are, else after the
   * refresh in progress or one started now. Rejects with an AUTH_COMMAND_FAILED BatchpostError when refreshing
   * failed, and with `signal`'s reason when it aborts first.
   */
  refresh(stale: number, signal?: AbortSignal): Promise<AuthHeaders>;
  /** Idempotent: stops the timer and a command still running. */
  close(): void;
}

/** Runs the command once; rejects with an AUTH_COMMAND_FAILED BatchpostError. */
export type FetchAuth = (signal: AbortSignal) => Promise<Record<string, string>>;

export interface RefresherOptions {
  /** --auth-refresh: refresh this often, whatever the answers; null: only on a 401. */
  refreshMs: number | null;
  /** Told once when a refresh fails: the run stops. */
  onFailure?: (err: BatchpostError) => void;
}

/** The one refresher of a process (or of a run's threads): it runs the command. */
export class AuthRefresher implements AuthSource {
  private state: AuthHeaders = { generation: 0, headers: {} };
  private pending: Promise<AuthHeaders> | null = null;
  private failure: BatchpostError | null = null;
  private readonly stop = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(h: AuthHeaders) => void>();

  constructor(
    private readonly fetch: FetchAuth,
    private readonly o: RefresherOptions,
  ) {}

  /** The first fetch; rejects as `refresh` does. (A Sender makes it itself when nobody did.) */
  async start(signal?: AbortSignal): Promise<void> {
    await this.refresh(0, signal);
  }

  current(): AuthHeaders {
    return this.state;
  }

  /** Told of every new generation (sender threads are sent it). Returns the unsubscribe. */
  subscribe(fn: (h: AuthHeaders) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  refresh(stale: number, signal?: AbortSignal): Promise<AuthHeaders> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (stale < this.state.generation) return Promise.resolve(this.state);
    if (this.stop.signal.aborted) return Promise.reject(closedError());
    this.pending ??= this.run();
    return signal === undefined ? this.pending : untilAborted(this.pending, signal);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stop.abort(closedError());
    this.listeners.clear();
  }

  private async run(): Promise<AuthHeaders> {
    try {
      const headers = await this.fetch(this.stop.signal);
      this.state = { generation: this.state.generation + 1, headers };
      if (this.timer === null && this.o.refreshMs !== null && !this.stop.signal.aborted) {
        // From the first headers on: --auth-refresh replaces them before they expire, whatever the answers.
        this.timer = setInterval(() => void this.refresh(this.state.generation).catch(() => {}), this.o.refreshMs);
        this.timer.unref();
      }
      for (const fn of this.listeners) fn(this.state);
      return this.state;
    } catch (err) {
      const failure = asAuthError(err);
      if (!this.stop.signal.aborted) {
        this.failure = failure;
        this.close();
        this.o.onFailure?.(failure);
      }
      throw failure;
    } finally {
      this.pending = null;
    }
  }
}

/**
 * A sender thread's view of the main thread's refresher: it asks (`ask`) and is told (`update`, `fail`); every
 * thread of a run shares one refresh.
 */
export class RemoteAuth implements AuthSource {
  private waiting: { stale: number; resolve: (h: AuthHeaders) => void; reject: (e: Error) => void }[] = [];
  private asked = -1;
  private failure: BatchpostError | null = null;

  constructor(
    private state: AuthHeaders,
    private readonly ask: (stale: number) => void,
  ) {}

  current(): AuthHeaders {
    return this.state;
  }

  refresh(stale: number, signal?: AbortSignal): Promise<AuthHeaders> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (stale < this.state.generation) return Promise.resolve(this.state);
    const p = new Promise<AuthHeaders>((resolve, reject) => this.waiting.push({ stale, resolve, reject }));
    if (this.asked < stale) {
      this.asked = stale;
      this.ask(stale);
    }
    return signal === undefined ? p : untilAborted(p, signal);
  }

  /** A new generation from the main thread. */
  update(state: AuthHeaders): void {
    if (state.generation <= this.state.generation) return;
    this.state = state;
    const still = this.waiting.filter((w) => w.stale >= state.generation);
    for (const w of this.waiting) if (w.stale < state.generation) w.resolve(state);
    this.waiting = still;
  }

  /** The main thread's refresh failed: the run stops. */
  fail(message: string): void {
    this.failure = new BatchpostError('AUTH_COMMAND_FAILED', message);
    for (const w of this.waiting) w.reject(this.failure);
    this.waiting = [];
  }

  close(): void {
    this.fail('closed');
  }
}

/**
 * `base` with the auth headers added; they replace a header of the same name whatever its case (an -H
 * Authorization, credentials from the URL).
 */
export function withAuth(base: Readonly<HeaderMap>, auth: Readonly<Record<string, string>>): HeaderMap {
  const names = new Set(Object.keys(auth).map((k) => k.toLowerCase()));
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(base)) if (!names.has(k.toLowerCase())) out[k] = v;
  return Object.assign(out, auth);
}

function asAuthError(err: unknown): BatchpostError {
  if (err instanceof BatchpostError && err.code === 'AUTH_COMMAND_FAILED') return err;
  return new BatchpostError('AUTH_COMMAND_FAILED', `--auth-command failed: ${(err as Error).message}`);
}

function closedError(): BatchpostError {
  return new BatchpostError('AUTH_COMMAND_FAILED', '--auth-command: closed');
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
