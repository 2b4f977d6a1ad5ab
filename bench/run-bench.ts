/**
 * `npm run bench`: the end-to-end benchmark beside the physical limits and the naive design, on
 * one encoded stream over mutual TLS on loopback (docs/performance.md explains every figure).
 *
 *   node dist-bench/bench/run-bench.js [--flows N] [--runs N] [--json] ...    throughput
 *   node dist-bench/bench/run-bench.js --memory [--rate N] [--duration 60s]   sustained-load memory
 *
 * Exits 1 if any consumer's edge table differs from the flows sent: a fast wrong answer is a failure.
 */
import { parseArgs } from 'node:util';
import { createContext, REFERENCE_FLOWS_PER_BUCKET, type BenchContext } from './context.js';
import { expectedEdges, type ExpectedEdges } from './expected-edges.js';
import { imageNodeFlags } from './image-flags.js';
import { machineDescription } from './proc-stats.js';
import { renderMemoryReport, renderThroughputReport, summarize } from './report.js';
import { runDecode, type DecodeResults } from './scenario-decode.js';
import { runNaive, type NaiveScenarioResult } from './scenario-naive.js';
import { runPipeline, type PipelineResult } from './scenario-pipeline.js';
import { runReceive, type ReceiveResult } from './scenario-receive.js';

const MEASUREMENTS = ['pipeline', 'bare', 'decoders', 'decode', 'naive'] as const;
type Measurement = (typeof MEASUREMENTS)[number];

/** The V8 flag sets the memory measurement compares when none are given (after the image's). */
const CANDIDATE_FLAG_SETS = [
  '',
  '--max-semi-space-size=2',
  '--max-semi-space-size=4',
  '--max-old-space-size=24',
  '--max-old-space-size=24 --max-semi-space-size=2',
  '--max-old-space-size=32 --max-semi-space-size=4',
];

export interface ThroughputRun {
  readonly pipeline?: PipelineResult;
  readonly bare?: ReceiveResult;
  /** The same through the client's stream wrapper (the usual API). */
  readonly bareStream?: ReceiveResult;
  readonly oursOverNetwork?: ReceiveResult;
  readonly ledgerOverNetwork?: ReceiveResult;
  readonly protobufjsOverNetwork?: ReceiveResult;
  readonly decode?: DecodeResults;
  readonly naive?: NaiveScenarioResult;
}

/** What every report starts with: where, how, and over which stream it was measured. */
export interface ReportHeader {
  readonly machine: ReturnType<typeof machineDescription>;
  readonly command: string;
  readonly stream: StreamDescription;
}

export interface ThroughputReport extends ReportHeader {
  readonly kind: 'throughput';
  readonly naiveFlows: number;
  readonly flushInterval: string;
  readonly runs: readonly ThroughputRun[];
}

export interface MemoryReport extends ReportHeader {
  readonly kind: 'memory';
  readonly ratePerSecond: number;
  readonly idleSeconds: number;
  readonly results: readonly PipelineResult[];
}

export interface StreamDescription {
  readonly flows: number;
  readonly buckets: number;
  readonly averageMessageBytes: number;
  readonly edges: number;
  readonly acceptedRecords: number;
}

function describeStream(context: BenchContext, expected: ExpectedEdges): StreamDescription {
  let bytes = 0;
  let messages = 0;
  for (const shape of context.stream.shapes)
    for (const template of shape) {
      bytes += template.bytes.length;
      messages++;
    }
  return {
    flows: context.stream.flows,
    buckets: context.stream.buckets,
    averageMessageBytes: Math.round(bytes / Math.max(1, messages)),
    edges: expected.rows.length,
    acceptedRecords: expected.records,
  };
}

function parseDurationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (match === null) throw new Error(`not a duration: ${text} (e.g. 60s, 500ms, 2m)`);
  const value = Number(match[1]);
  return match[2] === 'ms' ? value / 1000 : match[2] === 'm' ? value * 60 : value;
}

/** A Kubernetes-style memory size in MiB or GiB ("64Mi"), or plain bytes. */
function parseMebibytes(text: string): number {
  const match = /^(\d+)(Mi|Gi)?$/.exec(text);
  if (match === null) throw new Error(`--memory-limit: not a size: ${text} (e.g. 64Mi)`);
  const value = Number(match[1]);
  return match[2] === 'Gi' ? value * 1024 ** 3 : match[2] === 'Mi' ? value * 1024 ** 2 : value;
}

function count(text: string, name: string): number {
  const value = Number(text.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

const USAGE = `usage: npm run bench -- [options]

Throughput (default):
  --flows N            flows in the stream (default 3000000; rounded up to whole buckets)
  --naive-flows N      flows the naive consumer writes (default 20000; it manages about 2000/s)
  --runs N             repeat everything N times and report medians (default 1)
  --only LIST          some of: ${MEASUREMENTS.join(',')}
  --node-flags=FLAGS   V8 flags for the aggregator and the other consumers (default: the
                       container image's, from the Dockerfile's ENTRYPOINT; --node-flags= for none)
  --flush-interval D   the aggregator's FLUSH_INTERVAL (default 1s)
Memory under sustained load:
  --memory             measure peak RSS idle and under load, for each V8 flag set
  --rate N             flows per second (default 50000)
  --duration D         time under load (default 60s)
  --idle D             idle time, connected, before the load (default 15s)
  --flag-sets=LIST     V8 flag sets separated by ';' (default: the image's, then six others;
                       an empty set is node's defaults)
Both:
  --memory-limit SIZE  run the aggregator in a memory cgroup with this hard limit, like a pod's
                       limits.memory (e.g. 64Mi; needs root and a cgroup memory controller)
  --json               print JSON instead of a table
  --keep-databases     do not drop the scratch databases
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      flows: { type: 'string', default: '3000000' },
      'naive-flows': { type: 'string', default: '20000' },
      runs: { type: 'string', default: '1' },
      only: { type: 'string' },
      'node-flags': { type: 'string' },
      'flush-interval': { type: 'string', default: '1s' },
      memory: { type: 'boolean', default: false },
      'memory-limit': { type: 'string' },
      rate: { type: 'string', default: '50000' },
      duration: { type: 'string', default: '60s' },
      idle: { type: 'string', default: '15s' },
      'flag-sets': { type: 'string' },
      json: { type: 'boolean', default: false },
      'keep-databases': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const machine = machineDescription();
  const command = `node ${process.argv.slice(1).join(' ')}`;
  const keepDatabase = values['keep-databases'];
  const flushInterval = values['flush-interval'];
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };

  const memoryLimitBytes =
    values['memory-limit'] === undefined ? undefined : parseMebibytes(values['memory-limit']);
  if (values.memory) {
    const rate = count(values.rate, 'rate');
    const durationSeconds = parseDurationSeconds(values.duration);
    const idleSeconds = parseDurationSeconds(values.idle);
    const imageFlags = imageNodeFlags().join(' ');
    const flagSets =
      values['flag-sets'] === undefined
        ? [imageFlags, ...CANDIDATE_FLAG_SETS.filter((set) => set !== imageFlags)]
        : values['flag-sets'].split(';');
    const buckets = Math.ceil((rate * durationSeconds) / REFERENCE_FLOWS_PER_BUCKET);
    const context = await createContext({ buckets });
    try {
      const expected = await expectedEdges(context.stream);
      const results: PipelineResult[] = [];
      for (const flags of flagSets) {
        const nodeFlags = flags.split(' ').filter((flag) => flag !== '');
        log(`memory: ${nodeFlags.join(' ') || '(no flags)'}: ${idleSeconds} s idle, then ${rate} flows/s...`);
        results.push(
          await runPipeline(context, {
            expected,
            nodeFlags,
            ratePerSecond: rate,
            idleMs: idleSeconds * 1000,
            flushInterval,
            keepDatabase,
            ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
          }),
        );
      }
      const report: MemoryReport = {
        kind: 'memory',
        machine,
        command,
        stream: describeStream(context, expected),
        ratePerSecond: rate,
        idleSeconds,
        results,
      };
      process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderMemoryReport(report));
      return results.every((result) => result.exact) ? 0 : 1;
    } finally {
      await context.dispose();
    }
  }

  const flows = count(values.flows, 'flows');
  const naiveFlows = count(values['naive-flows'], 'naive-flows');
  const runs = count(values.runs, 'runs');
  const only = new Set<Measurement>(
    values.only === undefined
      ? MEASUREMENTS
      : values.only.split(',').map((name) => {
          if (!(MEASUREMENTS as readonly string[]).includes(name))
            throw new Error(`--only: unknown measurement ${name} (${MEASUREMENTS.join(', ')})`);
          return name as Measurement;
        }),
  );
  const nodeFlags =
    values['node-flags'] === undefined
      ? imageNodeFlags()
      : values['node-flags'].split(' ').filter((flag) => flag !== '');
  const buckets = Math.ceil(flows / REFERENCE_FLOWS_PER_BUCKET);
  log(`encoding ${buckets} buckets of the reference cluster...`);
  const context = await createContext({ buckets });
  try {
    const expected = await expectedEdges(context.stream);
    const results: ThroughputRun[] = [];
    for (let run = 1; run <= runs; run++) {
      const prefix = runs > 1 ? `run ${run}/${runs}: ` : '';
      const result: {
        -readonly [K in keyof ThroughputRun]: ThroughputRun[K];
      } = {};
      if (only.has('pipeline')) {
        log(`${prefix}full pipeline (${context.stream.flows} flows)...`);
        result.pipeline = await runPipeline(context, {
          expected,
          nodeFlags,
          flushInterval,
          keepDatabase,
          ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
        });
      }
      if (only.has('bare')) {
        log(`${prefix}bare grpc-js receive...`);
        result.bare = await runReceive(context, 'none', nodeFlags);
        result.bareStream = await runReceive(context, 'none', nodeFlags, 'stream');
      }
      if (only.has('decoders')) {
        log(`${prefix}grpc-js with our decoder, with it and the ledger, and with protobufjs...`);
        result.oursOverNetwork = await runReceive(context, 'ours', nodeFlags);
        result.ledgerOverNetwork = await runReceive(context, 'ledger', nodeFlags);
        result.protobufjsOverNetwork = await runReceive(context, 'protobufjs', nodeFlags);
      }
      if (only.has('decode')) {
        log(`${prefix}decoding alone...`);
        result.decode = await runDecode(context.stream, 100_000, 2_000);
      }
      if (only.has('naive')) {
        log(`${prefix}naive: one upsert per flow (${naiveFlows} flows)...`);
        result.naive = await runNaive(context, naiveFlows, nodeFlags, keepDatabase);
      }
      results.push(result);
    }
    const report: ThroughputReport = {
      kind: 'throughput',
      machine,
      command,
      stream: describeStream(context, expected),
      naiveFlows,
      flushInterval,
      runs: results,
    };
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ ...report, summary: summarize(report) }, null, 2)}\n`
        : renderThroughputReport(report),
    );
    const inexact = results.flatMap((run) => [
      ...(run.pipeline?.exact === false ? [`full pipeline: ${run.pipeline.differences.join('; ')}`] : []),
      ...(run.naive?.exact === false ? [`naive: ${run.naive.differences.join('; ')}`] : []),
    ]);
    for (const problem of inexact) log(`WRONG RESULT: ${problem}`);
    return inexact.length === 0 ? 0 : 1;
  } finally {
    await context.dispose();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
