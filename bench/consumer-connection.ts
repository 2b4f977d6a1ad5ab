/**
 * The gRPC connection of the benchmark's own consumers: the same credentials and channel options
 * as `aggregate` (src/goldmane/channel.ts), so that they receive exactly as it does.
 */
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { GoldmaneConfig } from '../src/config/load-config.js';
import { built } from './built.js';

/** What a consumer subprocess is given on its command line, as JSON. */
export interface ConsumerArguments {
  readonly port: number;
  /** ca.crt, client.crt and client.key. */
  readonly certDir: string;
  /** Stop after this many messages. */
  readonly messages: number;
}

/** The name on the test server certificate, verified as `aggregate` verifies Goldmane's. */
export const SERVER_NAME = 'goldmane.calico-system.svc';
/** GOLDMANE_KEEPALIVE's default, as in the aggregator the benchmark runs. */
const KEEPALIVE_MS = 360_000;

export async function connect(args: ConsumerArguments): Promise<grpc.Client> {
  const grpcJs = await import('@grpc/grpc-js');
  const channel = await built<typeof import('../src/goldmane/channel.js')>('goldmane/channel.js');
  const tlsMaterial = await built<typeof import('../src/config/tls-material.js')>('config/tls-material.js');
  const problems: string[] = [];
  const tls = tlsMaterial.loadTlsMaterial(
    {
      certPath: join(args.certDir, 'client.crt'),
      keyPath: join(args.certDir, 'client.key'),
      caPath: join(args.certDir, 'ca.crt'),
    },
    new Date(),
    problems,
  );
  if (tls === null) throw new Error(`benchmark certificates: ${problems.join('; ')}`);
  const config: GoldmaneConfig = {
    target: `127.0.0.1:${args.port}`,
    serverName: SERVER_NAME,
    serverNameOverridden: true,
    insecure: false,
    keepaliveMs: KEEPALIVE_MS,
    tls,
  };
  return new grpcJs.Client(config.target, channel.channelCredentials(config), channel.channelOptions(config));
}

/** Milliseconds since the epoch, with sub-millisecond precision (comparable across processes). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Reads the JSON arguments a consumer subprocess was started with. */
export function consumerArguments<T extends ConsumerArguments>(): T {
  const text = process.argv[2];
  if (text === undefined) throw new Error('usage: node <consumer>.js JSON_ARGUMENTS');
  return JSON.parse(text) as T;
}
