// The job gauges on serve's /metrics: batches by status and lines waiting (taken in a batch, not yet settled), as
// the coordinator last saw them in Redis.
import { Gauge, type Registry } from 'prom-client';
import type { JobsSnapshot } from './coordinator.js';
import { STATUSES } from './store.js';

export function registerJobMetrics(registry: Registry, snapshot: () => JobsSnapshot): void {
  const registers = [registry];
  new Gauge({
    name: 'batchpost_jobs_batches',
    help: 'Batch jobs (serve --jobs) by status.',
    labelNames: ['status'],
    registers,
    collect() {
      const byStatus = snapshot().byStatus;
      for (const s of STATUSES) this.set({ status: s }, Math.max(0, byStatus[s] ?? 0));
    },
  });
  new Gauge({
    name: 'batchpost_jobs_lines_waiting',
    help: 'Lines of batches in progress not settled yet (queued, or being sent).',
    registers,
    collect() {
      this.set(snapshot().linesWaiting);
    },
  });
}
