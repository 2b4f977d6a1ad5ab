/**
 * The ingest thread: Goldmane's flow stream in, completed batches out to the main thread.
 *
 * It owns the gRPC client, the stream (flow-stream.ts) and the bucket ledger; the main thread
 * (aggregator.ts, through ingest-thread.ts) owns everything else. The split is for speed: the
 * receive path calls process.nextTick a few times per message, and in a thread that also runs pg,
 * pino and the HTTP server those calls cost several times more (docs/performance.md). Nothing
 * crosses the boundary per record; see ingest-messages.ts for what does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createGoldmaneClient } from '../goldmane/channel.js';
import { isMalformed, type FlowRecord, type MalformedFlow } from '../goldmane/decode-flow-result.js';
import { FlowStream, type StreamLog } from '../goldmane/flow-stream.js';
import { BucketLedger } from './bucket-ledger.js';
import {
  toBatchMessage,
  type FromIngest,
  type IngestInit,
  type IngestStatus,
  type ForwardedLevel,
  type RecordCounts,
  type ToIngest,
} from './ingest-messages.js';

/** How often buckets are checked for quiet completion, and the main thread hears a status. */
const TICK_MS = 1_000;

if (parentPort === null) throw new Error('ingest-worker.ts runs as a worker thread only');
const port = parentPort;
const init = workerData as IngestInit;

function post(message: FromIngest): void {
  port.postMessage(message);
}

function forward(level: ForwardedLevel) {
  return (fields: object, msg: string): void => post({ type: 'log', level, fields, msg });
}
const log: StreamLog & { debug(fields: object, msg: string): void } = {
  debug: init.debug ? forward('debug') : () => undefined,
  info: forward('info'),
  warn: forward('warn'),
  error: forward('error'),
};

const ledger = new BucketLedger(init.ledger, init.options);
let observedUntil = init.ledger.observedUntil;
let received = 0;
let duplicate = 0;
let dropped = new Map<string, number>();
let newestEnd = 0;

function countDrop(reason: string): void {
  dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
}

function onRecord(record: FlowRecord | MalformedFlow): void {
  received++;
  if (isMalformed(record)) {
    countDrop('malformed');
    log.debug({ problem: record.malformed }, 'skipped an undecodable FlowResult');
    return;
  }
  if (record.endTime > newestEnd) newestEnd = record.endTime;
  const outcome = ledger.accept(record, Date.now());
  if (outcome === 'accepted') return;
  if (outcome === 'duplicate') duplicate++;
  else countDrop(outcome);
}

/** The counts since the last status, which they are then reset for. */
function takeCounts(): RecordCounts {
  const counts: RecordCounts = { received, duplicate, dropped: [...dropped], newestEnd };
  received = 0;
  duplicate = 0;
  dropped = new Map();
  return counts;
}

/** Structured clone turns a Buffer into a plain Uint8Array; grpc-js wants Buffers back. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
const { tls } = init.goldmane;
const client = createGoldmaneClient({
  ...init.goldmane,
  tls: {
    ...tls,
    cert: asBuffer(tls.cert),
    key: asBuffer(tls.key),
    ca: tls.ca === null ? null : asBuffer(tls.ca),
  },
});
const stream = new FlowStream(
  client,
  {
    begin: () => {
      const plan = ledger.beginStream(Date.now() / 1000, observedUntil);
      post({
        type: 'stream-begin',
        startTimeGte: plan.startTimeGte,
        description: plan.description,
        gap: plan.gap,
      });
      return plan.startTimeGte;
    },
    record: onRecord,
    end: (status) => {
      ledger.endStream();
      post({ type: 'stream-end', code: status.code });
    },
  },
  log,
);

function status(): IngestStatus {
  return {
    counts: takeCounts(),
    stream: stream.state,
    pendingEdges: ledger.pendingEdges,
    frontier: ledger.frontier,
    hasChanges: ledger.hasChanges(),
  };
}

const timer = setInterval(() => {
  ledger.tick(Date.now());
  post({ type: 'status', status: status() });
}, TICK_MS);

port.on('message', (message: ToIngest) => {
  switch (message.type) {
    case 'take': {
      const batch = toBatchMessage(ledger.takeBatch());
      post({ type: 'batch', id: message.id, batch, status: status() });
      return;
    }
    case 'observed':
      observedUntil = Math.max(observedUntil ?? 0, message.until);
      return;
    case 'stop':
      clearInterval(timer);
      void stream.stop().then(() => post({ type: 'stopped', status: status() }));
      return;
    case 'close':
      // After a 'stop' the call has ended already; after a lost cursor it may still be open.
      clearInterval(timer);
      void stream.stop().finally(() => {
        client.close();
        port.close();
      });
      return;
  }
});

stream.start();
