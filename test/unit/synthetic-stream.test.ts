import { describe, expect, it } from 'vitest';
import { decodeFlowResult, isMalformed, type FlowRecord } from '../../src/goldmane/decode-flow-result.js';
import { messageType } from '../../src/goldmane/proto.js';
import type { FlowSpec } from '../../src/simulate/flows.js';
import { SyntheticStream } from '../../src/simulate/synthetic-stream.js';

const FIRST = 1_764_000_000; // a multiple of 15

/** Shape k has k + 1 flows from "ns-k" to "db" (so buckets differ in size), and shape 0 repeats one. */
function flows(bucketStart: number): FlowSpec[] {
  const k = (bucketStart - 1_735_689_600) / 15;
  const specs: FlowSpec[] = Array.from({ length: k + 1 }, (_, i) => ({
    sourceNamespace: `ns-${k}`,
    destNamespace: 'db',
    destPort: 5432 + i,
  }));
  return k === 0 ? [...specs, specs[0]!] : specs;
}

function decodeAll(stream: SyntheticStream, count = Infinity): FlowRecord[] {
  return [...stream.messageBytes(count)].map((bytes) => {
    const record = decodeFlowResult(bytes);
    if (isMalformed(record)) throw new Error(record.malformed);
    return record;
  });
}

/** Splits a run of gRPC-framed messages into their payloads. */
function unframe(bytes: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  for (let offset = 0; offset < bytes.length;) {
    expect(bytes[offset]).toBe(0); // not compressed
    const length = bytes.readUInt32BE(offset + 1);
    messages.push(bytes.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return messages;
}

describe('SyntheticStream', () => {
  const stream = new SyntheticStream({
    flows,
    firstBucket: FIRST,
    buckets: 5,
    shapeCount: 3,
    closingRecord: true,
  });

  it('sends each bucket as its shape with the bucket bounds as times, each FlowKey once per bucket', () => {
    // Shapes 0, 1, 2, 0, 1: 1 (the repeated key is sent once), 2, 3, 1 and 2 flows.
    expect(stream.flows).toBe(9);
    const records = decodeAll(stream, stream.flows);
    expect(records.map((r) => [r.startTime - FIRST, r.endTime - FIRST, r.sourceNamespace])).toEqual([
      [0, 15, 'ns-0'],
      [15, 30, 'ns-1'],
      [15, 30, 'ns-1'],
      [30, 45, 'ns-2'],
      [30, 45, 'ns-2'],
      [30, 45, 'ns-2'],
      [45, 60, 'ns-0'],
      [60, 75, 'ns-1'],
      [60, 75, 'ns-1'],
    ]);
    // Within a bucket, distinct keys; across buckets, the same shape repeats its keys.
    const key = (r: FlowRecord): string => r.message.toString('latin1', r.keyStart, r.keyEnd);
    expect(new Set(records.slice(3, 6).map(key)).size).toBe(3);
    expect(key(records[6]!)).toBe(key(records[0]!));
  });

  it('ends with one closing record: the first record of the bucket after the last', () => {
    expect(stream.messages).toBe(10);
    const records = decodeAll(stream);
    expect(records).toHaveLength(10);
    expect(records[9]).toMatchObject({ startTime: FIRST + 75, endTime: FIRST + 90, sourceNamespace: 'ns-2' });
  });

  it('encodes messages that protobufjs reads as the same FlowResults', () => {
    const type = messageType('FlowResult');
    const [bytes] = [...stream.messageBytes(1)];
    const object = type.toObject(type.decode(bytes!), { longs: Number }) as {
      id: number;
      flow: { start_time: number; end_time: number; Key: { source_namespace: string; dest_port: number } };
    };
    expect(object.id).toBe(1);
    expect(object.flow.start_time).toBe(FIRST);
    expect(object.flow.end_time).toBe(FIRST + 15);
    expect(object.flow.Key).toMatchObject({ source_namespace: 'ns-0', dest_port: 5432 });
  });

  it('fills writes with whole framed messages, resuming where the last write stopped', () => {
    const whole = Buffer.concat([...stream.messageBytes()]);
    const cursor = stream.start();
    const pieces: Buffer[] = [];
    const target = Buffer.alloc(1200); // room for two or three messages
    let writes = 0;
    while (!stream.isDone(cursor)) {
      const { bytes, messages } = stream.fill(target, cursor, writes % 2 === 0 ? 1 : Infinity);
      expect(messages).toBeGreaterThan(0);
      pieces.push(...unframe(Buffer.from(target.subarray(0, bytes))));
      writes++;
    }
    expect(Buffer.concat(pieces)).toEqual(whole);
    expect(pieces).toHaveLength(10);
  });

  it('refuses a first bucket that is not on a 15-second boundary', () => {
    expect(() => new SyntheticStream({ flows, firstBucket: FIRST + 1, buckets: 1 })).toThrow(
      /multiple of 15/,
    );
  });
});
