/**
 * The aggregate job: Goldmane's flow stream in, coalesced edges out to Postgres.
 *
 * The receive path never waits for the database: records are decoded, deduplicated and coalesced
 * synchronously (bucket-ledger.ts), and a timer writes whatever has completed, one statement per
 * flush (store/ingest-store.ts). While the database is away, completed buckets keep coalescing into
 * the pending batch, whose size is bounded by the number of distinct edges, not by the flow rate;
 * a failed batch is retried unchanged, with backoff.
 */
import type * as grpc from '@grpc/grpc-js';
import type { IngestConfig } from '../config/load-config.js';
import { AppError } from '../errors.js';
import { isMalformed, type FlowRecord, type MalformedFlow } from '../goldmane/decode-flow-result.js';
import { FlowStream, reconnectDelayMs, statusName } from '../goldmane/flow-stream.js';
import type { Logger } from '../log/logger.js';
import { releaseCursor, writeBatch, type ClaimedCursor } from '../store/ingest-store.js';
import { describeDatabaseError, type Pool } from '../store/pool.js';
import { BucketLedger, type PendingBatch, type RecordOutcome } from './bucket-ledger.js';
import type { AggregatorMetrics } from './metrics.js';

/** How often buckets are checked for quiet completion and flushes are considered. */
const TICK_MS = 1_000;
/**
 * With nothing to write, the cursor is still written this often: the owner's heartbeat (a standby
 * takes over after three missed ones), and, while connected, proof that the trail was watching
 * (gap detection after a long absence).
 */
export const HEARTBEAT_MS = 30_000;
/** How long shutdown may spend on the final write: with the rest of the stop it stays under 10 s. */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 6_000;
/** Releasing the cursor on the way out is a courtesy to a standby (it would take over anyway). */
const RELEASE_TIMEOUT_MS = 1_000;

export interface AggregatorDeps {
  readonly pool: Pool;
  /** A new gRPC client to Goldmane; the aggregator closes it when it stops. */
  readonly createClient: () => grpc.Client;
  readonly ingest: IngestConfig;
  readonly log: Logger;
  readonly metrics: AggregatorMetrics;
}

export interface AggregatorHealth {
  readonly stream: FlowStream['state'];
  /** When this process became the owner and started streaming. */
  readonly activeSince: Date;
  /** Last time (sampled every second) the stream was open on a ready connection. */
  readonly lastConnectedAt: Date | null;
  readonly lastCommitAt: Date | null;
  readonly lastDatabaseError: { readonly message: string; readonly at: Date } | null;
  readonly pendingEdges: number;
  readonly frontier: number | null;
}

interface InFlight {
  readonly batch: PendingBatch;
  readonly seq: number;
}

/** Counts kept as plain numbers on the hot path, added to the Prometheus counters once per tick. */
interface RecordCounts {
  received: number;
  duplicate: number;
  dropped: Map<string, number>;
  newestEnd: number;
}

export class Aggregator {
  private readonly ledger: BucketLedger;
  private readonly client: grpc.Client;
  private readonly stream: FlowStream;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: InFlight | null = null;
  private writing: Promise<void> | null = null;
  private committedSeq = 0;
  private writeFailures = 0;
  private retryAt = 0;
  private lastFlushAt = 0;
  private lastCommitAt: Date | null = null;
  private readonly activeSince = new Date();
  private lastConnectedAt: Date | null = null;
  private lastDatabaseError: { message: string; at: Date } | null = null;
  private observedUntil: number | null;
  private counts: RecordCounts = { received: 0, duplicate: 0, dropped: new Map(), newestEnd: 0 };
  private fatal: AppError | null = null;
  private resolveFatal: ((error: AppError) => void) | null = null;
  /** Resolves if the aggregator had to stop on its own (another aggregator took over). */
  readonly failed: Promise<AppError>;

  private constructor(
    private readonly deps: AggregatorDeps,
    /** Identifies this process as the cursor's owner. */
    readonly writerId: string,
    cursor: ClaimedCursor,
  ) {
    this.ledger = new BucketLedger(cursor, deps.ingest);
    this.observedUntil = cursor.observedUntil;
    this.failed = new Promise((resolve) => (this.resolveFatal = resolve));
    this.client = deps.createClient();
    this.stream = new FlowStream(
      this.client,
      {
        begin: () => this.beginStream(),
        record: (record) => this.onRecord(record),
        end: (status) => this.onStreamEnd(status),
      },
      deps.log,
    );
    if (cursor.resumeFrom !== null) deps.metrics.committedFrontier.set(cursor.resumeFrom);
  }

  /**
   * Starts streaming as the owner of the ingest cursor (see aggregate-job.ts for claiming it).
   * Migrations must already be applied.
   */
  static start(deps: AggregatorDeps, writerId: string, cursor: ClaimedCursor): Aggregator {
    const aggregator = new Aggregator(deps, writerId, cursor);
    deps.log.info(
      {
        writer: writerId,
        resumeFrom: cursor.resumeFrom === null ? null : new Date(cursor.resumeFrom * 1000).toISOString(),
      },
      'took over the ingest cursor',
    );
    aggregator.stream.start();
    aggregator.timer = setInterval(() => aggregator.tick(), TICK_MS);
    return aggregator;
  }

  health(): AggregatorHealth {
    return {
      stream: this.stream.state,
      activeSince: this.activeSince,
      lastConnectedAt: this.lastConnectedAt,
      lastCommitAt: this.lastCommitAt,
      lastDatabaseError: this.lastDatabaseError,
      pendingEdges: this.ledger.pendingEdges + (this.inFlight?.batch.edges.size ?? 0),
      frontier: this.ledger.frontier,
    };
  }

  /**
   * Stops the stream, writes what has completed, and reports whether everything was committed.
   * A bucket cut short by the stop is not written: it is fetched again on the next start.
   */
  async stop(timeoutMs = SHUTDOWN_FLUSH_TIMEOUT_MS): Promise<{ committed: boolean }> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.stream.stop();
    this.syncCounters();
    const deadline = Date.now() + timeoutMs;
    while (
      this.fatal === null &&
      (this.inFlight !== null || this.ledger.hasChanges()) &&
      Date.now() < deadline
    ) {
      // Every wait is bounded by the deadline: a write stuck on a lock or a dead connection must
      // not keep a pod in Terminating. An abandoned write is harmless: it commits whole or not at all.
      if (this.writing !== null) await untilDeadline(this.writing, deadline);
      else if (this.inFlight === null)
        this.inFlight = { batch: this.ledger.takeBatch(), seq: this.committedSeq + 1 };
      else if (Date.now() >= this.retryAt) await untilDeadline(this.write(this.inFlight), deadline);
      else await sleep(Math.min(this.retryAt, deadline) - Date.now());
    }
    this.client.close();
    const committed = this.inFlight === null && !this.ledger.hasChanges() && this.fatal === null;
    if (committed) {
      const released = releaseCursor(this.deps.pool, this.writerId).then(
        () => true,
        (error: unknown) => {
          this.deps.log.warn(
            { err: describeDatabaseError(error) },
            'could not release the ingest cursor; a standby takes over after the takeover time',
          );
          return true;
        },
      );
      await untilDeadline(released, Date.now() + RELEASE_TIMEOUT_MS);
    }
    if (!committed && this.fatal === null) {
      this.deps.log.error(
        { pendingEdges: this.health().pendingEdges },
        'stopping with uncommitted edges; they are fetched again from Goldmane on the next start if it still holds them (one hour)',
      );
    }
    return { committed };
  }

  private beginStream(): number {
    const nowSeconds = Date.now() / 1000;
    const plan = this.ledger.beginStream(nowSeconds, this.observedUntil);
    if (plan.gap !== null) {
      this.deps.metrics.observationGaps.inc();
      this.deps.log.warn(
        {
          from: new Date(plan.gap.from * 1000).toISOString(),
          to: new Date(plan.gap.to * 1000).toISOString(),
        },
        'observation gap: the aggregator was away longer than Goldmane keeps flows; flows in this span may be missing from the trail',
      );
    }
    this.deps.metrics.streamStarts.inc();
    this.deps.log.info({ startTimeGte: plan.startTimeGte }, `opening flow stream (${plan.description})`);
    return plan.startTimeGte;
  }

  private onRecord(record: FlowRecord | MalformedFlow): void {
    const counts = this.counts;
    counts.received++;
    if (isMalformed(record)) {
      this.countDrop('malformed');
      this.deps.log.debug({ problem: record.malformed }, 'skipped an undecodable FlowResult');
      return;
    }
    if (record.endTime > counts.newestEnd) counts.newestEnd = record.endTime;
    const outcome: RecordOutcome = this.ledger.accept(record, Date.now());
    if (outcome === 'accepted') return;
    if (outcome === 'duplicate') counts.duplicate++;
    else this.countDrop(outcome);
  }

  private countDrop(reason: string): void {
    this.counts.dropped.set(reason, (this.counts.dropped.get(reason) ?? 0) + 1);
  }

  private onStreamEnd(status: grpc.StatusObject): void {
    this.ledger.endStream();
    this.deps.metrics.streamEnds.inc({ code: statusName(status.code) });
    this.deps.metrics.lastStreamStatus.set(status.code);
  }

  private syncCounters(): void {
    const { metrics } = this.deps;
    const counts = this.counts;
    this.counts = { received: 0, duplicate: 0, dropped: new Map(), newestEnd: counts.newestEnd };
    metrics.flowsReceived.inc(counts.received);
    metrics.flowsDuplicate.inc(counts.duplicate);
    for (const [reason, count] of counts.dropped) metrics.flowsDropped.inc({ reason }, count);
    if (counts.newestEnd > 0) metrics.newestFlowTime.set(counts.newestEnd);
    const connected = this.stream.isConnected();
    if (connected) this.lastConnectedAt = new Date();
    metrics.streamConnected.set(connected ? 1 : 0);
    metrics.pendingEdges.set(this.health().pendingEdges);
  }

  private tick(): void {
    const now = Date.now();
    this.ledger.tick(now);
    this.syncCounters();
    if (this.writing !== null || this.fatal !== null || now < this.retryAt) return;
    if (this.inFlight === null) {
      const due = this.ledger.hasChanges() && now - this.lastFlushAt >= this.deps.ingest.flushIntervalMs;
      const heartbeat =
        this.stream.isConnected() && now - (this.lastCommitAt?.getTime() ?? 0) >= HEARTBEAT_MS;
      if (!due && !heartbeat) return;
      this.inFlight = { batch: this.ledger.takeBatch(), seq: this.committedSeq + 1 };
    }
    void this.write(this.inFlight);
  }

  private write(inFlight: InFlight): Promise<void> {
    const run = async (): Promise<void> => {
      const { metrics, log } = this.deps;
      const observedUntil = this.stream.isConnected() ? Date.now() / 1000 : null;
      const stopTimer = metrics.flushDuration.startTimer();
      this.lastFlushAt = Date.now();
      try {
        const outcome = await writeBatch(this.deps.pool, inFlight.batch, {
          writerId: this.writerId,
          seq: inFlight.seq,
          observedUntil,
        });
        this.committedSeq = inFlight.seq;
        this.inFlight = null;
        this.writeFailures = 0;
        this.lastCommitAt = new Date();
        if (observedUntil !== null) this.observedUntil = Math.max(this.observedUntil ?? 0, observedUntil);
        metrics.lastCommit.set(this.lastCommitAt.getTime() / 1000);
        if (inFlight.batch.resumeFrom !== null) metrics.committedFrontier.set(inFlight.batch.resumeFrom);
        if (outcome.status === 'already-committed') {
          log.warn(
            { seq: inFlight.seq },
            'a batch whose commit answer was lost had committed; not applying it twice',
          );
          return;
        }
        metrics.flowsCounted.inc(inFlight.batch.records);
        metrics.edgesWritten.inc(outcome.edgesWritten);
        metrics.newEdges.inc(outcome.newEdges);
        if (outcome.rejected.length > 0) {
          metrics.rowsRejected.inc(outcome.rejected.length);
          log.error(
            { rejected: outcome.rejected.map((row) => `${row.src} -> ${row.dst} (${row.action})`) },
            'the database refused some edge rows; the rest of the batch was written',
          );
        }
        log.debug(
          { edges: outcome.edgesWritten, newEdges: outcome.newEdges, records: inFlight.batch.records },
          'batch committed',
        );
      } catch (error) {
        if (error instanceof AppError && error.code === 'SUPERSEDED') {
          this.fail(error);
          return;
        }
        metrics.databaseErrors.inc();
        const delayMs = reconnectDelayMs(this.writeFailures++);
        this.retryAt = Date.now() + delayMs;
        this.lastDatabaseError = { message: describeDatabaseError(error).message, at: new Date() };
        log.warn(
          { err: describeDatabaseError(error), retryInMs: delayMs, pendingEdges: this.health().pendingEdges },
          'writing edges failed; the batch is kept and retried',
        );
      } finally {
        stopTimer();
      }
    };
    const writing = run().finally(() => (this.writing = null));
    this.writing = writing;
    return writing;
  }

  private fail(error: AppError): void {
    if (this.fatal !== null) return;
    this.fatal = error;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    void this.stream.stop();
    this.resolveFatal?.(error);
  }
}

/** Waits for `promise`, or until `deadline` (epoch ms), whichever comes first. */
async function untilDeadline(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
  ]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
