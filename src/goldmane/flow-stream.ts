/**
 * Keeps exactly one Flows.Stream call open to Goldmane, forever.
 *
 * Every end of a call starts a new one after a backoff: a clean end (status OK, no 'error' event),
 * CANCELLED we did not ask for, UNAVAILABLE (Goldmane restarting, a TLS handshake failure), UNKNOWN
 * or RESOURCE_EXHAUSTED (its 100-stream cap), INTERNAL, a reset. Goldmane is a single in-memory
 * replica that is replaced on every upgrade, so "the stream ended" is routine, not fatal.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeFlowResult, type FlowRecord, type MalformedFlow } from './decode-flow-result.js';
import { FLOWS_STREAM_PATH, encodeFlowStreamRequest } from './stream-request.js';

/** First retry after about a second, doubling to at most 30 s (Felix's own client uses 1 s → 10 s). */
export const RECONNECT_INITIAL_DELAY_MS = 1_000;
export const RECONNECT_MAX_DELAY_MS = 30_000;
/** Delays are shortened by up to this fraction at random, so restarted aggregators do not retry in step. */
const RECONNECT_JITTER = 0.2;

/** The delay before reconnect attempt `attempt` (0-based), before jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_INITIAL_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (1 - RECONNECT_JITTER * random()));
}

export interface StreamHandlers {
  /** Called right before each call; returns start_time_gte for it. */
  begin(): number;
  record(record: FlowRecord | MalformedFlow): void;
  /** Called once per call, after its last record, whatever ended it. */
  end(status: grpc.StatusObject): void;
}

export interface StreamStatus {
  readonly code: number;
  readonly codeName: string;
  readonly details: string;
  readonly at: Date;
}

/** A call on the channel (grpc-js exports its type only through Channel.createCall). */
type RawCall = ReturnType<grpc.Channel['createCall']>;

export type StreamPhase = 'calling' | 'backoff' | 'stopped';

export interface StreamState {
  readonly phase: StreamPhase;
  readonly connected: boolean;
  readonly callsStarted: number;
  readonly lastEnd: StreamStatus | null;
  readonly everReceived: boolean;
  readonly nextAttemptAt: Date | null;
}

/** Where the stream's lines go: a pino logger, or the ingest thread's link to the main thread's. */
export interface StreamLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

export class FlowStream {
  private call: RawCall | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopping = false;
  private resolveStopped: (() => void) | null = null;
  private phase: StreamPhase = 'backoff';
  /** Messages received on the current call. */
  private received = 0;
  private lastEnd: StreamStatus | null = null;
  private firstMessageAt: Date | null = null;
  private nextAttemptAt: Date | null = null;
  private callsStarted = 0;

  constructor(
    private readonly client: grpc.Client,
    private readonly handlers: StreamHandlers,
    private readonly log: StreamLog,
  ) {}

  start(): void {
    this.open();
  }

  /** Cancels the call (if any), stops reconnecting, and resolves once the call has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.call === null) {
      this.phase = 'stopped';
      return;
    }
    const ended = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    this.call.cancelWithStatus(grpc.status.CANCELLED, 'cancelled for shutdown');
    await ended;
  }

  /** A call is open and the connection under it is up. */
  isConnected(): boolean {
    return (
      this.call !== null &&
      this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY
    );
  }

  get state(): StreamState {
    return {
      phase: this.phase,
      connected: this.isConnected(),
      callsStarted: this.callsStarted,
      lastEnd: this.lastEnd,
      everReceived: this.firstMessageAt !== null,
      nextAttemptAt: this.phase === 'backoff' ? this.nextAttemptAt : null,
    };
  }

  private open(): void {
    this.retryTimer = null;
    if (this.stopping) return;
    const request = encodeFlowStreamRequest(this.handlers.begin());
    this.received = 0;
    this.phase = 'calling';
    this.callsStarted++;
    // The channel's call, not the client's stream wrapper around it: the wrapper is a Readable
    // that costs a few microseconds and a deferred callback per message, about a fifth of the
    // receive path at full speed (docs/performance.md). Reading one message at a time keeps
    // HTTP/2 flow control exactly as the wrapper would: the next is asked for once this one is handled.
    const call: RawCall = this.client
      .getChannel()
      .createCall(FLOWS_STREAM_PATH, Infinity, undefined, null, undefined);
    this.call = call;
    call.start(new grpc.Metadata(), {
      onReceiveMetadata: () => undefined,
      onReceiveMessage: (bytes: Buffer) => {
        if (this.call !== call) return;
        if (this.received++ === 0) {
          // A message proves the whole path works (TLS, authorization, Goldmane): back off from scratch.
          this.failures = 0;
          this.firstMessageAt ??= new Date();
        }
        this.handlers.record(decodeFlowResult(bytes));
        call.startRead();
      },
      // Every call ends here exactly once, however it ended (including a cancel of ours).
      onReceiveStatus: (status: grpc.StatusObject) => this.ended(call, status),
    });
    call.sendMessageWithContext({}, request);
    call.halfClose();
    call.startRead();
  }

  private ended(call: RawCall, status: grpc.StatusObject): void {
    if (this.call !== call) return;
    this.call = null;
    const end: StreamStatus = {
      code: status.code,
      codeName: statusName(status.code),
      details: status.details,
      at: new Date(),
    };
    this.lastEnd = end;
    this.handlers.end(status);
    if (this.stopping) {
      this.phase = 'stopped';
      this.log.info({ messages: this.received }, 'stream to Goldmane closed for shutdown');
      this.resolveStopped?.();
      return;
    }
    const delayMs = reconnectDelayMs(this.failures);
    if (this.received === 0) this.failures++;
    const fields = { code: end.codeName, details: end.details, messages: this.received, retryInMs: delayMs };
    if (status.code === grpc.status.OK) {
      this.log.warn(fields, 'Goldmane ended the flow stream; starting a new one');
    } else {
      this.log.error(fields, 'flow stream to Goldmane failed; retrying');
    }
    this.phase = 'backoff';
    this.nextAttemptAt = new Date(Date.now() + delayMs);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }
}
