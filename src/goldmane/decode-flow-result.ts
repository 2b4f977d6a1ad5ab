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
   * The FlowKey's bytes as sent, `message[keyStart, keyEnd)`: the record's identity within its
   * bucket. Goldmane's "full FlowKey" includes reporter, ports, service and policy trace, so this
   * is the whole key, not only the namespaces. Not copied: the range is valid as long as the
   * record is (the ledger copies what it keeps).
   */
  readonly message: Buffer;
  readonly keyStart: number;
  readonly keyEnd: number;
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

/**
 * The read position in the message being decoded. Decoding is synchronous and never re-entered,
 * so one cursor serves every message: the decoder allocates nothing but its result.
 */
let pos = 0;

/**
 * Reads a varint as a JS number. Exact up to 2^53; int64 values we use (times, enums) are far
 * below that. A negative int64 (ten bytes) comes out as a large positive number, which the
 * callers treat as invalid.
 */
function varint(buf: Buffer, end: number): number {
  if (pos >= end) throw new WireError('truncated varint');
  const first = buf[pos++]!;
  // Tags, enums and lengths below 128: one byte, most of what a FlowResult holds.
  if (first < 0x80) return first;
  let result = first & 0x7f;
  let factor = 128;
  for (let i = 1; i < 10; i++) {
    if (pos >= end) throw new WireError('truncated varint');
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * factor;
    if (byte < 0x80) return result;
    factor *= 128;
  }
  throw new WireError('varint longer than 10 bytes');
}

/** Reads a length prefix; returns where the field ends (it starts at `pos`). */
function fieldEnd(buf: Buffer, end: number): number {
  const length = varint(buf, end);
  const fieldEnd = pos + length;
  if (fieldEnd > end) throw new WireError('length-delimited field runs past its message');
  return fieldEnd;
}

function skip(buf: Buffer, end: number, wireType: number): void {
  switch (wireType) {
    case WIRE_VARINT:
      varint(buf, end);
      return;
    case WIRE_FIXED64:
      advance(8, end);
      return;
    case WIRE_LEN:
      pos = fieldEnd(buf, end);
      return;
    case WIRE_FIXED32:
      advance(4, end);
      return;
    default:
      // Groups (3, 4) are proto2-only; Goldmane never sends them.
      throw new WireError(`unsupported wire type ${wireType}`);
  }
}

function advance(bytes: number, end: number): void {
  if (pos + bytes > end) throw new WireError('fixed-width field runs past its message');
  pos += bytes;
}

/**
 * Namespace names seen before. A cluster has a few hundred namespaces; finding a name here costs
 * less than decoding it from UTF-8 again for every flow, and the maps downstream find a string
 * they have seen faster (its hash is cached). Direct-mapped: a name's slot comes from its length
 * and five of its bytes (beginning, middle, end), a hit is confirmed character by character, and a
 * name whose slot is taken replaces the one there. Only ASCII names are kept (their bytes are
 * their characters). Fixed size, so odd input cannot grow it.
 */
const NAMESPACE_CACHE_SLOTS = 4_096;
const namespaceCache: (string | undefined)[] = new Array<string | undefined>(NAMESPACE_CACHE_SLOTS).fill(
  undefined,
);

function namespaceAt(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length === 0) return '';
  const last = end - 1;
  let slot = Math.imul(length ^ buf[start]!, 0x01000193);
  slot = Math.imul(slot ^ buf[start + (length >> 1)]!, 0x01000193);
  slot = Math.imul(slot ^ buf[last]!, 0x01000193);
  slot = Math.imul(slot ^ buf[Math.min(start + 1, last)]!, 0x01000193);
  slot = Math.imul(slot ^ buf[Math.max(last - 1, start)]!, 0x01000193);
  slot = (slot ^ (slot >>> 16)) & (NAMESPACE_CACHE_SLOTS - 1);
  const cached = namespaceCache[slot];
  if (cached !== undefined && sameAscii(cached, buf, start, end)) return cached;
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return buf.toString('utf8', start, end);
  const name = buf.toString('latin1', start, end);
  namespaceCache[slot] = name;
  return name;
}

function sameAscii(text: string, buf: Buffer, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

/** The fields of the last FlowKey read (reset for each Flow). */
let keyStart = -1;
let keyEnd = -1;
let sourceNamespace = '';
let destNamespace = '';
let action = 0;

function readKey(buf: Buffer, end: number): void {
  keyStart = pos;
  keyEnd = end;
  sourceNamespace = '';
  destNamespace = '';
  action = 0;
  while (pos < end) {
    const tag = varint(buf, end);
    const wireType = tag % 8;
    const field = (tag - wireType) / 8;
    if (field === KEY_SOURCE_NAMESPACE && wireType === WIRE_LEN) {
      const stop = fieldEnd(buf, end);
      sourceNamespace = namespaceAt(buf, pos, stop);
      pos = stop;
    } else if (field === KEY_DEST_NAMESPACE && wireType === WIRE_LEN) {
      const stop = fieldEnd(buf, end);
      destNamespace = namespaceAt(buf, pos, stop);
      pos = stop;
    } else if (field === KEY_ACTION && wireType === WIRE_VARINT) {
      action = varint(buf, end);
    } else {
      skip(buf, end, wireType);
    }
  }
}

function readFlow(buf: Buffer, end: number): FlowRecord {
  // A Flow without a Key is a flow between two unknown endpoints: both namespaces empty.
  keyStart = -1;
  sourceNamespace = '';
  destNamespace = '';
  action = 0;
  let startTime = 0;
  let endTime = 0;
  while (pos < end) {
    const tag = varint(buf, end);
    const wireType = tag % 8;
    const field = (tag - wireType) / 8;
    if (field === FLOW_KEY && wireType === WIRE_LEN) {
      const stop = fieldEnd(buf, end);
      readKey(buf, stop);
    } else if (field === FLOW_START_TIME && wireType === WIRE_VARINT) {
      startTime = varint(buf, end);
    } else if (field === FLOW_END_TIME && wireType === WIRE_VARINT) {
      endTime = varint(buf, end);
    } else {
      skip(buf, end, wireType);
    }
  }
  if (keyStart < 0) keyEnd = keyStart = pos;
  return { startTime, endTime, sourceNamespace, destNamespace, action, message: buf, keyStart, keyEnd };
}

/**
 * Decodes one FlowResult. Never throws: bytes that are not a FlowResult come back as MalformedFlow,
 * because a throwing deserializer would make grpc-js end the call, and the resume would fetch the
 * same bytes again, forever.
 */
export function decodeFlowResult(buf: Buffer): FlowRecord | MalformedFlow {
  try {
    pos = 0;
    const end = buf.length;
    let flow: FlowRecord | null = null;
    while (pos < end) {
      const tag = varint(buf, end);
      const wireType = tag % 8;
      const field = (tag - wireType) / 8;
      if (field === FLOW_RESULT_FLOW && wireType === WIRE_LEN) {
        const stop = fieldEnd(buf, end);
        flow = readFlow(buf, stop);
      } else {
        skip(buf, end, wireType);
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
