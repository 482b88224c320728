// The Sender's scheduler: at most `concurrency` tasks running, higher priority first, first in first out within a
// priority, the limit changeable while running (adaptive pace). Hand-written because a general-purpose queue pays
// per task for what the Sender does not use (ids, events, timestamps, a promise per task), and this runs once per
// request (docs/benchmarks.md).
//
// Each priority's queue is a ring that reuses its array. The queue is long-lived, so its array sits in V8's old
// generation while the tasks in it are young; an array that is replaced (grown, or compacted with slice) stays
// behind as old garbage that still points at tasks, and V8's young-generation collector keeps whatever old objects
// point at — dead or not — until the next full collection. So a plain array with a moving head, compacted now and
// then, keeps requests' objects alive long enough to be promoted (docs/benchmarks.md). The ring clears each slot as
// it is taken and grows only when the queue does.

/** First in, first out, on a power-of-two ring. */
class Ring<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  length = 0;

  push(item: T): void {
    if (this.length === this.items.length) this.grow();
    this.items[(this.head + this.length) & (this.items.length - 1)] = item;
    this.length++;
  }

  /** The oldest item; only called when length > 0. */
  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    return item;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}

interface Lane<T> {
  priority: number;
  items: Ring<T>;
}

export class Slots<T> {
  private running = 0;
  /** Waiting tasks by priority, highest first. */
  private lanes: Lane<T>[] = [];
  private waiting = 0;

  constructor(
    private limit: number,
    /** Runs one task; its slot is free again when the promise settles. */
    private readonly run: (item: T) => Promise<void>,
  ) {}

  /** Tasks waiting for a slot. */
  get size(): number {
    return this.waiting;
  }

  get concurrency(): number {
    return this.limit;
  }

  set concurrency(n: number) {
    this.limit = n;
    this.drain();
  }

  add(item: T, priority = 0): void {
    let i = 0;
    while (i < this.lanes.length && this.lanes[i]!.priority > priority) i++;
    let lane = this.lanes[i];
    if (lane === undefined || lane.priority !== priority) {
      lane = { priority, items: new Ring<T>() };
      this.lanes.splice(i, 0, lane);
    }
    lane.items.push(item);
    this.waiting++;
    this.drain();
  }

  /**
   * Keeps the slot of the task now ending taken after it ends, until `release`: a sender thread's request counts as
   * in flight until the main thread has written its result, so a kill loses no more than the concurrency.
   */
  hold(): void {
    this.running++;
  }

  /** Frees `n` slots kept by `hold`. */
  release(n: number): void {
    this.running -= n;
    this.drain();
  }

  /** Drops every waiting task (they never run) and returns them, highest priority first. */
  clear(): T[] {
    const dropped: T[] = [];
    for (const lane of this.lanes) while (lane.items.length > 0) dropped.push(lane.items.shift());
    this.lanes = [];
    this.waiting = 0;
    return dropped;
  }

  private drain(): void {
    while (this.running < this.limit && this.waiting > 0) {
      const lane = this.lanes[0]!;
      const item = lane.items.shift();
      if (lane.items.length === 0) this.lanes.shift();
      this.waiting--;
      this.running++;
      this.run(item).then(this.done, this.failed);
    }
  }

  private readonly done = (): void => {
    this.running--;
    this.drain();
  };

  /** A task that throws is a bug: free its slot, then let the error surface as an uncaught exception. */
  private readonly failed = (err: unknown): void => {
    this.done();
    queueMicrotask(() => {
      throw err;
    });
  };
}
