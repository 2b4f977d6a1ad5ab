import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeFlowResult, isMalformed, type FlowRecord } from '../../src/goldmane/decode-flow-result.js';
import { actionName, flowToEdge } from '../../src/edges/flow-to-edge.js';
import { messageType } from '../../src/goldmane/proto.js';
import { flowMessage, seededRandom } from '../../src/simulate/flows.js';
import { bytesField, intField, message } from '../support/wire.js';

// FlowKey fields: 1 source_name, 2 source_namespace, 3 source_type, 4 dest_name, 5 dest_namespace,
// 13 reporter, 14 action. Flow: 1 Key, 2 start_time, 3 end_time. FlowResult: 1 id, 2 flow.
function flowResult(key: Buffer, startTime = 1735689600, endTime = 1735689615, extra: Buffer[] = []): Buffer {
  const flow = message(bytesField(1, key), intField(2, startTime), intField(3, endTime), ...extra);
  return message(intField(1, 7), bytesField(2, flow));
}

/** The FlowKey bytes a record points at. */
function keyOf(record: FlowRecord): Buffer {
  return record.message.subarray(record.keyStart, record.keyEnd);
}

function decoded(bytes: Buffer): FlowRecord {
  const result = decodeFlowResult(bytes);
  if (isMalformed(result)) throw new Error(`unexpectedly malformed: ${result.malformed}`);
  return result;
}

describe('decodeFlowResult on wire bytes (field case F5)', () => {
  // source_namespace "" and action ActionUnspecified are left out, as a Go server encodes them.
  const key = message(
    bytesField(1, 'pvt'),
    intField(3, 4),
    bytesField(4, 'api-*'),
    bytesField(5, 'prod'),
    intField(13, 2),
  );
  const bytes = flowResult(key);

  it('reads the key from Flow field 1 ("Key", capital K) and an omitted namespace as ""', () => {
    const flow = decoded(bytes);
    expect(flow.destNamespace).toBe('prod');
    expect(flow.sourceNamespace).toBe('');
    expect(flowToEdge(flow, { includeOffCluster: false })).toBe('no_namespace');
  });

  it('reads an omitted action as 0, stored as "unspecified"', () => {
    expect(decoded(bytes).action).toBe(0);
    expect(actionName(decoded(bytes).action)).toBe('unspecified');
  });

  it('maps an action number it does not know (7, a newer Goldmane) to "unspecified", never "7"', () => {
    const flow = decoded(flowResult(message(bytesField(2, 'shop'), bytesField(5, 'prod'), intField(14, 7))));
    expect(flow.action).toBe(7);
    expect(flowToEdge(flow, { includeOffCluster: false })).toEqual({
      src: 'shop',
      dst: 'prod',
      action: 'unspecified',
    });
  });

  it('returns int64 times as plain numbers of seconds: 1735689600 is 2025-01-01T00:00:00.000Z', () => {
    const flow = decoded(bytes);
    expect(flow.startTime).toBe(1735689600);
    expect(typeof flow.startTime).toBe('number');
    expect(new Date(flow.startTime * 1000).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(flow.endTime).toBe(1735689615);
  });

  it('maps Allow, Deny and Pass', () => {
    const actions = [1, 2, 3].map((action) =>
      flowToEdge(decoded(flowResult(message(bytesField(2, 'a'), bytesField(5, 'b'), intField(14, action)))), {
        includeOffCluster: false,
      }),
    );
    expect(actions).toEqual([
      { src: 'a', dst: 'b', action: 'allow' },
      { src: 'a', dst: 'b', action: 'deny' },
      { src: 'a', dst: 'b', action: 'pass' },
    ]);
  });

  it('reads a negative (ten-byte) action as an unknown number, not a crash', () => {
    const flow = decoded(flowResult(message(bytesField(2, 'a'), bytesField(5, 'b'), intField(14, -1))));
    expect(actionName(flow.action)).toBe('unspecified');
  });

  it('keeps the whole FlowKey bytes as the record identity', () => {
    expect(keyOf(decoded(bytes))).toEqual(key);
    const otherReporter = message(
      bytesField(1, 'pvt'),
      intField(3, 4),
      bytesField(4, 'api-*'),
      bytesField(5, 'prod'),
      intField(13, 1),
    );
    expect(keyOf(decoded(flowResult(otherReporter)))).not.toEqual(keyOf(decoded(bytes)));
  });

  it('skips fields it does not need, including unknown ones from newer servers', () => {
    const labels = [
      bytesField(4, 'app=web'),
      bytesField(5, 'app=db'),
      intField(6, 12),
      intField(99, 5),
      bytesField(100, 'future'),
    ];
    const flow = decoded(
      flowResult(
        message(bytesField(2, 'web'), bytesField(5, 'db'), intField(14, 1)),
        1735689600,
        1735689615,
        labels,
      ),
    );
    expect([flow.sourceNamespace, flow.destNamespace, flow.action, flow.startTime]).toEqual([
      'web',
      'db',
      1,
      1735689600,
    ]);
  });

  it('reports truncated or nonsense bytes as malformed instead of throwing', () => {
    expect(decodeFlowResult(bytes.subarray(0, bytes.length - 3))).toEqual({
      malformed: 'length-delimited field runs past its message',
    });
    expect(decodeFlowResult(Buffer.from([0x08]))).toEqual({ malformed: 'truncated varint' });
    expect(decodeFlowResult(Buffer.from([0x0b]))).toEqual({ malformed: 'unsupported wire type 3' });
    expect(decodeFlowResult(intField(1, 5))).toEqual({ malformed: 'FlowResult has no flow' });
  });

  it('decodes a NUL byte in a namespace as is, so that validation can reject it', () => {
    const flow = decoded(
      flowResult(message(bytesField(2, 'shop\u0000'), bytesField(5, 'db'), intField(14, 1))),
    );
    expect(flow.sourceNamespace).toBe('shop\u0000');
    expect(flowToEdge(flow, { includeOffCluster: false })).toBe('invalid_namespace');
  });
});

describe('decodeFlowResult agrees with protobufjs on realistic flows', () => {
  const flowResultType = messageType('FlowResult');

  it('gives the same namespaces, action and times for 500 simulator flows', () => {
    const random = seededRandom(42);
    const namespaces = ['shop', 'db', '-', '', 'kube-system', 'monitoring'];
    for (let i = 0; i < 500; i++) {
      const spec = {
        sourceNamespace: namespaces[Math.floor(random() * namespaces.length)]!,
        destNamespace: namespaces[Math.floor(random() * namespaces.length)]!,
        action: Math.floor(random() * 5),
        reporter: random() < 0.5 ? ('src' as const) : ('dst' as const),
        destPort: Math.floor(random() * 65536),
      };
      const start = 1735689600 + 15 * Math.floor(random() * 10000);
      const bytes = Buffer.from(
        flowResultType.encode({ id: i + 1, flow: flowMessage(spec, start, 15, random) }).finish(),
      );
      const reference = flowResultType.toObject(flowResultType.decode(bytes), {
        longs: Number,
        defaults: true,
      }) as {
        flow: {
          Key: { source_namespace: string; dest_namespace: string; action: number };
          start_time: number;
          end_time: number;
        };
      };
      const ours = decoded(bytes);
      expect(ours).toMatchObject({
        sourceNamespace: reference.flow.Key.source_namespace,
        destNamespace: reference.flow.Key.dest_namespace,
        action: reference.flow.Key.action,
        startTime: reference.flow.start_time,
        endTime: reference.flow.end_time,
      });
      const keyBytes = protobuf.Writer.create();
      messageType('FlowKey').encode(reference.flow.Key, keyBytes);
      expect(keyOf(ours)).toEqual(Buffer.from(keyBytes.finish()));
    }
  });
});

describe('decodeFlowResult keeps namespace names it has seen (a cache by a few of their bytes)', () => {
  const withNamespaces = (src: Buffer | string, dst: Buffer | string): Buffer =>
    flowResult(message(bytesField(2, src), bytesField(5, dst), intField(14, 1)));

  it('tells apart two names that share a cache slot, in any order', () => {
    // Same length, same first, middle and last two bytes: the same slot.
    for (const [src, dst] of [
      ['abxx-cd', 'abyx-cd'],
      ['abyx-cd', 'abxx-cd'],
      ['abxx-cd', 'abxx-cd'],
      ['abyx-cd', 'abyx-cd'],
      ['a', 'b'],
    ]) {
      const flow = decoded(withNamespaces(src!, dst!));
      expect([flow.sourceNamespace, flow.destNamespace]).toEqual([src, dst]);
    }
  });

  it('decodes names that are not ASCII as UTF-8, invalid bytes included, as Buffer#toString does', () => {
    expect(decoded(withNamespaces('ünï', 'db')).sourceNamespace).toBe('ünï');
    const invalid = Buffer.from([0x73, 0xff, 0x68]);
    expect(decoded(withNamespaces(invalid, 'db')).sourceNamespace).toBe(invalid.toString('utf8'));
  });

  it('stays correct with far more names than slots', () => {
    for (let i = 0; i < 10_000; i++) {
      const flow = decoded(withNamespaces(`src-${i}`, `dst-${i % 7}`));
      expect(flow.sourceNamespace).toBe(`src-${i}`);
      expect(flow.destNamespace).toBe(`dst-${i % 7}`);
    }
  });
});
