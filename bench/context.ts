/** What every scenario of one benchmark run shares: the encoded stream and the certificates. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastSender as FastSenderClass, FastSenderOptions } from '../src/simulate/fast-sender.js';
import type { SyntheticStream } from '../src/simulate/synthetic-stream.js';
import type { SimulatorTls } from '../src/simulate/simulator.js';
import { built } from './built.js';

export interface BenchContext {
  readonly stream: SyntheticStream;
  /** ca.crt, server.crt/key and client.crt/key, made for this run. */
  readonly certDir: string;
  startSender(options?: Partial<Omit<FastSenderOptions, 'stream' | 'tls'>>): Promise<FastSenderClass>;
  dispose(): Promise<void>;
}

export interface StreamSize {
  /** Consecutive buckets of the reference cluster. */
  readonly buckets: number;
  readonly seed?: number;
}

/** Flows in a bucket of the reference cluster, on average (each FlowKey once): buckets = flows / this. */
export const REFERENCE_FLOWS_PER_BUCKET = 593;

export async function createContext(size: StreamSize): Promise<BenchContext> {
  const [{ SyntheticStream }, { FastSender }, flows, topology, certificates, timing] = await Promise.all([
    built<typeof import('../src/simulate/synthetic-stream.js')>('simulate/synthetic-stream.js'),
    built<typeof import('../src/simulate/fast-sender.js')>('simulate/fast-sender.js'),
    built<typeof import('../src/simulate/flows.js')>('simulate/flows.js'),
    built<typeof import('../src/simulate/topology.js')>('simulate/topology.js'),
    built<typeof import('../src/simulate/certificates.js')>('simulate/certificates.js'),
    built<typeof import('../src/simulate/ring-timing.js')>('simulate/ring-timing.js'),
  ]);
  const certDir = await mkdtemp(join(tmpdir(), 'gea-bench-tls-'));
  await certificates.writeCertificates(certDir);
  const tls: SimulatorTls = {
    ca: await readFile(join(certDir, 'ca.crt')),
    cert: await readFile(join(certDir, 'server.crt')),
    key: await readFile(join(certDir, 'server.key')),
  };
  // Every bucket lies well before "now minus a minute", like a backfill, so the aggregator moves
  // its resume frontier over each one as it completes (see bucket-ledger.ts).
  const firstBucket =
    timing.floorToBucket(Date.now() / 1000) -
    (size.buckets + 1) * timing.BUCKET_SECONDS -
    timing.HISTORY_SECONDS;
  const stream = new SyntheticStream({
    flows: flows.topologyFlows(topology.loadTopology(), { seed: size.seed ?? 1 }),
    firstBucket,
    buckets: size.buckets,
    closingRecord: true,
  });
  return {
    stream,
    certDir,
    startSender: (options = {}) => FastSender.start({ ...options, tls, stream }),
    dispose: () => rm(certDir, { recursive: true, force: true }),
  };
}
