/**
 * A Flows.Stream server that sends a SyntheticStream as fast as the receiver reads it (or at a
 * set rate), for benchmarks and load tests.
 *
 * Why not grpc-js's server, as simulator.ts uses: it serializes and writes one message per write
 * call, and on one core that caps the sender below what a grpc-js client can receive, so a
 * benchmark would measure the sender. This server speaks gRPC's wire format itself over
 * node:http2 (each message a 5-byte prefix and the FlowResult, `content-type: application/grpc`,
 * the status in trailers) and packs as many pre-encoded messages as fit into each write. To the
 * client it is the same protocol, so the real grpc-js client of `aggregate` consumes it unchanged.
 *
 * Every call receives the whole stream from its first bucket, whatever its start_time_gte.
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import { FLOWS_STREAM_PATH, decodeFlowStreamRequest } from '../goldmane/proto.js';
import type { Logger } from '../log/logger.js';
import type { SimulatorTls } from './simulator.js';
import type { SyntheticStream } from './synthetic-stream.js';

/**
 * Bytes per write: large enough that HTTP/2 and TLS framing cost little per message, small
 * enough that a write fits the receiver's flow-control window (grpc-js keeps HTTP/2's 64 KiB).
 */
const DEFAULT_WRITE_BYTES = 64 * 1024;
/** A rate-limited sender writes what is due every this many milliseconds. */
const RATE_TICK_MS = 10;
const GRPC_STATUS_OK = 0;
const GRPC_STATUS_UNIMPLEMENTED = 12;

export interface FastSenderOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Mutual TLS, as Goldmane; null serves plaintext. */
  readonly tls: SimulatorTls | null;
  readonly stream: SyntheticStream;
  /** Flows per second; 0 or absent sends as fast as the receiver reads. */
  readonly ratePerSecond?: number;
  readonly writeBytes?: number;
  /**
   * After the last message: 'hold' keeps the call open, as a Goldmane with nothing new to send
   * does; 'end' ends it with status OK.
   */
  readonly afterLast?: 'hold' | 'end';
  /** Calls wait for release() before sending (to observe a connected, idle receiver). */
  readonly paused?: boolean;
  readonly log?: Logger;
}

/** What one call has sent so far; times are Date.now() milliseconds. */
export interface SenderCallStats {
  readonly startTimeGte: number;
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly firstWriteAt: number | null;
  readonly lastWriteAt: number | null;
  /** All messages written (the receiver may still be reading them). */
  readonly complete: boolean;
  /** The client cancelled, or the connection went away. */
  readonly closed: boolean;
}

export interface SenderCall {
  stats(): SenderCallStats;
  /** Resolves when every message is written, or the call closed first. */
  readonly done: Promise<SenderCallStats>;
}

interface CallState {
  startTimeGte: number;
  messagesSent: number;
  bytesSent: number;
  firstWriteAt: number | null;
  lastWriteAt: number | null;
  complete: boolean;
  closed: boolean;
}

export class FastSender {
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly calls: SenderCall[] = [];
  private readonly callWaiters: (() => void)[] = [];
  private released: Promise<void>;
  private releaseCalls: () => void = () => undefined;
  private boundPort = 0;

  private constructor(private readonly options: FastSenderOptions) {
    const tls = options.tls;
    this.server =
      tls === null
        ? http2.createServer()
        : // requestCert + rejectUnauthorized: a client certificate is required and verified, as Goldmane does.
          http2.createSecureServer({
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            requestCert: true,
            rejectUnauthorized: true,
          });
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.released =
      options.paused === true ? new Promise((resolve) => (this.releaseCalls = resolve)) : Promise.resolve();
  }

  static async start(options: FastSenderOptions): Promise<FastSender> {
    const sender = new FastSender(options);
    sender.server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    await once(sender.server, 'listening');
    const address = sender.server.address();
    sender.boundPort = typeof address === 'object' && address !== null ? address.port : 0;
    return sender;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Lets paused calls send. */
  release(): void {
    this.releaseCalls();
  }

  /** Resolves with call number `index` (0-based) once it has arrived. */
  call(index: number): Promise<SenderCall> {
    const existing = this.calls[index];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve) => {
      const wait = (): void => {
        const call = this.calls[index];
        if (call !== undefined) resolve(call);
        else this.callWaiters.push(wait);
      };
      this.callWaiters.push(wait);
    });
  }

  get callCount(): number {
    return this.calls.length;
  }

  /** Closes every connection (as a Goldmane going away does) and stops listening. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    this.releaseCalls();
    await closed;
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    if (headers[':path'] !== FLOWS_STREAM_PATH) {
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(GRPC_STATUS_UNIMPLEMENTED),
        },
        { endStream: true },
      );
      return;
    }
    const body: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => body.push(chunk));
    stream.once('end', () => {
      const request = Buffer.concat(body);
      // The request is one message: skip its 5-byte gRPC prefix.
      const startTimeGte =
        request.length >= 5 ? decodeFlowStreamRequest(request.subarray(5)).start_time_gte : 0;
      this.serve(stream, startTimeGte);
    });
  }

  private serve(stream: http2.ServerHttp2Stream, startTimeGte: number): void {
    const state: CallState = {
      startTimeGte,
      messagesSent: 0,
      bytesSent: 0,
      firstWriteAt: null,
      lastWriteAt: null,
      complete: false,
      closed: false,
    };
    stream.once('close', () => (state.closed = true));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC_STATUS_OK) }));
    const done = this.pump(stream, state).then(
      () => ({ ...state }),
      (error: unknown) => {
        this.options.log?.warn({ err: (error as Error).message }, 'fast sender: call failed');
        state.closed = true;
        return { ...state };
      },
    );
    const call: SenderCall = { stats: () => ({ ...state }), done };
    this.calls.push(call);
    this.options.log?.info({ startTimeGte, call: this.calls.length }, 'fast sender: stream opened');
    for (const wake of this.callWaiters.splice(0)) wake();
  }

  private async pump(stream: http2.ServerHttp2Stream, state: CallState): Promise<void> {
    await this.released;
    const source = this.options.stream;
    const writeBytes = this.options.writeBytes ?? DEFAULT_WRITE_BYTES;
    const rate = this.options.ratePerSecond ?? 0;
    const cursor = source.start();
    const startedAt = performance.now();
    while (!state.closed && !source.isDone(cursor)) {
      let limit = Infinity;
      if (rate > 0) {
        const due = Math.floor(((performance.now() - startedAt) / 1000) * rate) - state.messagesSent;
        if (due <= 0) {
          await sleep(RATE_TICK_MS);
          continue;
        }
        limit = due;
      }
      const chunk = Buffer.allocUnsafe(writeBytes);
      const { bytes, messages } = source.fill(chunk, cursor, limit);
      if (messages === 0) break;
      state.firstWriteAt ??= Date.now();
      const flushed = stream.write(bytes === chunk.length ? chunk : chunk.subarray(0, bytes));
      state.messagesSent += messages;
      state.bytesSent += bytes;
      state.lastWriteAt = Date.now();
      // Wait while the receiver's flow-control window is full; otherwise still let I/O run.
      if (!flushed) await drainedOrClosed(stream);
      else await new Promise<void>((resolve) => setImmediate(() => resolve()));
    }
    state.complete = source.isDone(cursor);
    if (state.complete && !state.closed && this.options.afterLast === 'end') stream.end();
  }
}

function drainedOrClosed(stream: http2.ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const finish = (): void => {
      stream.off('drain', finish);
      stream.off('close', finish);
      resolve();
    };
    stream.on('drain', finish);
    stream.on('close', finish);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
