// The Sender's scheduler (src/engine/slots.ts): the exact cap, priorities, FIFO within one, a changing limit.
import { Slots } from '../src/engine/slots.js';

/** Tasks that finish when the test says so, recording the order they started in. */
function harness(limit: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  let running = 0;
  let maxRunning = 0;
  const slots = new Slots<string>(limit, (name) => {
    started.push(name);
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<void>((resolve) =>
      finish.set(name, () => {
        running--;
        resolve();
      }),
    );
  });
  const done = async (name: string) => {
    finish.get(name)!();
    await new Promise((r) => setImmediate(r)); // let the slot's promise settle
  };
  return { slots, started, done, max: () => maxRunning };
}

test('never more than the limit running; the rest wait in order and start as slots free', async () => {
  const h = harness(2);
  for (const n of ['a', 'b', 'c', 'd', 'e']) h.slots.add(n);
  expect(h.started).toEqual(['a', 'b']);
  expect(h.slots.size).toBe(3);
  await h.done('b');
  expect(h.started).toEqual(['a', 'b', 'c']);
  await h.done('a');
  await h.done('c');
  await h.done('d');
  expect(h.started).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(h.max()).toBe(2);
  expect(h.slots.size).toBe(0);
});

test('higher priority first, first in first out within a priority', async () => {
  const h = harness(1);
  h.slots.add('first');
  h.slots.add('low-1', 0);
  h.slots.add('high-1', 1);
  h.slots.add('low-2', 0);
  h.slots.add('high-2', 1);
  h.slots.add('top', 5);
  h.slots.add('neg', -3);
  for (const n of ['first', 'top', 'high-1', 'high-2', 'low-1', 'low-2']) await h.done(n);
  expect(h.started).toEqual(['first', 'top', 'high-1', 'high-2', 'low-1', 'low-2', 'neg']);
});

test('raising the limit starts waiting tasks at once; lowering it lets running ones finish first', async () => {
  const h = harness(1);
  for (const n of ['a', 'b', 'c', 'd']) h.slots.add(n);
  h.slots.concurrency = 3;
  expect(h.started).toEqual(['a', 'b', 'c']);
  h.slots.concurrency = 1;
  await h.done('a');
  await h.done('b');
  expect(h.started).toEqual(['a', 'b', 'c']); // still 1 running (c): d waits
  await h.done('c');
  expect(h.started).toEqual(['a', 'b', 'c', 'd']);
});

test('clear() drops what waits and hands it back, highest priority first; what runs goes on', async () => {
  const h = harness(1);
  for (const n of ['a', 'b', 'c']) h.slots.add(n);
  h.slots.add('r', 1);
  expect(h.slots.clear()).toEqual(['r', 'b', 'c']);
  expect(h.slots.size).toBe(0);
  await h.done('a');
  expect(h.started).toEqual(['a']);
  h.slots.add('d');
  expect(h.started).toEqual(['a', 'd']);
});

test('a lane keeps its order while its ring wraps around and grows', () => {
  // Starts taken between adds, so the ring's head has moved on when it fills up and grows (16, then 32, then 64).
  const h = harness(0);
  let next = 0;
  for (const [add, take] of [
    [12, 8],
    [14, 10],
    [30, 20],
    [40, 5],
  ] as const) {
    for (let i = 0; i < add; i++) h.slots.add(String(next++));
    h.slots.concurrency = h.started.length + take; // none finish, so exactly `take` more start
  }
  expect(h.slots.size).toBe(next - 43);
  h.slots.concurrency = next;
  expect(h.started).toEqual(Array.from({ length: next }, (_, i) => String(i)));
  expect(h.slots.size).toBe(0);
});

test('a long-lived lane keeps its order (thousands through one priority)', async () => {
  const order: number[] = [];
  const slots = new Slots<number>(1, (n) => {
    order.push(n);
    return Promise.resolve();
  });
  for (let i = 0; i < 5000; i++) slots.add(i);
  for (let i = 0; i < 6000 && order.length < 5000; i++) await new Promise((r) => setImmediate(r));
  expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
});

test('hold() keeps the slot of a task that ends taken until release(n), which frees n and starts what waits', async () => {
  const h = harness(2);
  for (const n of ['a', 'b', 'c', 'd']) h.slots.add(n);
  h.slots.hold(); // 'a' is ending: its slot stays taken
  await h.done('a');
  h.slots.hold();
  await h.done('b');
  expect(h.started).toEqual(['a', 'b']);
  h.slots.release(1);
  expect(h.started).toEqual(['a', 'b', 'c']);
  h.slots.release(1);
  expect(h.started).toEqual(['a', 'b', 'c', 'd']);
});
