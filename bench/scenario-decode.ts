/**
 * Decoding alone, without the network: the stream's first messages, each in a Buffer of its own
 * as grpc-js hands them to the deserializer, decoded in a loop. Also the receive path's own work
 * without the network (decode + bucket ledger), which is what our code adds to grpc-js's cost.
 */
import type { SyntheticStream } from '../src/simulate/synthetic-stream.js';
import { built } from './built.js';

export interface LoopResult {
  readonly flows: number;
  readonly seconds: number;
  readonly flowsPerSecond: number;
}

/** Repeats `work` over `messages` until at least `minMs` have passed; returns the rate. */
function timeLoop(messages: readonly Buffer[], minMs: number, work: (message: Buffer) => void): LoopResult {
  // One untimed round lets V8 optimize before it is measured.
  for (const message of messages) work(message);
  let flows = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    for (const message of messages) work(message);
    flows += messages.length;
    elapsed = performance.now() - started;
  } while (elapsed < minMs);
  return { flows, seconds: elapsed / 1000, flowsPerSecond: flows / (elapsed / 1000) };
}

export interface DecodeResults {
  readonly ours: LoopResult;
  readonly protobufjs: LoopResult;
  readonly decodeAndLedger: LoopResult;
}

export async function runDecode(
  stream: SyntheticStream,
  sample: number,
  minMs: number,
): Promise<DecodeResults> {
  const decoder = await built<typeof import('../src/goldmane/decode-flow-result.js')>(
    'goldmane/decode-flow-result.js',
  );
  const proto = await built<typeof import('../src/goldmane/proto.js')>('goldmane/proto.js');
  const ledgerModule = await built<typeof import('../src/aggregate/bucket-ledger.js')>(
    'aggregate/bucket-ledger.js',
  );
  const messages = [...stream.messageBytes(Math.min(sample, stream.flows))];
  const flowResultType = proto.messageType('FlowResult');

  let sink = 0;
  const ours = timeLoop(messages, minMs, (message) => {
    const record = decoder.decodeFlowResult(message);
    if (!decoder.isMalformed(record)) sink += record.action;
  });
  const protobufjs = timeLoop(messages, minMs, (message) => {
    flowResultType.toObject(flowResultType.decode(message), { longs: Number });
    sink++;
  });

  // The aggregator's per-record work: decode, then the ledger (dedup, coalescing, edge mapping).
  // The sample repeats, so each round is a fresh stream into a fresh ledger (every record counts).
  let ledger = new ledgerModule.BucketLedger(
    { resumeFrom: null, completedAbove: [], observedUntil: null },
    { includeOffCluster: false, quietPeriodMs: 10_000 },
  );
  let index = 0;
  const now = Date.now();
  const decodeAndLedger = timeLoop(messages, minMs, (message) => {
    if (index++ % messages.length === 0) {
      ledger = new ledgerModule.BucketLedger(
        { resumeFrom: null, completedAbove: [], observedUntil: null },
        { includeOffCluster: false, quietPeriodMs: 10_000 },
      );
      ledger.beginStream(now / 1000, null);
    }
    const record = decoder.decodeFlowResult(message);
    if (!decoder.isMalformed(record) && ledger.accept(record, now) === 'accepted') sink++;
  });
  if (sink < 0) throw new Error('unreachable: keeps the loops from being optimized away');
  return { ours, protobufjs, decodeAndLedger };
}
