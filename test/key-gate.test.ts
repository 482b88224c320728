// The engine's key gate (src/engine/key-gate.ts) on its own: per-key FIFO, the held bound that pauses the
// submitter, and the wake-up below half of it. Every RequestSink uses it; test/request-sink.contract.test.ts holds
// the sinks to the behaviour end to end.
import { Backpressure, KEY_BACKLOG, KeyGate } from '../src/engine/key-gate.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('one request per key at a time; the rest go in submission order, keys independent of each other', () => {
  const gate = new KeyGate<string>(() => true);
  expect(gate.admit('k', 'a1')).toBe(true);
  expect(gate.admit('j', 'b1')).toBe(true);
  expect(gate.admit('k', 'a2')).toBe(false);
  expect(gate.admit('k', 'a3')).toBe(false);
  expect(gate.waiting).toBe(2);
  expect(gate.release('j')).toBeUndefined(); // j is free again
  expect(gate.admit('j', 'b2')).toBe(true);
  expect(gate.release('k')).toBe('a2');
  expect(gate.release('k')).toBe('a3');
  expect(gate.release('k')).toBeUndefined();
  expect(gate.admit('k', 'a4')).toBe(true);
  expect(gate.waiting).toBe(0);
});

test('clear() hands back what is held; a key stays taken until its request in flight is released', () => {
  const gate = new KeyGate<string>(() => true);
  gate.admit('k', 'a1');
  gate.admit('k', 'a2');
  gate.admit('j', 'b1');
  gate.admit('j', 'b2');
  expect(gate.clear().sort()).toEqual(['a2', 'b2']);
  expect(gate.waiting).toBe(0);
  expect(gate.admit('k', 'a3')).toBe(false);
  expect(gate.clear()).toEqual(['a3']);
  expect(gate.release('k')).toBeUndefined();
  expect(gate.admit('k', 'a4')).toBe(true);
});

test('the default bound is KEY_BACKLOG held requests', () => {
  const gate = new KeyGate<number>(() => true);
  gate.admit('k', 0);
  for (let i = 1; i < KEY_BACKLOG; i++) gate.admit('k', i);
  expect(gate.full(false)).toBe(false);
  gate.admit('k', KEY_BACKLOG);
  expect(gate.full(false)).toBe(true);
});

test('held requests at the bound pause the submitter; it wakes below half the bound', async () => {
  const gate = new KeyGate<number>(() => true, 4);
  gate.admit('k', 0);
  for (let i = 1; i <= 4; i++) gate.admit('k', i);
  expect(gate.full(false)).toBe(true);
  let woke = false;
  void gate.room().then(() => (woke = true));
  for (const held of [3, 2]) {
    gate.release('k');
    gate.notify();
    await turn();
    expect([held, woke]).toEqual([held, false]);
  }
  gate.release('k');
  gate.notify();
  await turn();
  expect(woke).toBe(true);
  expect(gate.full(false)).toBe(false);
});

test("the sink's own backlog: full while it says busy; the submitter wakes once it has drained", async () => {
  let drained = false;
  const bp = new Backpressure(() => drained);
  expect(bp.full(true)).toBe(true);
  expect(bp.full(false)).toBe(false);
  let woke = false;
  void bp.room().then(() => (woke = true));
  bp.notify();
  await turn();
  expect(woke).toBe(false);
  drained = true;
  bp.notify();
  await turn();
  expect(woke).toBe(true);
  // room() when there is room already resolves at once.
  await bp.room();
});
