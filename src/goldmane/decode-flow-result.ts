/**
 * Decodes a `goldmane.FlowResult` from its wire bytes, reading only what an edge needs.
 *
 * Why not the generated/reflection decoder: it builds an object for every label, policy hit and
 * counter (int64 as Long objects), and the aggregator throws all of that away. Walking the bytes and
 * skipping unneeded fields by wire type keeps the receive path allocation-light, which is what keeps
 * us reading as fast as Goldmane sends (a slow reader makes Goldmane drop buckets).
 * test/unit/decode-flow-result.test.ts checks this decoder against protobufjs on the same bytes.
 *
 * Field numbers are those of proto/goldmane.proto.
 */

/** What the aggregator needs from one FlowResult. */
export interface FlowRecord {
  /** Bucket start, unix seconds (Goldmane sets it to the bucket bound). */
  readonly startTime: number;
  /** Bucket end, unix seconds. */
  readonly endTime: number;
  /** As sent; proto3 omits empty strings, which decode as "". */
  readonly sourceNamespace: string;
  readonly destNamespace: string;
  /** Raw `goldmane.Action` number: 0 unspecified (or omitted), 1 allow, 2 deny, 3 pass, or unknown. */
  readonly action: number;
  /**
   * The FlowKey's bytes as sent, as a latin1 string: the record's identity within its bucket.
   * Goldmane's "full FlowKey" includes reporter, ports, service and policy trace, so this is the
   * whole key, not only the namespaces.
   */
  readonly key: string;
}

/** A FlowResult that could not be decoded; the stream goes on without it. */
export interface MalformedFlow {
  readonly malformed: string;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const FLOW_RESULT_FLOW = 2;
const FLOW_KEY = 1;
const FLOW_START_TIME = 2;
const FLOW_END_TIME = 3;
const KEY_SOURCE_NAMESPACE = 2;
const KEY_DEST_NAMESPACE = 5;
const KEY_ACTION = 14;

class WireError extends Error {}

/** A cursor over one protobuf message's bytes. */
class WireReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /**
   * Reads a varint as a JS number. Exact up to 2^53; int64 values we use (times, enums) are far
   * below that. A negative int64 (ten bytes) comes out as a large positive number, which the
   * callers treat as invalid.
   */
  varint(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * factor;
      if ((byte & 0x80) === 0) return result;
      factor *= 128;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** Returns the [start, end) of a length-delimited field and moves past it. */
  lengthDelimited(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new WireError('length-delimited field runs past its message');
    this.pos = end;
    return [start, end];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        // Groups (3, 4) are proto2-only; Goldmane never sends them.
        throw new WireError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(bytes: number): void {
    if (this.pos + bytes > this.end) throw new WireError('fixed-width field runs past its message');
    this.pos += bytes;
  }
}

interface KeyFields {
  sourceNamespace: string;
  destNamespace: string;
  action: number;
  key: string;
}

function readKey(buf: Buffer, start: number, end: number): KeyFields {
  const reader = new WireReader(buf, start, end);
  const fields: KeyFields = {
    sourceNamespace: '',
    destNamespace: '',
    action: 0,
    key: buf.toString('latin1', start, end),
  };
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === KEY_SOURCE_NAMESPACE && wireType === WIRE_LEN) {
      const [s, e] = reader.lengthDelimited();
      fields.sourceNamespace = buf.toString('utf8', s, e);
    } else if (field === KEY_DEST_NAMESPACE && wireType === WIRE_LEN) {
      const [s, e] = reader.lengthDelimited();
      fields.destNamespace = buf.toString('utf8', s, e);
    } else if (field === KEY_ACTION && wireType === WIRE_VARINT) {
      fields.action = reader.varint();
    } else {
      reader.skip(wireType);
    }
  }
  return fields;
}

function readFlow(buf: Buffer, start: number, end: number): FlowRecord {
  const reader = new WireReader(buf, start, end);
  let key: KeyFields | null = null;
  let startTime = 0;
  let endTime = 0;
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === FLOW_KEY && wireType === WIRE_LEN) {
      const [s, e] = reader.lengthDelimited();
      key = readKey(buf, s, e);
    } else if (field === FLOW_START_TIME && wireType === WIRE_VARINT) {
      startTime = reader.varint();
    } else if (field === FLOW_END_TIME && wireType === WIRE_VARINT) {
      endTime = reader.varint();
    } else {
      reader.skip(wireType);
    }
  }
  // A Flow without a Key is a flow between two unknown endpoints: both namespaces empty.
  key ??= { sourceNamespace: '', destNamespace: '', action: 0, key: '' };
  return {
    startTime,
    endTime,
    sourceNamespace: key.sourceNamespace,
    destNamespace: key.destNamespace,
    action: key.action,
    key: key.key,
  };
}

/**
 * Decodes one FlowResult. Never throws: bytes that are not a FlowResult come back as MalformedFlow,
 * because a throwing deserializer would make grpc-js end the call, and the resume would fetch the
 * same bytes again, forever.
 */
export function decodeFlowResult(buf: Buffer): FlowRecord | MalformedFlow {
  try {
    const reader = new WireReader(buf, 0, buf.length);
    let flow: FlowRecord | null = null;
    while (!reader.done) {
      const tag = reader.varint();
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field === FLOW_RESULT_FLOW && wireType === WIRE_LEN) {
        const [s, e] = reader.lengthDelimited();
        flow = readFlow(buf, s, e);
      } else {
        reader.skip(wireType);
      }
    }
    return flow ?? { malformed: 'FlowResult has no flow' };
  } catch (error) {
    if (error instanceof WireError) return { malformed: error.message };
    throw error;
  }
}

export function isMalformed(value: FlowRecord | MalformedFlow): value is MalformedFlow {
  return 'malformed' in value;
}
