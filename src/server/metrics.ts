// GET /metrics: Prometheus text from prom-client, on a registry of the server's own (two servers in one process,
// as in the tests, never share counters). Per-item figures are plain numbers bumped on the hot path and handed to
// prom-client when scraped: its labelled inc/observe hash the labels on every call.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { RunStats } from '../engine/types.js';

export type Endpoint = 'batch' | 'odata';
/** An item's outcome class: the upstream's status class, or none when no HTTP answer came (or it was not sent). */
export type ItemClass = '2xx' | '3xx' | '4xx' | '5xx' | 'none';

const CLASSES: readonly ItemClass[] = ['2xx', '3xx', '4xx', '5xx', 'none'];

function itemClass(status: number | null): ItemClass {
  if (status === null || status < 200 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx` as ItemClass;
}

const ENDPOINTS: readonly Endpoint[] = ['batch', 'odata'];
const BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface ItemCounts {
  byClass: Record<ItemClass, number>;
  /** Per bucket (last: above the largest bound), not cumulative. */
  buckets: number[];
  sum: number;
  count: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly batches: Counter<'endpoint' | 'status'>;
  private readonly batchesInFlight: Gauge<'endpoint'>;
  private readonly counts: Record<Endpoint, ItemCounts>;
  /** Items taken and not yet settled (in flight, waiting for a slot or for a retry). */
  private open = 0;

  constructor(stats: Pick<RunStats, 'inFlight' | 'retries'>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counts = (this.counts = { batch: emptyCounts(), odata: emptyCounts() });
    this.batches = new Counter({
      name: 'batchpost_batches_total',
      help: 'Batches answered, by endpoint and HTTP status of the answer (499: the client left first).',
      labelNames: ['endpoint', 'status'],
      registers,
    });
    this.batchesInFlight = new Gauge({
      name: 'batchpost_batches_in_flight',
      help: 'Batches taken and not yet fully answered.',
      labelNames: ['endpoint'],
      registers,
    });
    new Counter({
      name: 'batchpost_items_total',
      help: "Items settled, by endpoint and class: the upstream answer's status class, or none (not sent, or no answer).",
      labelNames: ['endpoint', 'class'],
      registers,
      collect() {
        this.reset();
        for (const e of ENDPOINTS) for (const c of CLASSES) this.inc({ endpoint: e, class: c }, counts[e].byClass[c]);
      },
    });
    this.registry.registerMetric(itemDurationHistogram(counts) as unknown as Metric);
    const open = () => this.open;
    new Gauge({
      name: 'batchpost_items_in_flight',
      help: 'Item requests in flight to the upstream now.',
      registers,
      collect() {
        this.set(stats.inFlight);
      },
    });
    new Gauge({
      name: 'batchpost_items_waiting',
      help: 'Items taken but not in flight: waiting for a slot, the rate, a retry delay or a dependency.',
      registers,
      collect() {
        this.set(Math.max(0, open() - stats.inFlight));
      },
    });
    let counted = 0;
    new Counter({
      name: 'batchpost_retries_total',
      help: 'Attempts repeated under the retry policy.',
      registers,
      collect() {
        this.inc(stats.retries - counted);
        counted = stats.retries;
      },
    });
  }

  batchStarted(endpoint: Endpoint): void {
    this.batchesInFlight.labels(endpoint).inc();
  }

  /** Once per batch (taken or refused): its answer's status; `taken` when batchStarted was called for it. */
  batchAnswered(endpoint: Endpoint, status: number, taken: boolean): void {
    this.batches.labels(endpoint, String(status)).inc();
    if (taken) this.batchesInFlight.labels(endpoint).dec();
  }

  itemsTaken(n: number): void {
    this.open += n;
  }

  /** Items of a batch settled, or given up on with their batch (BatchScope): no longer open. */
  itemsSettled(n: number): void {
    this.open -= n;
  }

  /** One item settled: its class, and its duration when it was sent. */
  item(endpoint: Endpoint, status: number | null, durationMs: number | null): void {
    const c = this.counts[endpoint];
    c.byClass[itemClass(status)]++;
    if (durationMs === null) return;
    const seconds = durationMs / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    c.buckets[i]!++;
    c.sum += seconds;
    c.count++;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function emptyCounts(): ItemCounts {
  return {
    byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, none: 0 },
    buckets: new Array<number>(BUCKETS.length + 1).fill(0),
    sum: 0,
    count: 0,
  };
}

/** batchpost_item_duration_seconds as prom-client's registry reads a metric, from the plain counts. */
function itemDurationHistogram(counts: Record<Endpoint, ItemCounts>) {
  const name = 'batchpost_item_duration_seconds';
  const help = "Item latency: from its first attempt's start to its last attempt's end, retry waits included.";
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const endpoint of ENDPOINTS) {
        const c = counts[endpoint];
        let cumulative = 0;
        BUCKETS.forEach((le, i) => {
          cumulative += c.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { endpoint, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { endpoint, le: '+Inf' }, value: c.count });
        values.push({ metricName: `${name}_sum`, labels: { endpoint }, value: c.sum });
        values.push({ metricName: `${name}_count`, labels: { endpoint }, value: c.count });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}
