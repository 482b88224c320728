// Distributed mode: `run --queue` puts built requests on a BullMQ queue in Redis, `batchpost worker` sends them. See
// docs/distributed.md.
export { openQueueRun, type QueueFlags, type QueueRun, type QueueRunContext } from './run.js';
export { WorkerPool, type WorkerCounts, type WorkerPoolOptions } from './worker.js';
export { checkRedisUrl, closeRedis, connectRedis, hostOf, whileAnswering } from './redis.js';
export { queueNameOf, redactUrl } from './names.js';
export { QUEUE_ENV, queueOptionName, queueSourceOf } from './source.js';
