/**
 * The aggregate job's life: own the ingest cursor and stream, or stand by while another
 * aggregator owns it.
 *
 * Exactly one aggregator writes to a database at a time, because every write is guarded by cursor
 * ownership. A second one (a rolling update's new pod, or a second replica) stands by: it takes
 * over as soon as the owner releases the cursor (clean shutdown) or stops heartbeating, and a
 * restarted container of the same pod takes over at once. An owner that finds the cursor taken
 * (it stalled past the takeover time) stops writing and stands by in turn.
 */
import { randomUUID } from 'node:crypto';
import { claimCursor } from '../store/ingest-store.js';
import { WaitAborted, retryUntilDatabaseReady, sleepUnlessAborted } from '../store/wait-for-database.js';
import { Aggregator, HEARTBEAT_MS, type AggregatorDeps, type AggregatorHealth } from './aggregator.js';
import { ingestWorkerScript } from './ingest-thread.js';

/** Three missed heartbeats: the owner is gone. */
export const TAKEOVER_AFTER_SECONDS = (3 * HEARTBEAT_MS) / 1000;
/** How often a standby looks at the cursor. */
const STANDBY_POLL_MS = 5_000;

export type JobHealth =
  | { readonly role: 'starting' }
  | { readonly role: 'standby'; readonly heldBy: string; readonly since: Date }
  | ({ readonly role: 'active' } & AggregatorHealth);

export interface AggregateJobOptions extends AggregatorDeps {
  /** Names this aggregator's instance (the pod); the cursor owner is "<instance>/<uuid>". */
  readonly instance: string;
}

export class AggregateJob {
  private aggregator: Aggregator | null = null;
  private standby: { heldBy: string; since: Date } | null = null;

  constructor(private readonly options: AggregateJobOptions) {}

  health(): JobHealth {
    if (this.aggregator !== null) return { role: 'active', ...this.aggregator.health() };
    if (this.standby !== null) return { role: 'standby', ...this.standby };
    return { role: 'starting' };
  }

  /**
   * Runs until `abort` fires, then stops the active aggregator (which commits and releases the
   * cursor). Resolves with whether everything received was committed.
   */
  async run(abort: AbortSignal): Promise<{ committed: boolean }> {
    const { log, pool } = this.options;
    // A broken install should fail before it holds the cursor (a standby would wait it out).
    ingestWorkerScript();
    let fromSameInstance = true;
    let lastHolder: string | null = null;
    while (!abort.aborted) {
      const writerId = `${this.options.instance}/${randomUUID()}`;
      let claim;
      try {
        claim = await retryUntilDatabaseReady(
          'claiming the ingest cursor',
          () =>
            claimCursor(pool, writerId, { takeoverAfterSeconds: TAKEOVER_AFTER_SECONDS, fromSameInstance }),
          log,
          abort,
        );
      } catch (error) {
        if (error instanceof WaitAborted) break;
        throw error;
      }
      if (!claim.claimed) {
        if (claim.heldBy !== lastHolder) {
          log.info(
            {
              heldBy: claim.heldBy,
              idleSeconds: Math.round(claim.idleSeconds),
              takeoverAfterSeconds: TAKEOVER_AFTER_SECONDS,
            },
            'another aggregator owns the ingest cursor; standing by',
          );
          lastHolder = claim.heldBy;
          this.standby = { heldBy: claim.heldBy, since: new Date() };
        }
        await sleepUnlessAborted(STANDBY_POLL_MS, abort);
        continue;
      }
      this.standby = null;
      lastHolder = null;
      const aggregator = Aggregator.start(this.options, writerId, claim.cursor);
      this.aggregator = aggregator;
      this.options.metrics.active.set(1);
      const raced = await Promise.race([aggregator.failed, aborted(abort)]);
      const result = await aggregator.stop();
      this.aggregator = null;
      this.options.metrics.active.set(0);
      this.options.metrics.pendingEdges.set(0);
      // A failure during the stop itself counts too.
      const failure = raced ?? aggregator.failure;
      // Only losing the cursor is routine; anything else is a bug, for a restart to clear.
      if (failure !== null && failure.code !== 'SUPERSEDED') throw failure;
      if (raced === null) return result;
      log.warn({ code: raced.code }, `${raced.message}; standing by`);
      fromSameInstance = false;
    }
    return { committed: true };
  }
}

function aborted(abort: AbortSignal): Promise<null> {
  return new Promise((resolve) => {
    if (abort.aborted) resolve(null);
    else abort.addEventListener('abort', () => resolve(null), { once: true });
  });
}
