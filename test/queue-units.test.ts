// The pure parts of distributed mode: names in Redis, job ids BullMQ accepts, the rate as BullMQ's limiter, and
// what a job carries. No Redis needed.
import { BatchpostError } from '../src/engine/errors.js';
import type { OutgoingRequest } from '../src/engine/types.js';
import { limiterOf } from '../src/queue/config.js';
import { activeJobsFor, idsOf, jobOf, requestOf, requestsPerJob } from '../src/queue/job.js';
import { jobIdOf, keysOf, queueNameOf, redactUrl } from '../src/queue/names.js';
import { hostOf } from '../src/queue/redis.js';

describe('job ids', () => {
  test('never an integer and never a colon (BullMQ refuses both), and the same id gives the same job id', () => {
    for (const id of ['1', '17', '007', 'a:b', 'order 5', 'ü', 'x'.repeat(100), '']) {
      const jobId = jobIdOf(id);
      expect(jobId).not.toMatch(/^\d+$/);
      expect(jobId).not.toContain(':');
      expect(jobIdOf(id)).toBe(jobId);
    }
    expect(jobIdOf('17')).toBe('r-17');
  });

  test('distinct ids give distinct job ids, hashed or not', () => {
    const ids = ['1', 'r-1', 'a:b', 'a_b', 'x'.repeat(65), 'x'.repeat(66), 'h-abc'];
    expect(new Set(ids.map(jobIdOf)).size).toBe(ids.length);
  });
});

describe('queue names', () => {
  test('default: bp- and the run id (hashed when it holds other characters); stable', () => {
    expect(queueNameOf(undefined, 'q3Xh0cT9bLmA')).toBe('bp-q3Xh0cT9bLmA');
    const odd = queueNameOf(undefined, 'my run: 1');
    expect(odd).toMatch(/^bp-[A-Za-z0-9_-]{16}$/);
    expect(queueNameOf(undefined, 'my run: 1')).toBe(odd);
  });

  test('--queue-name: letters, digits, . _ -; anything else is a usage error', () => {
    expect(queueNameOf('orders.2026-11_a', 'x')).toBe('orders.2026-11_a');
    for (const bad of ['a:b', '', 'a b', 'x'.repeat(81)]) {
      expect(() => queueNameOf(bad, 'x')).toThrow(BatchpostError);
    }
  });

  test('batchpost keys sit beside BullMQ keys under the same prefix and never look like a job id', () => {
    const k = keysOf('q1');
    for (const key of Object.values(k)) {
      expect(key.startsWith('batchpost:q1:bp-')).toBe(true);
      expect(key.slice('batchpost:q1:'.length).startsWith('r-')).toBe(false);
    }
  });

  test('passwords are redacted in URLs shown to users', () => {
    expect(redactUrl('redis://:s3cret@10.0.0.5:6379/2')).toBe('redis://:***@10.0.0.5:6379/2');
    expect(redactUrl('redis://user:s3cret@h:1')).not.toContain('s3cret');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('--rate as BullMQ limiter', () => {
  test('up to 100/s: one start per window of 1000/rate ms', () => {
    expect(limiterOf(20)).toEqual({ max: 1, duration: 50 });
    expect(limiterOf(0.5)).toEqual({ max: 1, duration: 2000 });
    expect(limiterOf(100)).toEqual({ max: 1, duration: 10 });
  });

  test('never above the rate asked, and within 3% of it', () => {
    for (const rate of [3, 7, 30, 33.3, 150, 250, 999, 1000, 5000]) {
      const { max, duration } = limiterOf(rate);
      expect(Number.isInteger(duration)).toBe(true);
      const real = (max * 1000) / duration;
      expect([rate, real <= rate + 1e-9]).toEqual([rate, true]);
      expect([rate, real >= rate * 0.97]).toEqual([rate, true]);
      // Windows of about 10 ms or more: a burst is at most what 10 ms of the rate holds (plus rounding).
      expect(duration).toBeGreaterThanOrEqual(9);
    }
  });
});

describe('jobs', () => {
  test('requests per job: one with --rate (BullMQ counts jobs), else half the concurrency up to 50', () => {
    expect(requestsPerJob(64, 20)).toBe(1);
    expect(requestsPerJob(10, null)).toBe(5);
    expect(requestsPerJob(1, null)).toBe(1);
    expect(requestsPerJob(500, null)).toBe(50);
    expect(activeJobsFor(10, 1)).toBe(10);
    expect(activeJobsFor(10, 5)).toBe(3);
    expect(activeJobsFor(64, 32)).toBe(3);
  });

  test('a job carries requests as built: shared method/URL/headers once, what differs per item, bytes as base64', () => {
    const headers = { 'content-type': 'application/json' };
    const reqs: OutgoingRequest[] = [
      { method: 'POST', url: 'http://h/a', headers, body: '{"n":1}' },
      { method: 'POST', url: 'http://h/a', headers, body: '{"n":2}' },
      {
        method: 'PUT',
        url: 'http://h/b',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
        body: null,
      },
      { method: 'POST', url: 'http://h/a', headers: { ...headers }, body: new Uint8Array([0, 255, 10]) },
    ];
    const job = jobOf(
      reqs.map((request, i) => ({ id: String(i + 1), request, hash: `h${i}` })),
      'gen1',
    );
    expect(job.data.g).toBe('gen1');
    expect(idsOf(job.data)).toEqual(['1', '2', '3', '4']);
    expect(job.data.r[1]).toEqual({ i: '2', b: '{"n":2}', x: 'h1' });
    expect(job.opts.jobId).toMatch(/^c-/);
    const back = job.data.r.map((item) => requestOf(job.data, item));
    expect(back.slice(0, 3)).toEqual(reqs.slice(0, 3));
    expect(Buffer.from(back[3]!.body as Uint8Array)).toEqual(Buffer.from([0, 255, 10]));
    expect(JSON.parse(JSON.stringify(job.data))).toEqual(job.data);
  });

  test('a job of one request is named after its id', () => {
    const job = jobOf(
      [{ id: '42', request: { method: 'GET', url: 'http://h/', headers: {}, body: null }, hash: undefined }],
      'g',
    );
    expect(job.opts.jobId).toBe('r-42');
  });
});

describe('where Redis is, in messages', () => {
  test('hostOf gives host:port (6379 by default), never the password or the database', () => {
    expect(hostOf('redis://:s3cret@10.0.0.5/3')).toBe('10.0.0.5:6379');
    expect(hostOf('rediss://user:s3cret@redis.example.com:6380')).toBe('redis.example.com:6380');
    expect(hostOf('redis://[::1]:7000')).toBe('[::1]:7000');
  });
});
