/**
 * The messages between the aggregator (main thread) and its ingest thread (ingest-worker.ts).
 *
 * The ingest thread receives, decodes and coalesces every flow record; the main thread keeps the
 * database, the HTTP server, the metrics and the cursor's ownership. Per flow nothing crosses the
 * boundary: the main thread hears a status about once a second and receives one batch per flush.
 * Everything here is plain data (structured clone: Buffers, Dates, arrays and objects).
 */
import { EdgeBatch, type EdgeRow } from '../edges/edge-batch.js';
import type { GoldmaneConfig } from '../config/load-config.js';
import type { StreamState } from '../goldmane/flow-stream.js';
import type { BucketSpan, LedgerOptions, LedgerState, PendingBatch } from './bucket-ledger.js';
import type { ObservationGap } from './stream-start.js';

export interface IngestInit {
  readonly goldmane: GoldmaneConfig;
  readonly ledger: LedgerState;
  readonly options: LedgerOptions;
  /** Debug lines are only sent across when the main thread's logger would write them. */
  readonly debug: boolean;
}

/** Per-record counts since the previous message that carried them. */
export interface RecordCounts {
  readonly received: number;
  readonly duplicate: number;
  readonly dropped: readonly (readonly [reason: string, count: number])[];
  /** End time of the newest record ever received (unix seconds); 0 before the first. */
  readonly newestEnd: number;
}

export interface IngestStatus {
  readonly counts: RecordCounts;
  readonly stream: StreamState;
  readonly pendingEdges: number;
  readonly frontier: number | null;
  /** Something to write: edges, a moved frontier, or a gap. */
  readonly hasChanges: boolean;
}

/** A PendingBatch as it crosses the boundary: rows instead of the coalescing structure. */
export interface BatchMessage {
  readonly rows: readonly EdgeRow[];
  readonly resumeFrom: number | null;
  readonly completedAbove: readonly BucketSpan[];
  readonly gaps: readonly ObservationGap[];
  readonly records: number;
}

export type ToIngest =
  | { readonly type: 'take'; readonly id: number }
  | { readonly type: 'observed'; readonly until: number }
  | { readonly type: 'stop' }
  | { readonly type: 'close' };

/** The levels of the lines the ingest thread forwards (config's LogLevel is the logger's setting). */
export type ForwardedLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromIngest =
  /** About once a second, after the ledger's tick. */
  | { readonly type: 'status'; readonly status: IngestStatus }
  | {
      readonly type: 'stream-begin';
      readonly startTimeGte: number;
      readonly description: string;
      readonly gap: ObservationGap | null;
    }
  | { readonly type: 'stream-end'; readonly code: number }
  | { readonly type: 'log'; readonly level: ForwardedLevel; readonly fields: object; readonly msg: string }
  /** The answer to 'take'; `status` is as of the moment the batch was taken. */
  | {
      readonly type: 'batch';
      readonly id: number;
      readonly batch: BatchMessage;
      readonly status: IngestStatus;
    }
  /** The answer to 'stop': the stream has ended and no record will arrive any more. */
  | { readonly type: 'stopped'; readonly status: IngestStatus };

/** What the ingest thread reports on its own, beside statuses and answers. */
export type IngestEvent = Extract<FromIngest, { type: 'stream-begin' | 'stream-end' | 'log' }>;

export function toBatchMessage(batch: PendingBatch): BatchMessage {
  return {
    rows: batch.edges.toRows(),
    resumeFrom: batch.resumeFrom,
    completedAbove: batch.completedAbove,
    gaps: batch.gaps,
    records: batch.records,
  };
}

export function fromBatchMessage(message: BatchMessage): PendingBatch {
  const edges = new EdgeBatch();
  for (const row of message.rows) edges.add(row, row.firstSeen, row.lastSeen, row.flowCount);
  return {
    edges,
    resumeFrom: message.resumeFrom,
    completedAbove: message.completedAbove,
    gaps: message.gaps,
    records: message.records,
  };
}
