// A sender thread: a Sender and its own transport (undici pools live per thread), fed requests by the main thread
// and handing results back, many per message. Everything about how a request is sent (concurrency share, pacing,
// timeouts, retries, adaptive pace, --expect and --transform) is the local Sender's, unchanged.
import { parentPort, workerData } from 'node:worker_threads';
import { RemoteAuth } from '../engine/auth.js';
import { compileSender } from '../engine/sender-config.js';
import type { OnSettled } from '../engine/request-sink.js';
import { Sender } from '../engine/sender.js';
import { resultToJson } from '../output/result-json.js';
import { createTransport } from '../transport/index.js';
import {
  pushSettled,
  RequestReader,
  type FromThread,
  type OnRequest,
  type SettledBatch,
  type ThreadCounters,
  type ThreadSetup,
  type ToThread,
} from './protocol.js';

/** While requests are in flight but none settles, the counters still reach the progress display this often. */
const COUNTERS_MS = 100;

const port = parentPort!;
const { config, paceAt, transport: connect, auth: authNow } = workerData as ThreadSetup;
const counters: ThreadCounters = { started: 0, inFlight: 0, retries: 0, throttle: null };
const transport = createTransport(connect);
const post = (m: FromThread) => port.postMessage(m);
const auth = authNow === null ? null : new RemoteAuth(authNow, (stale) => post({ t: 'auth-refresh', stale }));
const sender = new Sender(
  {
    ...compileSender(config),
    paceAt,
    onSignal: (pausedUntil, reasons) => post({ t: 'signal', pausedUntil, reasons }),
    auth,
  },
  transport,
  counters,
);

let items: SettledBatch = [];
const reader = new RequestReader();
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

// A result keeps its request's slot until the main thread has written it ('recorded'): a thread that started its
// next request at once would, killed before the main thread's write, lose more requests than are in flight.
const settled: OnSettled = (result, id) => {
  if (result !== null) sender.holdSlot();
  pushSettled(items, id, result === null ? null : resultToJson(result));
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};

const ticker = setInterval(() => {
  if (!scheduled && (counters.started !== lastStarted || counters.inFlight !== lastInFlight)) flush();
}, COUNTERS_MS);
ticker.unref();

const submit: OnRequest = (id, request, key, hash) => sender.submit(id, request, settled, { key, hash });

let closing = false;
port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'submit':
      reader.read(m.requests, submit);
      break;
    case 'recorded':
      sender.releaseSlots(m.n);
      break;
    case 'relay':
      sender.relay(m.pausedUntil, m.reasons);
      break;
    case 'stop':
      sender.stop();
      break;
    case 'auth':
      auth?.update(m.auth);
      break;
    case 'auth-failed':
      auth?.fail(m.message);
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
