// The job gauges on serve's /metrics: batches by status (read from Redis at each scrape) and lines waiting (taken in
// a batch, not yet settled, as the coordinator's last tick counted them).
import { Gauge, type Registry } from 'prom-client';
import type { Coordinator } from './coordinator.js';
import { STATUSES } from './store.js';

export function registerJobMetrics(registry: Registry, jobs: Pick<Coordinator, 'byStatus' | 'snapshot'>): void {
  const registers = [registry];
  new Gauge({
    name: 'batchpost_jobs_batches',
    help: 'Batch jobs (serve --jobs) by status.',
    labelNames: ['status'],
    registers,
    async collect() {
      const byStatus = await jobs.byStatus();
      for (const s of STATUSES) this.set({ status: s }, Math.max(0, byStatus[s] ?? 0));
    },
  });
  new Gauge({
    name: 'batchpost_jobs_lines_waiting',
    help: 'Lines of batches in progress not settled yet (queued, or being sent).',
    registers,
    collect() {
      this.set(jobs.snapshot.linesWaiting);
    },
  });
}
