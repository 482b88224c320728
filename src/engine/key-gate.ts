// The two waits every RequestSink shares: the submitter's, while the sink's backlog is full (Backpressure), and a
// request's, while another with the same --serialize-by key is in flight (KeyGate). Each sink measures its own
// backlog (requests waiting for a slot, on the queue, or at the threads) and tells the gate; the gate owns the
// waiting and the waking, so the rules are the same everywhere.
//
// The plain path (no key) costs a boolean and a null check per request: no allocation, closure or table entry.

/** Requests held behind a busy key before the reader pauses: bounded memory, and room for other keys to flow. */
export const KEY_BACKLOG = 10_000;

/** Pauses the submitter while the sink's backlog is full, and wakes it once the backlog has drained. */
export class Backpressure {
  /** Requests held behind busy keys (see KeyGate); they count against `bound`. */
  protected held = 0;
  private wake: (() => void) | null = null;

  constructor(
    /** The sink's own backlog has drained enough for the submitter to go on (its low-water mark). */
    private readonly drained: () => boolean,
    /** Held requests that pause the submitter; it resumes below half. */
    protected readonly bound = KEY_BACKLOG,
  ) {}

  /** `busy`: the sink's own backlog is at its high-water mark. */
  full(busy: boolean): boolean {
    return busy || this.held >= this.bound;
  }

  /** Resolves once the sink's backlog has drained and fewer than half the bound are held. */
  room(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.notify();
    });
  }

  /** The backlog may have shrunk: wakes a waiting submitter if it has. Cheap when nobody waits. */
  notify(): void {
    if (this.wake !== null && this.held < this.bound / 2 && this.drained()) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }
}

/**
 * Per-key FIFO: of the requests with one key, one at a time may go; the rest are held in submission order until
 * it settles. A key is taken from `admit` until the `release` that finds nothing held for it.
 */
export class KeyGate<T> extends Backpressure {
  /** Per taken key, the requests held for it, in submission order. */
  private readonly keys = new Map<string, T[]>();

  /** Requests held behind a busy key. */
  get waiting(): number {
    return this.held;
  }

  /** True when `item` may go now (its key was free and is now taken); false when it is held for its key. */
  admit(key: string, item: T): boolean {
    const behind = this.keys.get(key);
    if (behind !== undefined) {
      behind.push(item);
      this.held++;
      return false;
    }
    this.keys.set(key, []);
    return true;
  }

  /** The request that held `key` settled: the next one held for it, which takes the key over, or undefined. */
  release(key: string): T | undefined {
    const next = this.keys.get(key)?.shift();
    if (next !== undefined) this.held--;
    else this.keys.delete(key);
    return next;
  }

  /**
   * Takes out every held request (a stop settles them unstarted). Keys stay taken by the requests holding them until
   * those are released, so nothing can overtake a request still in flight.
   */
  clear(): T[] {
    const dropped: T[] = [];
    for (const behind of this.keys.values()) for (const item of behind.splice(0)) dropped.push(item);
    this.held = 0;
    return dropped;
  }
}
