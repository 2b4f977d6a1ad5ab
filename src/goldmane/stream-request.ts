/**
 * The Flows.Stream call on the wire: its method path, and the one message the aggregator sends,
 * FlowStreamRequest { start_time_gte = 1 }, encoded with
 * protobufjs's minimal writer. The aggregator never loads the .proto itself (its parser and
 * reflection objects cost memory in a 64 MiB pod); test/unit checks this against the .proto.
 */
import protobuf from 'protobufjs/minimal.js';

/** The gRPC method path of Flows.Stream (package goldmane, service Flows). */
export const FLOWS_STREAM_PATH = '/goldmane.Flows/Stream';

/** Field 1, wire type 0 (varint). */
const START_TIME_GTE_TAG = (1 << 3) | 0;

export function encodeFlowStreamRequest(startTimeGte: number): Buffer {
  const writer = protobuf.Writer.create();
  // proto3 leaves a zero out; Goldmane reads the absent field as 0 ("from now") all the same.
  if (startTimeGte !== 0) writer.uint32(START_TIME_GTE_TAG).int64(startTimeGte);
  return Buffer.from(writer.finish());
}
