/**
 * The aggregate job: Goldmane's flow stream in, coalesced edges out to Postgres.
 *
 * Records are received, decoded, deduplicated and coalesced in the ingest thread
 * (ingest-worker.ts, bucket-ledger.ts), which never waits for the database. This thread hears its
 * status about once a second, and when a flush is due takes what has completed as one batch and
 * writes it, one statement per flush (store/ingest-store.ts). While the database is away,
 * completed buckets keep coalescing into the ingest thread's pending batch, whose size is bounded
 * by the number of distinct edges, not by the flow rate; a failed batch is retried unchanged, with
 * backoff.
 */
import type { GoldmaneConfig, IngestConfig } from '../config/load-config.js';
import { AppError } from '../errors.js';
import { reconnectDelayMs, statusName, type StreamState } from '../goldmane/flow-stream.js';
import type { Logger } from '../log/logger.js';
import { releaseCursor, writeBatch, type ClaimedCursor } from '../store/ingest-store.js';
import { describeDatabaseError, type Pool } from '../store/pool.js';
import type { PendingBatch } from './bucket-ledger.js';
import type { IngestEvent, IngestStatus } from './ingest-messages.js';
import { IngestThread } from './ingest-thread.js';
import type { AggregatorMetrics } from './metrics.js';

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
  /** Where Goldmane is and how to reach it; the ingest thread makes its own client from it. */
  readonly goldmane: GoldmaneConfig;
  readonly ingest: IngestConfig;
  readonly log: Logger;
  readonly metrics: AggregatorMetrics;
}

export interface AggregatorHealth {
  readonly stream: StreamState;
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
  /** The stream was connected when the batch was taken: the trail was watched until then. */
  readonly observedUntil: number | null;
}

const STARTING: StreamState = {
  phase: 'calling',
  connected: false,
  callsStarted: 0,
  lastEnd: null,
  everReceived: false,
  nextAttemptAt: null,
};

export class Aggregator {
  private readonly ingest: IngestThread;
  /** The ingest thread's latest status. */
  private status: IngestStatus;
  private inFlight: InFlight | null = null;
  private writing: Promise<void> | null = null;
  private stopping = false;
  private committedSeq = 0;
  private writeFailures = 0;
  private retryAt = 0;
  private lastFlushAt = 0;
  private lastCommitAt: Date | null = null;
  private readonly activeSince = new Date();
  private lastConnectedAt: Date | null = null;
  private lastDatabaseError: { message: string; at: Date } | null = null;
  private fatal: AppError | null = null;
  private resolveFatal: ((error: AppError) => void) | null = null;
  /** Resolves if the aggregator had to stop on its own (another aggregator took over, or a bug). */
  readonly failed: Promise<AppError>;

  private constructor(
    private readonly deps: AggregatorDeps,
    /** Identifies this process as the cursor's owner. */
    readonly writerId: string,
    cursor: ClaimedCursor,
  ) {
    this.failed = new Promise((resolve) => (this.resolveFatal = resolve));
    this.status = {
      counts: { received: 0, duplicate: 0, dropped: [], newestEnd: 0 },
      stream: STARTING,
      pendingEdges: 0,
      frontier: cursor.resumeFrom,
      hasChanges: false,
    };
    this.ingest = new IngestThread(
      {
        goldmane: deps.goldmane,
        ledger: {
          resumeFrom: cursor.resumeFrom,
          completedAbove: cursor.completedAbove,
          observedUntil: cursor.observedUntil,
        },
        options: deps.ingest,
        debug: deps.log.isLevelEnabled('debug'),
      },
      {
        status: (status) => this.onStatus(status),
        message: (message) => this.onMessage(message),
        failed: (error) => this.fail(error),
      },
    );
    if (cursor.resumeFrom !== null) deps.metrics.committedFrontier.set(cursor.resumeFrom);
  }

  /**
   * Starts streaming as the owner of the ingest cursor (see aggregate-job.ts for claiming it).
   * Migrations must already be applied.
   */
  static start(deps: AggregatorDeps, writerId: string, cursor: ClaimedCursor): Aggregator {
    deps.log.info(
      {
        writer: writerId,
        resumeFrom: cursor.resumeFrom === null ? null : new Date(cursor.resumeFrom * 1000).toISOString(),
      },
      'took over the ingest cursor',
    );
    return new Aggregator(deps, writerId, cursor);
  }

  /** Why the aggregator stopped on its own, if it did (also when that happened during stop()). */
  get failure(): AppError | null {
    return this.fatal;
  }

  health(): AggregatorHealth {
    return {
      stream: this.status.stream,
      activeSince: this.activeSince,
      lastConnectedAt: this.lastConnectedAt,
      lastCommitAt: this.lastCommitAt,
      lastDatabaseError: this.lastDatabaseError,
      pendingEdges: this.status.pendingEdges + (this.inFlight?.batch.edges.size ?? 0),
      frontier: this.status.frontier,
    };
  }

  /**
   * Stops the stream, writes what has completed, and reports whether everything was committed.
   * A bucket cut short by the stop is not written: it is fetched again on the next start.
   */
  async stop(timeoutMs = SHUTDOWN_FLUSH_TIMEOUT_MS): Promise<{ committed: boolean }> {
    this.stopping = true;
    const deadline = Date.now() + timeoutMs;
    if (this.fatal === null) {
      await untilDeadline(
        this.ingest.stopStream().catch(() => undefined),
        deadline,
      );
    }
    while (
      this.fatal === null &&
      (this.inFlight !== null || this.status.hasChanges) &&
      Date.now() < deadline
    ) {
      // Every wait is bounded by the deadline: a write stuck on a lock or a dead connection must
      // not keep a pod in Terminating. An abandoned write is harmless: it commits whole or not at all.
      if (this.writing !== null) await untilDeadline(this.writing, deadline);
      else if (this.inFlight === null) await untilDeadline(this.take(), deadline);
      else if (Date.now() >= this.retryAt) await untilDeadline(this.write(this.inFlight), deadline);
      else await sleep(Math.min(this.retryAt, deadline) - Date.now());
    }
    await this.ingest.close();
    const committed = this.inFlight === null && !this.status.hasChanges && this.fatal === null;
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

  private onMessage(message: IngestEvent): void {
    const { log, metrics } = this.deps;
    switch (message.type) {
      case 'stream-begin': {
        const { gap } = message;
        if (gap !== null) {
          metrics.observationGaps.inc();
          log.warn(
            { from: new Date(gap.from * 1000).toISOString(), to: new Date(gap.to * 1000).toISOString() },
            'observation gap: the aggregator was away longer than Goldmane keeps flows; flows in this span may be missing from the trail',
          );
        }
        metrics.streamStarts.inc();
        log.info({ startTimeGte: message.startTimeGte }, `opening flow stream (${message.description})`);
        return;
      }
      case 'stream-end':
        metrics.streamEnds.inc({ code: statusName(message.code) });
        metrics.lastStreamStatus.set(message.code);
        return;
      case 'log':
        log[message.level](message.fields, message.msg);
        return;
    }
  }

  /** The ingest thread's status: about once a second, and with every batch taken. */
  private onStatus(status: IngestStatus): void {
    this.status = status;
    const { metrics } = this.deps;
    const { counts } = status;
    metrics.flowsReceived.inc(counts.received);
    metrics.flowsDuplicate.inc(counts.duplicate);
    for (const [reason, count] of counts.dropped) metrics.flowsDropped.inc({ reason }, count);
    if (counts.newestEnd > 0) metrics.newestFlowTime.set(counts.newestEnd);
    if (status.stream.connected) this.lastConnectedAt = new Date();
    metrics.streamConnected.set(status.stream.connected ? 1 : 0);
    metrics.pendingEdges.set(this.health().pendingEdges);
    if (!this.stopping) this.considerFlush();
  }

  private considerFlush(): void {
    const now = Date.now();
    if (this.writing !== null || this.fatal !== null || now < this.retryAt) return;
    if (this.inFlight === null) {
      const due = this.status.hasChanges && now - this.lastFlushAt >= this.deps.ingest.flushIntervalMs;
      const heartbeat =
        this.status.stream.connected && now - (this.lastCommitAt?.getTime() ?? 0) >= HEARTBEAT_MS;
      if (!due && !heartbeat) return;
    }
    void this.flush();
  }

  /** Takes a batch unless one is in flight, and writes it. */
  private flush(): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.inFlight === null) await this.takeBatch();
      if (this.inFlight !== null) await this.writeInFlight(this.inFlight);
    };
    return this.track(run());
  }

  private take(): Promise<void> {
    return this.track(this.takeBatch());
  }

  private write(inFlight: InFlight): Promise<void> {
    return this.track(this.writeInFlight(inFlight));
  }

  /** At most one take or write at a time. */
  private track(work: Promise<void>): Promise<void> {
    const writing = work.finally(() => (this.writing = null));
    this.writing = writing;
    return writing;
  }

  private async takeBatch(): Promise<void> {
    try {
      const { batch, status } = await this.ingest.takeBatch();
      this.inFlight = {
        batch,
        seq: this.committedSeq + 1,
        observedUntil: status.stream.connected ? Date.now() / 1000 : null,
      };
    } catch {
      // The ingest thread failed; fail() has been called and the aggregator stops.
    }
  }

  private async writeInFlight(inFlight: InFlight): Promise<void> {
    const { metrics, log } = this.deps;
    const stopTimer = metrics.flushDuration.startTimer();
    this.lastFlushAt = Date.now();
    try {
      const outcome = await writeBatch(this.deps.pool, inFlight.batch, {
        writerId: this.writerId,
        seq: inFlight.seq,
        observedUntil: inFlight.observedUntil,
      });
      this.committedSeq = inFlight.seq;
      this.inFlight = null;
      this.writeFailures = 0;
      this.lastCommitAt = new Date();
      if (inFlight.observedUntil !== null) this.ingest.observedUntil(inFlight.observedUntil);
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
  }

  private fail(error: AppError): void {
    if (this.fatal !== null) return;
    this.fatal = error;
    this.stopping = true;
    if (error.code !== 'INTERNAL') void this.ingest.stopStream().catch(() => undefined);
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
