// A sender thread: a Sender and its own transport (undici pools live per thread), fed requests by the main thread
// and handing results back, many per message. Everything about how a request is sent (concurrency share, pacing,
// timeouts, retries, adaptive pace, --expect and --transform) is the local Sender's, unchanged.
import { parentPort, workerData } from 'node:worker_threads';
import { compileSender } from '../engine/sender-config.js';
import type { OnSettled } from '../engine/request-sink.js';
import { Sender } from '../engine/sender.js';
import type { OutgoingRequest } from '../engine/types.js';
import { resultToJson } from '../output/result-json.js';
import { UndiciTransport } from '../transport/undici.js';
import { REQUEST_STRIDE, type FromThread, type ThreadCounters, type ThreadSetup, type ToThread } from './protocol.js';

/** While requests are in flight but none settles, the counters still reach the progress display this often. */
const COUNTERS_MS = 100;

const port = parentPort!;
const { config, paceAt } = workerData as ThreadSetup;
const counters: ThreadCounters = { started: 0, inFlight: 0, retries: 0, throttle: null };
const transport = new UndiciTransport({ connections: config.concurrency, timeoutMs: config.timeoutMs });
const post = (m: FromThread) => port.postMessage(m);
const sender = new Sender(
  { ...compileSender(config), paceAt, onSignal: (pausedUntil, reasons) => post({ t: 'signal', pausedUntil, reasons }) },
  transport,
  counters,
);

let items: (string | null)[] = [];
let headers: Record<string, string> = {};
let scheduled = false;
let lastStarted = -1;
let lastInFlight = -1;

function flush(): void {
  scheduled = false;
  lastStarted = counters.started;
  lastInFlight = counters.inFlight;
  post({ t: 'settled', items, counters });
  items = [];
}

const settled: OnSettled = (result, id) => {
  items.push(id, result === null ? null : resultToJson(result));
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};

const ticker = setInterval(() => {
  if (!scheduled && (counters.started !== lastStarted || counters.inFlight !== lastInFlight)) flush();
}, COUNTERS_MS);
ticker.unref();

let closing = false;
port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'submit': {
      const r = m.requests;
      for (let i = 0; i < r.length; i += REQUEST_STRIDE) {
        if (r[i + 3] !== null) headers = r[i + 3] as Record<string, string>;
        const request: OutgoingRequest = {
          method: r[i + 1] as string,
          url: r[i + 2] as string,
          headers,
          body: r[i + 4] as string | null,
        };
        sender.submit(r[i] as string, request, settled, {
          key: r[i + 5] as string | undefined,
          hash: r[i + 6] as string | undefined,
        });
      }
      break;
    }
    case 'relay':
      sender.relay(m.pausedUntil, m.reasons);
      break;
    case 'stop':
      sender.stop();
      break;
    case 'abort':
      sender.abort();
      break;
    case 'close':
      if (closing) break;
      closing = true;
      sender.close();
      clearInterval(ticker);
      void transport.close().finally(() => {
        flush();
        port.close();
      });
      break;
  }
});
