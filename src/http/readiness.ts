/**
 * What /readyz answers, from the job's state. Pure: the clock and the database ping come in as
 * arguments, so every verdict is a unit test (test/unit/readiness.test.ts).
 */
import type { JobHealth } from '../aggregate/aggregate-job.js';
import { HEARTBEAT_MS } from '../aggregate/aggregator.js';

/**
 * A stream may be down this long and the aggregator still counts as ready: Goldmane drops streams
 * on every restart, and the first reconnect attempts (1 s, 2 s, 4 s, 8 s) fit in it.
 */
export const STREAM_GRACE_MS = 15_000;
/** The owner writes at least every heartbeat; three missed ones and the trail is stale. */
export const COMMIT_FRESHNESS_MS = 3 * HEARTBEAT_MS;

export interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly role: JobHealth['role'];
  readonly checks: Record<string, Check>;
}

/** `databaseError` is null when the database answered a ping, else what went wrong. */
export function readiness(job: JobHealth, databaseError: string | null, nowMs: number): Readiness {
  const database: Check =
    databaseError === null
      ? { ok: true, detail: 'reachable' }
      : { ok: false, detail: `unreachable: ${databaseError}` };
  if (job.role === 'starting') {
    return {
      ready: false,
      role: job.role,
      checks: {
        database,
        job: { ok: false, detail: 'starting: applying migrations and claiming the ingest cursor' },
      },
    };
  }
  if (job.role === 'standby') {
    // A standby is healthy and ready to take over; a rolling update waits for it to be ready.
    const standby: Check = { ok: true, detail: `standing by: ${job.heldBy} owns the ingest cursor` };
    return { ready: database.ok, role: job.role, checks: { database, job: standby } };
  }
  const stream = streamCheck(job, nowMs);
  const commit = commitCheck(job, nowMs);
  return {
    ready: database.ok && stream.ok && commit.ok,
    role: job.role,
    checks: { database, stream, commit },
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function streamCheck(job: Extract<JobHealth, { role: 'active' }>, nowMs: number): Check {
  if (job.stream.connected) return { ok: true, detail: 'connected to Goldmane' };
  const since = job.lastConnectedAt ?? job.activeSince;
  const down = nowMs - since.getTime();
  const last = job.stream.lastEnd;
  const why = last === null ? 'connecting' : `last call ended ${last.codeName}: ${last.details}`;
  const what =
    job.lastConnectedAt === null
      ? `not connected to Goldmane yet (${seconds(down)})`
      : `disconnected from Goldmane for ${seconds(down)}`;
  return { ok: down < STREAM_GRACE_MS, detail: `${what}; ${why}` };
}

function commitCheck(job: Extract<JobHealth, { role: 'active' }>, nowMs: number): Check {
  const since = job.lastCommitAt ?? job.activeSince;
  const age = nowMs - since.getTime();
  if (age < COMMIT_FRESHNESS_MS) {
    return {
      ok: true,
      detail: job.lastCommitAt === null ? 'no commit yet' : `last commit ${seconds(age)} ago`,
    };
  }
  const error = job.lastDatabaseError === null ? '' : `; last error: ${job.lastDatabaseError.message}`;
  return { ok: false, detail: `no commit for ${seconds(age)} (${job.pendingEdges} edges waiting)${error}` };
}
