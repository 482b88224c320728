// The Sender's scheduler: at most `concurrency` tasks running, higher priority first, first in first out within a
// priority, the limit changeable while running (adaptive pace). p-queue did this before; per task it copies the
// options, makes an id string, a Symbol, a Map entry, a timestamp, several promises and events — about 5% of a
// run's CPU on a fast upstream (docs/benchmarks.md) for features the Sender does not use.

interface Lane<T> {
  priority: number;
  items: T[];
  head: number;
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
      lane = { priority, items: [], head: 0 };
      this.lanes.splice(i, 0, lane);
    }
    lane.items.push(item);
    this.waiting++;
    this.drain();
  }

  /** Drops every waiting task (they never run). */
  clear(): void {
    this.lanes = [];
    this.waiting = 0;
  }

  private drain(): void {
    while (this.running < this.limit && this.waiting > 0) {
      const lane = this.lanes[0]!;
      const item = lane.items[lane.head++]!;
      if (lane.head === lane.items.length) this.lanes.shift();
      else if (lane.head >= 1024 && lane.head * 2 >= lane.items.length) {
        lane.items = lane.items.slice(lane.head); // keep a long-lived lane's array from growing without bound
        lane.head = 0;
      }
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
