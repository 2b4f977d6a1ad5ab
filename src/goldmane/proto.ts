/**
 * Our .proto (proto/goldmane.proto), loaded with protobufjs for the messages we build: the stream
 * request here, and the simulator's flows. Decoding on the aggregator's hot path does not use it
 * (see decode-flow-result.ts).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/goldmane.proto', import.meta.url));

export { FLOWS_STREAM_PATH } from './stream-request.js';

let root: protobuf.Root | undefined;

/** Loaded once; field names as in the .proto (source_namespace, Key), not camel-cased. */
export function goldmaneProto(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
  return root;
}

export function messageType(name: 'FlowStreamRequest' | 'FlowResult' | 'Flow' | 'FlowKey'): protobuf.Type {
  return goldmaneProto().lookupType(`goldmane.${name}`);
}

export function decodeFlowStreamRequest(bytes: Buffer): { start_time_gte: number } {
  const type = messageType('FlowStreamRequest');
  const object = type.toObject(type.decode(bytes), { longs: Number, defaults: true }) as {
    start_time_gte: number;
  };
  return { start_time_gte: object.start_time_gte };
}
