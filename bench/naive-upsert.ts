/**
 * The naive baseline: the consumer anyone would write first. Each FlowResult is decoded with
 * protobufjs reflection, mapped by the same rules as ours (flowToEdge), and written with one
 * upsert of its own (autocommit) before the next one is read. Run as a subprocess by
 * run-bench.ts; prints one JSON line.
 */
import pg from 'pg';
import { built } from './built.js';
import { connect, consumerArguments, preciseNow, type ConsumerArguments } from './consumer-connection.js';

export interface NaiveArguments extends ConsumerArguments {
  readonly databaseUrl: string;
}

export interface NaiveResult {
  readonly messages: number;
  readonly statements: number;
  readonly firstAt: number;
  /** When the last upsert had committed. */
  readonly lastAt: number;
  readonly cpuSeconds: number;
}

const UPSERT = `INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count)
  VALUES ($1, $2, $3, to_timestamp($4), to_timestamp($5), 1)
  ON CONFLICT (src_ns, dst_ns, action) DO UPDATE SET
    first_seen = LEAST(edge.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(edge.last_seen, EXCLUDED.last_seen),
    flow_count = edge.flow_count + 1`;

interface DecodedFlowResult {
  flow?: {
    Key?: { source_namespace?: string; dest_namespace?: string; action?: number };
    start_time?: number;
    end_time?: number;
  };
}

async function main(): Promise<void> {
  const args = consumerArguments<NaiveArguments>();
  const proto = await built<typeof import('../src/goldmane/proto.js')>('goldmane/proto.js');
  const rules = await built<typeof import('../src/edges/flow-to-edge.js')>('edges/flow-to-edge.js');
  const flowResultType = proto.messageType('FlowResult');
  const database = new pg.Client({ connectionString: args.databaseUrl });
  await database.connect();
  const client = await connect(args);
  const call = client.makeServerStreamRequest(
    proto.FLOWS_STREAM_PATH,
    (bytes: Buffer) => bytes,
    (bytes: Buffer) =>
      flowResultType.toObject(flowResultType.decode(bytes), { longs: Number, defaults: true }),
    Buffer.from(proto.messageType('FlowStreamRequest').encode({ start_time_gte: -3540 }).finish()),
  );
  call.on('error', () => undefined);
  let messages = 0;
  let statements = 0;
  let firstAt = 0;
  let cpuAtFirst = process.cpuUsage();
  // Reading with for-await applies backpressure: the next message is read after the upsert.
  for await (const value of call) {
    if (messages++ === 0) {
      firstAt = preciseNow();
      cpuAtFirst = process.cpuUsage();
    }
    const flow = (value as DecodedFlowResult).flow ?? {};
    const edge = rules.flowToEdge(
      {
        startTime: flow.start_time ?? 0,
        endTime: flow.end_time ?? 0,
        sourceNamespace: flow.Key?.source_namespace ?? '',
        destNamespace: flow.Key?.dest_namespace ?? '',
        action: flow.Key?.action ?? 0,
        message: Buffer.alloc(0),
        keyStart: 0,
        keyEnd: 0,
      },
      { includeOffCluster: false },
    );
    if (typeof edge !== 'string') {
      await database.query(UPSERT, [edge.src, edge.dst, edge.action, flow.start_time, flow.end_time]);
      statements++;
    }
    if (messages >= args.messages) break;
  }
  const lastAt = preciseNow();
  const cpu = process.cpuUsage(cpuAtFirst);
  call.cancel();
  client.close();
  await database.end();
  const result: NaiveResult = {
    messages,
    statements,
    firstAt,
    lastAt,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
