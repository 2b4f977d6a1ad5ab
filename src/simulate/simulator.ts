/**
 * A Goldmane-compatible Flows.Stream server over mutual TLS (or plaintext), with the real
 * server's semantics: 15-second buckets aligned to the epoch, bucket [t, t+15) pushed to live
 * streams at about t+30, start_time_gte 0 / negative / positive, backfill oldest to newest, a
 * one-hour ring, both reporters, `-` namespaces, and FlowResult ids that start again at 1 after a
 * restart. Knobs reproduce what a client must survive: dropped connections, a restart with a new
 * ring, the stream-start duplicate race, invalid flows, a slow sender.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { FLOWS_STREAM_PATH, decodeFlowStreamRequest } from '../goldmane/proto.js';
import type { Logger } from '../log/logger.js';
import { encodeFlow, flowMessage, seededRandom, type FlowSpec } from './flows.js';
import {
  BUCKET_SECONDS,
  HISTORY_SECONDS,
  backfillBuckets,
  bucketFlushedAt,
  floorToBucket,
} from './ring-timing.js';

/** After a restart, Felix re-sends what it sent in the last 5 minutes; older history is gone. */
const FELIX_REPLAY_SECONDS = 300;
/** Encoded buckets kept in memory; a backfill encodes each bucket once, then moves on. */
const ENCODED_BUCKET_CACHE = 8;

export interface SimulatorTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface SimulatorOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** null serves plaintext gRPC (Goldmane does that when it has no certificate). */
  readonly tls: SimulatorTls | null;
  /** The flows of each bucket; must be deterministic in the bucket start. */
  readonly flows: (bucketStart: number) => readonly FlowSpec[];
  /** History the ring holds at startup, at most an hour. */
  readonly historySeconds?: number;
  /** 'manual': buckets reach live streams only through pushBucket() (for tests). */
  readonly rollover?: 'realtime' | 'manual';
  /** Reproduce the stream-start race: the newest flushed bucket is sent live, then again in the backfill. */
  readonly duplicates?: boolean;
  /** End every call with UNAVAILABLE after this many messages. */
  readonly dropAfterMessages?: number;
  /** Wait this long between messages (0 = as fast as possible). */
  readonly paceMs?: number;
  readonly log?: Logger;
}

export interface SimulatorStats {
  readonly streamsOpened: number;
  readonly activeStreams: number;
  readonly maxConcurrentStreams: number;
  readonly messagesSent: number;
  /** start_time_gte of every Stream call, in order. */
  readonly requests: readonly number[];
}

interface LiveStream {
  readonly call: grpc.ServerWritableStream<{ start_time_gte: number }, Buffer>;
  readonly queue: number[];
  closed: boolean;
  wake: (() => void) | null;
  sent: number;
}

export class Simulator {
  private readonly server = new grpc.Server();
  private readonly streams = new Set<LiveStream>();
  private readonly encoded = new Map<number, Buffer[]>();
  private ids = new Map<string, number>();
  private nextId = 1;
  /** Buckets starting before this have no data (the ring was empty or restarted). */
  private dataFrom: number;
  private rolloverTimer: NodeJS.Timeout | null = null;
  private boundPort = 0;
  private stats = { streamsOpened: 0, maxConcurrentStreams: 0, messagesSent: 0, requests: [] as number[] };
  private readonly flowResultType = new protobuf.Type('FlowResult')
    .add(new protobuf.Field('id', 1, 'int64'))
    .add(new protobuf.Field('flow', 2, 'bytes'));

  private constructor(private readonly options: SimulatorOptions) {
    const history = Math.min(options.historySeconds ?? HISTORY_SECONDS, HISTORY_SECONDS);
    this.dataFrom = floorToBucket(Date.now() / 1000) - history;
  }

  static async start(options: SimulatorOptions): Promise<Simulator> {
    const simulator = new Simulator(options);
    await simulator.listen();
    if ((options.rollover ?? 'realtime') === 'realtime') simulator.scheduleRollover();
    return simulator;
  }

  get port(): number {
    return this.boundPort;
  }

  getStats(): SimulatorStats {
    return { ...this.stats, activeStreams: this.streams.size, requests: [...this.stats.requests] };
  }

  /** Sends bucket `start` to every live stream now, as a rollover would. */
  pushBucket(start: number): void {
    for (const stream of this.streams) this.enqueue(stream, [start]);
  }

  /** Ends every open call with `code` (OK ends it cleanly, as a server returning from the handler). */
  endStreams(code: grpc.status = grpc.status.UNAVAILABLE, details = 'simulator ended the stream'): void {
    for (const stream of [...this.streams]) this.endStream(stream, code, details);
  }

  /**
   * Behaves like a restarted Goldmane: every stream is cut, flow ids start again at 1, and the
   * ring holds only what Felix replays (the last five minutes).
   */
  restart(): void {
    this.endStreams(grpc.status.UNAVAILABLE, 'simulated Goldmane restart');
    this.ids = new Map();
    this.nextId = 1;
    this.encoded.clear();
    this.dataFrom = floorToBucket(Date.now() / 1000 - FELIX_REPLAY_SECONDS);
    this.options.log?.info('ring restarted: ids reset, history limited to the last 5 minutes');
  }

  async stop(): Promise<void> {
    if (this.rolloverTimer !== null) clearTimeout(this.rolloverTimer);
    this.rolloverTimer = null;
    for (const stream of this.streams) {
      stream.closed = true;
      stream.wake?.();
    }
    this.server.forceShutdown();
    await Promise.resolve();
  }

  private async listen(): Promise<void> {
    const definition: grpc.ServiceDefinition = {
      Stream: {
        path: FLOWS_STREAM_PATH,
        requestStream: false,
        responseStream: true,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: decodeFlowStreamRequest,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (value: Buffer) => value,
        originalName: 'stream',
      },
    };
    this.server.addService(definition, {
      Stream: (call: grpc.ServerWritableStream<{ start_time_gte: number }, Buffer>) => void this.serve(call),
    });
    const tls = this.options.tls;
    const credentials =
      tls === null
        ? grpc.ServerCredentials.createInsecure()
        : // true: require and verify a client certificate, like Goldmane (RequireAndVerifyClientCert).
          grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
    const address = `${this.options.host ?? '127.0.0.1'}:${this.options.port ?? 0}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
  }

  private scheduleRollover(): void {
    const nowMs = Date.now();
    const nextMs = (floorToBucket(nowMs / 1000) + BUCKET_SECONDS) * 1000;
    this.rolloverTimer = setTimeout(
      () => {
        this.pushBucket(bucketFlushedAt(floorToBucket(Date.now() / 1000 + 0.5)));
        this.scheduleRollover();
      },
      nextMs - nowMs + 5,
    );
  }

  private async serve(call: grpc.ServerWritableStream<{ start_time_gte: number }, Buffer>): Promise<void> {
    const request = call.request.start_time_gte;
    this.stats.requests.push(request);
    this.stats.streamsOpened++;
    const stream: LiveStream = { call, queue: [], closed: false, wake: null, sent: 0 };
    this.streams.add(stream);
    this.stats.maxConcurrentStreams = Math.max(this.stats.maxConcurrentStreams, this.streams.size);
    const close = (): void => {
      stream.closed = true;
      this.streams.delete(stream);
      stream.wake?.();
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);

    const now = Date.now() / 1000;
    const backfill = backfillBuckets(request, now);
    if (this.options.duplicates === true) backfill.unshift(bucketFlushedAt(floorToBucket(now)));
    this.options.log?.info({ startTimeGte: request, backfillBuckets: backfill.length }, 'stream opened');
    this.enqueue(stream, backfill);
    try {
      await this.pump(stream);
    } catch (error) {
      this.options.log?.warn({ err: (error as Error).message }, 'stream failed');
      close();
    }
  }

  private enqueue(stream: LiveStream, buckets: readonly number[]): void {
    stream.queue.push(...buckets);
    stream.wake?.();
  }

  private async pump(stream: LiveStream): Promise<void> {
    const pace = this.options.paceMs ?? 0;
    while (!stream.closed) {
      const bucket = stream.queue.shift();
      if (bucket === undefined) {
        await new Promise<void>((resolve) => (stream.wake = resolve));
        stream.wake = null;
        continue;
      }
      for (const message of this.encodedBucket(bucket)) {
        if (stream.closed) return;
        const drop = this.options.dropAfterMessages;
        if (drop !== undefined && stream.sent >= drop) {
          this.endStream(stream, grpc.status.UNAVAILABLE, 'simulated connection drop');
          return;
        }
        if (!stream.call.write(message)) await new Promise((resolve) => stream.call.once('drain', resolve));
        stream.sent++;
        this.stats.messagesSent++;
        if (pace > 0) await new Promise((resolve) => setTimeout(resolve, pace));
      }
    }
  }

  private endStream(stream: LiveStream, code: grpc.status, details: string): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream);
    stream.wake?.();
    if (code === grpc.status.OK) stream.call.end();
    else stream.call.emit('error', { code, details });
  }

  /** The FlowResults of one bucket, encoded once and cached briefly. */
  private encodedBucket(bucket: number): Buffer[] {
    if (bucket < this.dataFrom) return [];
    const cached = this.encoded.get(bucket);
    if (cached !== undefined) return cached;
    const random = seededRandom(bucket);
    const messages = this.options.flows(bucket).map((spec) => {
      const flow = flowMessage(spec, bucket, BUCKET_SECONDS, random);
      const identity = JSON.stringify(flow.Key);
      let id = this.ids.get(identity);
      if (id === undefined) {
        id = this.nextId++;
        this.ids.set(identity, id);
      }
      return Buffer.from(this.flowResultType.encode({ id, flow: encodeFlow(flow) }).finish());
    });
    this.encoded.set(bucket, messages);
    if (this.encoded.size > ENCODED_BUCKET_CACHE) this.encoded.delete(this.encoded.keys().next().value!);
    return messages;
  }
}

/** Groups scripted flows by bucket start; every start must be a bucket boundary. */
export function scriptedFlows(
  flows: readonly (FlowSpec & { readonly start: number })[],
): (bucketStart: number) => FlowSpec[] {
  const byBucket = new Map<number, FlowSpec[]>();
  for (const flow of flows) {
    if (flow.start % BUCKET_SECONDS !== 0)
      throw new Error(`scripted flow start ${flow.start} is not a multiple of ${BUCKET_SECONDS}`);
    const list = byBucket.get(flow.start) ?? [];
    list.push(flow);
    byBucket.set(flow.start, list);
  }
  return (bucketStart) => byBucket.get(bucketStart) ?? [];
}
