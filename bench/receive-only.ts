/**
 * The limit: a bare grpc-js client that receives Flows.Stream and only counts messages (or, for
 * comparison, also decodes each one with our decoder or with protobufjs reflection). Run as a
 * subprocess by run-bench.ts; prints one JSON line.
 *
 * It receives as the aggregator does (flow-stream.ts): on the channel's call, one message at a
 * time. `api: 'stream'` uses the client's stream wrapper instead (makeServerStreamRequest, a
 * Readable), the usual API, to show what the wrapper costs.
 */
import * as grpc from '@grpc/grpc-js';
import { built } from './built.js';
import { connect, consumerArguments, preciseNow, type ConsumerArguments } from './consumer-connection.js';

/** 'ledger': our decoder and then the bucket ledger, the aggregator's per-record work without the database. */
export type ReceiveDecoding = 'none' | 'ours' | 'ledger' | 'protobufjs';

export type ReceiveApi = 'call' | 'stream';

export interface ReceiveOnlyArguments extends ConsumerArguments {
  readonly decode: ReceiveDecoding;
  readonly api: ReceiveApi;
}

export interface ReceiveOnlyResult {
  readonly messages: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** CPU seconds of this process from its first message to its last. */
  readonly cpuSeconds: number;
}

async function deserializerFor(decode: ReceiveDecoding): Promise<(bytes: Buffer) => unknown> {
  if (decode === 'ledger') {
    const decoder = await built<typeof import('../src/goldmane/decode-flow-result.js')>(
      'goldmane/decode-flow-result.js',
    );
    const { BucketLedger } = await built<typeof import('../src/aggregate/bucket-ledger.js')>(
      'aggregate/bucket-ledger.js',
    );
    const ledger = new BucketLedger(
      { resumeFrom: null, completedAbove: [], observedUntil: null },
      { includeOffCluster: false, quietPeriodMs: 10_000 },
    );
    ledger.beginStream(Date.now() / 1000, null);
    return (bytes) => {
      const record = decoder.decodeFlowResult(bytes);
      if (!decoder.isMalformed(record)) ledger.accept(record, Date.now());
      return record;
    };
  }
  if (decode === 'ours') {
    const decoder = await built<typeof import('../src/goldmane/decode-flow-result.js')>(
      'goldmane/decode-flow-result.js',
    );
    return decoder.decodeFlowResult;
  }
  if (decode === 'protobufjs') {
    const proto = await built<typeof import('../src/goldmane/proto.js')>('goldmane/proto.js');
    const type = proto.messageType('FlowResult');
    return (bytes) => type.toObject(type.decode(bytes), { longs: Number });
  }
  return (bytes) => bytes;
}

async function main(): Promise<void> {
  const args = consumerArguments<ReceiveOnlyArguments>();
  const proto = await built<typeof import('../src/goldmane/proto.js')>('goldmane/proto.js');
  const client = await connect(args);
  const deserialize = await deserializerFor(args.decode);
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuAtFirst = process.cpuUsage();
  const request = Buffer.from(
    proto.messageType('FlowStreamRequest').encode({ start_time_gte: -3540 }).finish(),
  );
  const result = await new Promise<ReceiveOnlyResult>((resolve, reject) => {
    let cancel = (): void => undefined;
    /** Returns false after the last message. */
    const onMessage = (bytes: Buffer): boolean => {
      deserialize(bytes);
      if (received++ === 0) {
        firstAt = preciseNow();
        cpuAtFirst = process.cpuUsage();
      }
      if (received < args.messages) return true;
      lastAt = preciseNow();
      const cpu = process.cpuUsage(cpuAtFirst);
      cancel();
      resolve({ messages: received, firstAt, lastAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
      return false;
    };
    const onEnd = (error: Error): void => {
      if (received < args.messages) reject(error);
    };
    if (args.api === 'stream') {
      const call = client.makeServerStreamRequest(
        proto.FLOWS_STREAM_PATH,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        request,
      );
      cancel = () => call.cancel();
      call.on('data', onMessage);
      call.on('error', onEnd);
      return;
    }
    const call = client
      .getChannel()
      .createCall(proto.FLOWS_STREAM_PATH, Infinity, undefined, null, undefined);
    cancel = () => call.cancelWithStatus(grpc.status.CANCELLED, 'done');
    call.start(new grpc.Metadata(), {
      onReceiveMetadata: () => undefined,
      onReceiveMessage: (bytes: Buffer) => {
        if (onMessage(bytes)) call.startRead();
      },
      onReceiveStatus: (status: grpc.StatusObject) =>
        onEnd(new Error(`the call ended ${status.code}: ${status.details}`)),
    });
    call.sendMessageWithContext({}, request);
    call.halfClose();
    call.startRead();
  });
  client.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
