/**
 * A long, deterministic Flows.Stream for load tests: many consecutive 15-second buckets of a
 * topology's traffic, pre-encoded once as gRPC-framed FlowResults, so that sending costs a copy
 * per message instead of an encode.
 *
 * Encoding every bucket with protobufjs would cost the sender more CPU than the receiver spends
 * (about 10 µs per flow), and the sender shares the machine with the receiver it measures. So a
 * small cycle of real buckets ("shapes": the topology's traffic for `shapeCount` consecutive
 * buckets) is encoded once, and bucket i of the stream is shape i % shapeCount with its start and
 * end times written into the bytes. Every record of the stream is distinct, because no two buckets
 * share a start time, and the stream's bytes depend only on the topology, the seed and the first
 * bucket's start.
 */
import { BUCKET_SECONDS } from './ring-timing.js';
import { encodeFlow, flowMessage, seededRandom, type FlowSpec } from './flows.js';

/** gRPC's message prefix: a compressed-flag byte and a 4-byte big-endian length. */
const GRPC_PREFIX_BYTES = 5;
/**
 * Times are written as fixed 5-byte varints, so a template's length never changes. Every unix
 * time from 1978 (2^28) to the year 3058 (2^35) is exactly five varint bytes.
 */
const TIME_VARINT_BYTES = 5;
const MIN_PATCHABLE_TIME = 2 ** 28;
const MAX_PATCHABLE_TIME = 2 ** 35 - 1;
/**
 * Shapes are generated from fixed bucket starts (2025-01-01T00:00:00Z onwards), not from the
 * stream's own times, so the same topology and seed give the same traffic on every run.
 */
const SHAPE_EPOCH = 1_735_689_600;

/** One FlowResult, framed for gRPC, with where its start and end times are written. */
export interface FlowTemplate {
  readonly bytes: Buffer;
  readonly startOffset: number;
  readonly endOffset: number;
}

export interface SyntheticStreamOptions {
  /** The flows of a bucket (topologyFlows or scriptedFlows); must be deterministic in the start. */
  readonly flows: (bucketStart: number) => readonly FlowSpec[];
  /** Start of bucket 0, unix seconds, a multiple of 15. */
  readonly firstBucket: number;
  readonly buckets: number;
  /** Distinct bucket shapes encoded up front (memory: about 250 KB each for the reference cluster). */
  readonly shapeCount?: number;
  /**
   * Append the first record of the bucket after the last one. Goldmane completes a bucket only
   * by sending the next one; this record completes the last bucket at once instead of after the
   * receiver's quiet period, and it is never counted itself (its bucket stays incomplete).
   */
  readonly closingRecord?: boolean;
}

/** A position in the stream: message `message` of bucket `bucket`. */
export interface StreamCursor {
  bucket: number;
  message: number;
}

function writeTime(target: Buffer, offset: number, seconds: number): void {
  let value = seconds;
  for (let i = 0; i < TIME_VARINT_BYTES - 1; i++) {
    target[offset + i] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset + TIME_VARINT_BYTES - 1] = value;
}

function readVarint(bytes: Buffer, offset: number): { value: number; next: number } {
  let value = 0;
  let factor = 1;
  let position = offset;
  for (;;) {
    const byte = bytes[position++]!;
    value += (byte & 0x7f) * factor;
    if ((byte & 0x80) === 0) return { value, next: position };
    factor *= 128;
  }
}

/** Where fields 2 and 3 (start_time, end_time) of an encoded Flow start, as offsets into `flow`. */
function timeOffsets(flow: Buffer): { start: number; end: number } {
  let start = -1;
  let end = -1;
  let position = 0;
  while (position < flow.length) {
    const tag = readVarint(flow, position);
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    position = tag.next;
    if (wireType === 0) {
      const value = readVarint(flow, position);
      if ((field === 2 || field === 3) && value.next - position !== TIME_VARINT_BYTES) {
        throw new Error('a template time is not a 5-byte varint');
      }
      if (field === 2) start = position;
      if (field === 3) end = position;
      position = value.next;
    } else if (wireType === 2) {
      const length = readVarint(flow, position);
      position = length.next + length.value;
    } else {
      throw new Error(`unexpected wire type ${wireType} in an encoded Flow`);
    }
  }
  if (start < 0 || end < 0) throw new Error('an encoded Flow has no start_time or end_time');
  return { start, end };
}

function varintBytes(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 128) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** FlowResult { id = 1; flow = 2 }, framed for gRPC. */
function frameFlowResult(id: number, flow: Buffer): { bytes: Buffer; flowOffset: number } {
  const head = [0x08, ...varintBytes(id), 0x12, ...varintBytes(flow.length)];
  const length = head.length + flow.length;
  const bytes = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + length);
  bytes[0] = 0;
  bytes.writeUInt32BE(length, 1);
  bytes.set(head, GRPC_PREFIX_BYTES);
  flow.copy(bytes, GRPC_PREFIX_BYTES + head.length);
  return { bytes, flowOffset: GRPC_PREFIX_BYTES + head.length };
}

/**
 * One bucket's FlowResults. A FlowKey the topology yields twice in a bucket (the reference cluster
 * lists some dependencies more than once) is sent once, as Goldmane aggregates by FlowKey.
 */
function encodeShape(
  specs: readonly FlowSpec[],
  shapeStart: number,
  ids: Map<string, number>,
): FlowTemplate[] {
  const random = seededRandom(shapeStart);
  const seen = new Set<string>();
  const templates: FlowTemplate[] = [];
  for (const spec of specs) {
    // Any 5-byte time will do: the real ones are written per bucket.
    const flow = flowMessage(spec, MIN_PATCHABLE_TIME, BUCKET_SECONDS, random);
    const identity = JSON.stringify(flow.Key);
    if (seen.has(identity)) continue;
    seen.add(identity);
    let id = ids.get(identity);
    if (id === undefined) {
      id = ids.size + 1;
      ids.set(identity, id);
    }
    const encoded = encodeFlow(flow);
    const { bytes, flowOffset } = frameFlowResult(id, encoded);
    const offsets = timeOffsets(encoded);
    templates.push({ bytes, startOffset: flowOffset + offsets.start, endOffset: flowOffset + offsets.end });
  }
  return templates;
}

export class SyntheticStream {
  readonly firstBucket: number;
  readonly buckets: number;
  readonly closingRecord: boolean;
  /** Bucket shapes; bucket i is shapes[i % shapes.length]. */
  readonly shapes: readonly (readonly FlowTemplate[])[];

  constructor(options: SyntheticStreamOptions) {
    if (options.firstBucket % BUCKET_SECONDS !== 0)
      throw new Error(`firstBucket ${options.firstBucket} is not a multiple of ${BUCKET_SECONDS}`);
    const last = options.firstBucket + (options.buckets + 1) * BUCKET_SECONDS;
    if (options.firstBucket < MIN_PATCHABLE_TIME || last > MAX_PATCHABLE_TIME)
      throw new Error('synthetic bucket times must lie between 1978 and 3058');
    this.firstBucket = options.firstBucket;
    this.buckets = options.buckets;
    this.closingRecord = options.closingRecord ?? false;
    const ids = new Map<string, number>();
    const shapeCount = Math.max(1, Math.min(options.shapeCount ?? 64, options.buckets + 1));
    const shapes: FlowTemplate[][] = [];
    for (let k = 0; k < shapeCount; k++) {
      const shapeStart = SHAPE_EPOCH + k * BUCKET_SECONDS;
      shapes.push(encodeShape(options.flows(shapeStart), shapeStart, ids));
    }
    if (this.closingRecord && shapes[options.buckets % shapeCount]!.length === 0)
      throw new Error('the bucket after the last one has no flows to close the stream with');
    this.shapes = shapes;
  }

  bucketStart(bucket: number): number {
    return this.firstBucket + bucket * BUCKET_SECONDS;
  }

  /** The templates of bucket `bucket` (its times not yet written). */
  shapeOf(bucket: number): readonly FlowTemplate[] {
    return this.shapes[bucket % this.shapes.length]!;
  }

  /** Flow records in the stream's buckets, not counting the closing record. */
  get flows(): number {
    let total = 0;
    const whole = Math.floor(this.buckets / this.shapes.length);
    for (const shape of this.shapes) total += whole * shape.length;
    for (let bucket = whole * this.shapes.length; bucket < this.buckets; bucket++)
      total += this.shapeOf(bucket).length;
    return total;
  }

  /** Messages on the wire: the flows, plus the closing record if there is one. */
  get messages(): number {
    return this.flows + (this.closingRecord ? 1 : 0);
  }

  start(): StreamCursor {
    return { bucket: 0, message: 0 };
  }

  isDone(cursor: StreamCursor): boolean {
    if (cursor.bucket < this.buckets) return false;
    return !this.closingRecord || cursor.bucket > this.buckets || cursor.message >= 1;
  }

  /**
   * Copies consecutive messages from `cursor` into `target`, as many as fit whole and at most
   * `limit`, and moves the cursor past them. Returns the bytes written and the messages written.
   */
  fill(target: Buffer, cursor: StreamCursor, limit = Infinity): { bytes: number; messages: number } {
    let offset = 0;
    let messages = 0;
    while (messages < limit && !this.isDone(cursor)) {
      const shape = this.shapeOf(cursor.bucket);
      const template = shape[cursor.message];
      if (template === undefined) {
        cursor.bucket++;
        cursor.message = 0;
        continue;
      }
      if (offset + template.bytes.length > target.length) {
        if (offset === 0)
          throw new Error(
            `a ${template.bytes.length}-byte message does not fit a ${target.length}-byte write`,
          );
        break;
      }
      template.bytes.copy(target, offset);
      const start = this.bucketStart(cursor.bucket);
      writeTime(target, offset + template.startOffset, start);
      writeTime(target, offset + template.endOffset, start + BUCKET_SECONDS);
      offset += template.bytes.length;
      messages++;
      cursor.message++;
      if (cursor.bucket === this.buckets) break; // the closing record is a single message
    }
    return { bytes: offset, messages };
  }

  /** The FlowResult bytes (without the gRPC prefix) of the first `count` messages. */
  *messageBytes(count = Infinity): Generator<Buffer> {
    const cursor = this.start();
    const one = Buffer.allocUnsafe(64 * 1024);
    for (let produced = 0; produced < count && !this.isDone(cursor); produced++) {
      const { bytes, messages } = this.fill(one, cursor, 1);
      if (messages === 0) break;
      yield Buffer.from(one.subarray(GRPC_PREFIX_BYTES, bytes));
    }
  }
}
