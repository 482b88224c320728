// A Sink that writes each result to the real sink first, then hands it to an observer (the report aggregator).
// Results are what matter: an observer that throws is switched off and reported, never allowed to break a run.
import type { Result, Sink } from '../engine/types.js';

export interface TeeSink extends Sink {
  /** The first error the observer threw, or null. */
  readonly observerError: Error | null;
}

export function teeSink(sink: Sink, observe: (result: Result) => void): TeeSink {
  let observerError: Error | null = null;
  const tee: TeeSink = {
    write(result: Result): void {
      sink.write(result);
      if (observerError !== null) return;
      try {
        observe(result);
      } catch (err) {
        observerError = err instanceof Error ? err : new Error(String(err));
      }
    },
    close: () => sink.close(),
    get observerError() {
      return observerError;
    },
  };
  if (sink.ready) tee.ready = () => sink.ready!();
  return tee;
}
