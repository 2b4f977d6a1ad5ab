/**
 * The edge table a consumer must produce from a prefix of a SyntheticStream, worked out
 * independently of the pipeline: each template is decoded with protobufjs (the reference decoder),
 * a FlowKey counts once per bucket, and flowToEdge's rules say which flows become which edge.
 */
import type { SyntheticStream } from '../src/simulate/synthetic-stream.js';
import type { EdgeRowValues } from './bench-database.js';
import { built } from './built.js';

const BUCKET_SECONDS = 15;

interface ShapeEdges {
  /** Per message of the shape: the edge it adds to, or null (dropped, or a repeated FlowKey). */
  readonly perMessage: readonly (string | null)[];
  /** Records per edge in the whole bucket. */
  readonly totals: ReadonlyMap<string, number>;
}

interface ReferenceFlowResult {
  flow?: {
    Key?: Record<string, unknown> & { source_namespace?: string; dest_namespace?: string; action?: number };
  };
}

async function shapeEdges(stream: SyntheticStream): Promise<ShapeEdges[]> {
  const proto = await built<typeof import('../src/goldmane/proto.js')>('goldmane/proto.js');
  const rules = await built<typeof import('../src/edges/flow-to-edge.js')>('edges/flow-to-edge.js');
  const flowResultType = proto.messageType('FlowResult');
  return stream.shapes.map((shape) => {
    const seen = new Set<string>();
    const totals = new Map<string, number>();
    const perMessage = shape.map((template) => {
      const decoded = flowResultType.toObject(flowResultType.decode(template.bytes.subarray(5)), {
        longs: Number,
        defaults: true,
      }) as ReferenceFlowResult;
      const key = decoded.flow?.Key ?? {};
      // Every field of the FlowKey, as the reference decoder sees it, is the record's identity.
      const identity = JSON.stringify(key);
      if (seen.has(identity)) return null;
      seen.add(identity);
      const edge = rules.flowToEdge(
        {
          startTime: 1_800_000_000,
          endTime: 1_800_000_015,
          sourceNamespace: key.source_namespace ?? '',
          destNamespace: key.dest_namespace ?? '',
          action: key.action ?? 0,
          message: Buffer.alloc(0),
          keyStart: 0,
          keyEnd: 0,
        },
        { includeOffCluster: false },
      );
      if (typeof edge === 'string') return null;
      const edgeKey = `${edge.src}\u0000${edge.dst}\u0000${edge.action}`;
      totals.set(edgeKey, (totals.get(edgeKey) ?? 0) + 1);
      return edgeKey;
    });
    return { perMessage, totals };
  });
}

export interface ExpectedEdges {
  readonly rows: readonly EdgeRowValues[];
  /** Flow records that become edges: the sum of flow_count. */
  readonly records: number;
}

/**
 * The edge table after the first `messages` messages (default: every bucket; the closing record
 * never counts). With `wholeBucketsOnly`, a bucket cut off by the prefix does not count either,
 * as in the aggregator, which only writes complete buckets.
 */
export async function expectedEdges(
  stream: SyntheticStream,
  messages = stream.flows,
  wholeBucketsOnly = false,
): Promise<ExpectedEdges> {
  const shapes = await shapeEdges(stream);
  const rows = new Map<string, { firstSeen: number; lastSeen: number; flowCount: number }>();
  const add = (edgeKey: string, bucketStart: number, count: number): void => {
    const row = rows.get(edgeKey);
    if (row === undefined) {
      rows.set(edgeKey, { firstSeen: bucketStart, lastSeen: bucketStart + BUCKET_SECONDS, flowCount: count });
    } else {
      row.firstSeen = Math.min(row.firstSeen, bucketStart);
      row.lastSeen = Math.max(row.lastSeen, bucketStart + BUCKET_SECONDS);
      row.flowCount += count;
    }
  };
  let left = Math.min(messages, stream.flows);
  for (let bucket = 0; bucket < stream.buckets && left > 0; bucket++) {
    const shape = shapes[bucket % shapes.length]!;
    const start = stream.bucketStart(bucket);
    if (shape.perMessage.length <= left) {
      for (const [edgeKey, count] of shape.totals) add(edgeKey, start, count);
      left -= shape.perMessage.length;
      continue;
    }
    if (!wholeBucketsOnly) {
      for (const edgeKey of shape.perMessage.slice(0, left)) if (edgeKey !== null) add(edgeKey, start, 1);
    }
    left = 0;
  }
  let records = 0;
  const result = [...rows]
    .map(([edgeKey, row]) => {
      const [src, dst, action] = edgeKey.split('\u0000') as [string, string, string];
      records += row.flowCount;
      return { src, dst, action, ...row };
    })
    .sort((a, b) => compare(a.src, b.src) || compare(a.dst, b.dst) || compare(a.action, b.action));
  return { rows: result, records };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Differences between two edge tables, at most `limit` of them, for an error message. */
export function tableDifferences(
  expected: readonly EdgeRowValues[],
  actual: readonly EdgeRowValues[],
  limit = 5,
): string[] {
  const show = (row: EdgeRowValues): string =>
    `${row.src} -> ${row.dst} ${row.action} [${row.firstSeen}, ${row.lastSeen}] x${row.flowCount}`;
  const byKey = (rows: readonly EdgeRowValues[]): Map<string, string> =>
    new Map(rows.map((row) => [`${row.src}\u0000${row.dst}\u0000${row.action}`, show(row)]));
  const want = byKey(expected);
  const got = byKey(actual);
  const problems: string[] = [];
  for (const [key, row] of want) {
    const other = got.get(key);
    if (other === undefined) problems.push(`missing: ${row}`);
    else if (other !== row) problems.push(`expected ${row}, got ${other}`);
  }
  for (const [key, row] of got) if (!want.has(key)) problems.push(`unexpected: ${row}`);
  if (problems.length > limit)
    return [...problems.slice(0, limit), `... and ${problems.length - limit} more`];
  return problems;
}
