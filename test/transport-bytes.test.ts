// The transport keeps each answer's bytes and sends byte bodies as given, which serve's $batch base64 bodies need.
// The shared Transport contract runs against it in transport.contract.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransport } from '../src/transport/index.js';
import { InFlight } from '../src/transport/undici.js';

describe('the transport: bytes', () => {
  let server: http.Server;
  let url: string;
  const received: Buffer[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        received.push(body);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // Two writes: the answer arrives in more than one chunk.
        res.write(body.subarray(0, 2));
        res.end(body.subarray(2));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bin`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("sends a Uint8Array body byte for byte and keeps the answer's bytes (not only its UTF-8 text)", async () => {
    const transport = createTransport({ connections: 1, timeoutMs: 5_000 });
    try {
      const bytes = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x80, 0x41]); // not valid UTF-8
      const res = await transport.send(
        { method: 'POST', url, headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) },
        new AbortController().signal,
      );
      expect(received.at(-1)!.equals(bytes)).toBe(true);
      expect(res.status).toBe(200);
      expect(Buffer.from(res.bytes!).equals(bytes)).toBe(true);
      expect(Buffer.from(res.body, 'utf8').equals(bytes)).toBe(false); // the text alone would have lost them
    } finally {
      await transport.close();
    }
  });
});

describe('InFlight (the sweep list of UndiciTransport)', () => {
  test('after any order of adds and removals the sweep visits exactly the attempts still in flight, once each', () => {
    const seen: number[] = [];
    const make = (n: number) => ({ n, slot: -1, check: () => seen.push(n) });
    const list = new InFlight<ReturnType<typeof make>>();
    const live = new Map<number, ReturnType<typeof make>>();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 2000; n++) {
      if (live.size === 0 || random() < 0.55) {
        const a = make(n);
        list.add(a);
        live.set(n, a);
      } else {
        const keys = [...live.keys()];
        const k = keys[Math.floor(random() * keys.length)]!;
        list.delete(live.get(k)!);
        live.delete(k);
      }
      if (n % 97 === 0) {
        seen.length = 0;
        list.check(0);
        expect(seen.sort((x, y) => x - y)).toEqual([...live.keys()].sort((x, y) => x - y));
        expect(list.size).toBe(live.size);
      }
    }
  });
});
