/**
 * The bucket ledger decides which flow records count, and from where to resume. Pure: time comes in
 * as arguments, so every rule is a unit test (test/unit/bucket-ledger.test.ts).
 *
 * Goldmane sends one FlowResult per (full FlowKey, 15-second bucket), a whole bucket at a time:
 * the records of one bucket arrive together (a "run"), buckets in increasing order, except for a
 * short out-of-order prefix at stream start (a live bucket can overtake the backfill). Duplicates
 * come from that race, from overlapping resumes, from Goldmane replaying its whole hour, and from
 * restarts of either side. The ledger makes every distinct record count exactly once:
 *
 * - A run's records are coalesced apart from everything else until the run is complete: a later
 *   bucket's record arrives, or the run has been quiet for `quietPeriodMs`. A run cut short by the
 *   end of the stream is discarded, and fetched again by the resume.
 * - Within a run, a FlowKey seen twice counts once (the race can splice a second copy of the same
 *   bucket onto the first).
 * - A completed bucket never counts again. The durable frontier `resumeFrom` says "every bucket
 *   starting before this has been completed"; buckets completed above it (the out-of-order prefix)
 *   are listed in `completedAbove` until the frontier passes them.
 * - The frontier only moves over runs known to be in stream order: runs of the backfill region
 *   (older than registration minus a margin), or any run once a bucket flushed after registration
 *   has arrived (Goldmane's per-stream queue is FIFO, so by then the backfill is all delivered).
 *
 * Completed runs accumulate in a pending batch; the aggregator writes the batch together with the
 * frontier in one statement, so that a crash at any point neither loses nor double-counts a record
 * Goldmane still holds. A batch whose write failed is retried as it is (never merged with newer
 * data), so that a retry after an unknown commit outcome can be recognised as already applied.
 */
import { EdgeBatch } from '../edges/edge-batch.js';
import { hasValidTimes, type DropReason } from '../edges/flow-to-edge.js';
import type { FlowRecord } from '../goldmane/decode-flow-result.js';
import { FlowKeySet } from './flow-key-set.js';
import { RunEdges } from './run-edges.js';
import { planStreamStart, type ObservationGap, type StreamStartPlan } from './stream-start.js';

/** How a record was handled; the aggregator turns these into metrics. */
export type RecordOutcome = 'accepted' | 'duplicate' | DropReason;

/** A completed bucket, [start, end) in unix seconds. */
export interface BucketSpan {
  readonly start: number;
  readonly end: number;
}

/** What the ledger needs from the database at startup. */
export interface LedgerState {
  /** Every bucket starting before this (unix seconds) is complete; null before the first run. */
  readonly resumeFrom: number | null;
  /** Completed buckets at or above the frontier. */
  readonly completedAbove: readonly BucketSpan[];
  /** Last time (unix seconds) the stream was known to be connected; null if never. */
  readonly observedUntil: number | null;
}

export interface LedgerOptions {
  readonly includeOffCluster: boolean;
  /** A run with no new record for this long (confirmed on two ticks) is complete. */
  readonly quietPeriodMs: number;
}

/** Everything one flush writes. */
export interface PendingBatch {
  readonly edges: EdgeBatch;
  readonly resumeFrom: number | null;
  readonly completedAbove: readonly BucketSpan[];
  readonly gaps: readonly ObservationGap[];
  /** Flow records behind `edges` (for the edges-written metrics). */
  readonly records: number;
}

/**
 * How far below the registration time a bucket must start to be certainly part of the backfill:
 * Goldmane's newest backfilled bucket starts about 45 s before registration; the rest is clock skew.
 */
const BACKFILL_REGION_MARGIN_SECONDS = 60;
/**
 * How far ahead of our clock a bucket may start and still count: Goldmane's clock may run ahead of
 * ours (nodes are NTP-synced; ten minutes is generous). Later than that, a time is corrupt.
 */
const FUTURE_TOLERANCE_MS = 600_000;
/** A bucket starting this long after registration is flushed about 60 s after it: never backfill. */
const LIVE_PROOF_OFFSET_SECONDS = 30;

/** The bucket whose records are arriving; its FlowKeys and edges are the ledger's runKeys and runEdges. */
interface Run {
  readonly bucket: number;
  end: number;
  records: number;
  lastRecordAtMs: number;
  /** Set by a tick that found the run quiet; a second quiet tick completes it. */
  quietOnce: boolean;
}

interface StreamWindow {
  /** Runs starting before this are backfill, delivered in order. */
  readonly backfillBelow: number;
  /** A run starting at or after this proves the backfill is over. */
  readonly liveFrom: number;
  liveConfirmed: boolean;
}

function floorToBucket(seconds: number, bucketSeconds = 15): number {
  return Math.floor(seconds / bucketSeconds) * bucketSeconds;
}

export class BucketLedger {
  private resumeFrom: number | null;
  private readonly completedAbove = new Map<number, number>();
  private run: Run | null = null;
  /** Reused run after run: one run is open at a time. */
  private readonly runKeys = new FlowKeySet();
  private readonly runEdges: RunEdges;
  private stream: StreamWindow | null = null;
  private pending = new EdgeBatch();
  private pendingRecords = 0;
  private pendingGaps: ObservationGap[] = [];
  private stateChanged = false;

  constructor(
    state: LedgerState,
    private readonly options: LedgerOptions,
  ) {
    this.resumeFrom = state.resumeFrom;
    this.runEdges = new RunEdges(options);
    for (const span of state.completedAbove) this.completedAbove.set(span.start, span.end);
  }

  /**
   * Starts a new Stream call: returns what to send as start_time_gte, and records a gap when the
   * resume point has already left Goldmane's one-hour window.
   */
  beginStream(nowSeconds: number, observedUntil: number | null): StreamStartPlan {
    this.run = null;
    const registered = floorToBucket(nowSeconds);
    this.stream = {
      backfillBelow: registered - BACKFILL_REGION_MARGIN_SECONDS,
      liveFrom: registered + LIVE_PROOF_OFFSET_SECONDS,
      liveConfirmed: false,
    };
    const plan = planStreamStart({ resumeFrom: this.resumeFrom, observedUntil, nowSeconds });
    if (plan.gap !== null) {
      this.pendingGaps.push(plan.gap);
      this.stateChanged = true;
    }
    return plan;
  }

  /** The stream ended (any way): a run in progress may be incomplete, so it is dropped. */
  endStream(): void {
    this.run = null;
    this.runEdges.discard();
    this.stream = null;
  }

  accept(record: FlowRecord, nowMs: number): RecordOutcome {
    // A bucket from the future is corrupt (or a clock gone wrong): counting it would move the
    // frontier ahead and make every real record after it look like a duplicate.
    if (!hasValidTimes(record) || record.startTime * 1000 > nowMs + FUTURE_TOLERANCE_MS)
      return 'invalid_time';
    const bucket = record.startTime;
    if (this.run !== null && this.run.bucket !== bucket) this.completeRun();
    if (this.run === null) {
      if (this.isCompleted(bucket)) return 'duplicate';
      this.run = this.openRun(bucket, record.endTime);
    }
    const run = this.run;
    run.lastRecordAtMs = nowMs;
    run.quietOnce = false;
    if (!this.runKeys.add(record.message, record.keyStart, record.keyEnd)) return 'duplicate';
    if (record.endTime > run.end) run.end = record.endTime;
    const dropped = this.runEdges.add(record);
    if (dropped !== null) return dropped;
    run.records++;
    return 'accepted';
  }

  /** Called about once a second: completes a run that has gone quiet. */
  tick(nowMs: number): void {
    const run = this.run;
    if (run === null || nowMs - run.lastRecordAtMs < this.options.quietPeriodMs) return;
    // Two consecutive quiet ticks, so that a starved event loop (timers firing before queued socket
    // data is read) cannot complete a run whose next records are already waiting.
    if (run.quietOnce) this.completeRun();
    else run.quietOnce = true;
  }

  /** True when there is something to write: edges, a moved frontier, or a gap. */
  hasChanges(): boolean {
    return this.stateChanged || this.pending.size > 0;
  }

  /** Moves everything completed so far into a batch for writing. */
  takeBatch(): PendingBatch {
    const batch: PendingBatch = {
      edges: this.pending,
      resumeFrom: this.resumeFrom,
      completedAbove: this.completedSpans(),
      gaps: this.pendingGaps,
      records: this.pendingRecords,
    };
    this.pending = new EdgeBatch();
    this.pendingRecords = 0;
    this.pendingGaps = [];
    this.stateChanged = false;
    return batch;
  }

  /** Number of distinct edges waiting to be written. */
  get pendingEdges(): number {
    return this.pending.size;
  }

  get frontier(): number | null {
    return this.resumeFrom;
  }

  private isCompleted(bucket: number): boolean {
    return (this.resumeFrom !== null && bucket < this.resumeFrom) || this.completedAbove.has(bucket);
  }

  private openRun(bucket: number, end: number): Run {
    const stream = this.stream;
    if (stream !== null && bucket >= stream.liveFrom) stream.liveConfirmed = true;
    this.runKeys.clear();
    this.runEdges.discard();
    return { bucket, end, records: 0, lastRecordAtMs: 0, quietOnce: false };
  }

  private completeRun(): void {
    const run = this.run;
    if (run === null) return;
    this.run = null;
    this.runEdges.moveInto(this.pending);
    this.pendingRecords += run.records;
    this.stateChanged = true;

    const stream = this.stream;
    const inStreamOrder = stream !== null && (run.bucket < stream.backfillBelow || stream.liveConfirmed);
    if (inStreamOrder && (this.resumeFrom === null || run.bucket >= this.resumeFrom)) {
      this.resumeFrom = run.end;
    } else {
      this.completedAbove.set(run.bucket, run.end);
    }
    this.absorbCompletedAbove();
  }

  /** Moves the frontier over completed buckets that now touch it, and forgets those below it. */
  private absorbCompletedAbove(): void {
    if (this.resumeFrom === null) return;
    let end = this.completedAbove.get(this.resumeFrom);
    while (end !== undefined) {
      this.completedAbove.delete(this.resumeFrom);
      this.resumeFrom = end;
      end = this.completedAbove.get(this.resumeFrom);
    }
    for (const start of this.completedAbove.keys()) {
      if (start < this.resumeFrom) this.completedAbove.delete(start);
    }
  }

  private completedSpans(): BucketSpan[] {
    return [...this.completedAbove].map(([start, end]) => ({ start, end })).sort((a, b) => a.start - b.start);
  }
}
