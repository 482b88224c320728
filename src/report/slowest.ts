// The N slowest requests of a run in constant memory: a small array whose fastest member is replaced whenever a
// slower request comes along.

export interface RequestRef {
  id: string;
  /** 1-based line of the results file holding this request, when known. */
  line: number | null;
  status: number | null;
  code: string | null;
  attempts: number;
  durationMs: number;
  startedAt: number | null;
}

export class Slowest {
  private readonly items: RequestRef[] = [];
  private minIndex = -1;

  constructor(readonly capacity: number) {}

  /** Cheap rejection first: most requests are not among the slowest. */
  wants(durationMs: number): boolean {
    return this.items.length < this.capacity || durationMs > this.items[this.minIndex]!.durationMs;
  }

  add(ref: RequestRef): void {
    if (!this.wants(ref.durationMs)) return;
    if (this.items.length < this.capacity) this.items.push(ref);
    else this.items[this.minIndex] = ref;
    let min = 0;
    for (let i = 1; i < this.items.length; i++) if (this.items[i]!.durationMs < this.items[min]!.durationMs) min = i;
    this.minIndex = min;
  }

  /** Slowest first; ties in the order they were added. */
  list(): RequestRef[] {
    return [...this.items].sort((a, b) => b.durationMs - a.durationMs);
  }
}
