import { describe, expect, it } from 'vitest';
import type { JobHealth } from '../../src/aggregate/aggregate-job.js';
import { readiness } from '../../src/http/readiness.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const ago = (seconds: number): Date => new Date(NOW - seconds * 1000);

function active(
  overrides: Partial<Extract<JobHealth, { role: 'active' }>> = {},
  connected = true,
): JobHealth {
  return {
    role: 'active',
    stream: {
      phase: 'calling',
      connected,
      callsStarted: 1,
      lastEnd: null,
      everReceived: true,
      nextAttemptAt: null,
    },
    activeSince: ago(600),
    lastConnectedAt: connected ? ago(0) : ago(60),
    lastCommitAt: ago(5),
    lastDatabaseError: null,
    pendingEdges: 0,
    frontier: NOW / 1000 - 45,
    ...overrides,
  };
}

describe('readiness', () => {
  it('is ready when connected, the database answers and commits are fresh', () => {
    expect(readiness(active(), null, NOW)).toEqual({
      ready: true,
      role: 'active',
      checks: {
        database: { ok: true, detail: 'reachable' },
        stream: { ok: true, detail: 'connected to Goldmane' },
        commit: { ok: true, detail: 'last commit 5s ago' },
      },
    });
  });

  it('tolerates a short disconnection (Goldmane restarting) but not a long one, and says why', () => {
    const lastEnd = { code: 14, codeName: 'UNAVAILABLE', details: 'Connection dropped', at: ago(10) };
    const brief = active(
      {
        lastConnectedAt: ago(10),
        stream: {
          phase: 'backoff',
          connected: false,
          callsStarted: 2,
          lastEnd,
          everReceived: true,
          nextAttemptAt: null,
        },
      },
      false,
    );
    expect(readiness(brief, null, NOW).checks.stream).toEqual({
      ok: true,
      detail: 'disconnected from Goldmane for 10s; last call ended UNAVAILABLE: Connection dropped',
    });
    const long = active(
      {
        lastConnectedAt: ago(16),
        stream: {
          phase: 'backoff',
          connected: false,
          callsStarted: 5,
          lastEnd,
          everReceived: true,
          nextAttemptAt: null,
        },
      },
      false,
    );
    expect(readiness(long, null, NOW)).toMatchObject({
      ready: false,
      checks: {
        stream: {
          ok: false,
          detail: 'disconnected from Goldmane for 16s; last call ended UNAVAILABLE: Connection dropped',
        },
      },
    });
  });

  it('is not ready when it never connected (a TLS failure, say) past the grace period', () => {
    const lastEnd = {
      code: 14,
      codeName: 'UNAVAILABLE',
      details: 'No connection established. Last error: Failed to connect',
      at: ago(1),
    };
    const never = active(
      {
        activeSince: ago(20),
        lastConnectedAt: null,
        stream: {
          phase: 'backoff',
          connected: false,
          callsStarted: 4,
          lastEnd,
          everReceived: false,
          nextAttemptAt: null,
        },
      },
      false,
    );
    expect(readiness(never, null, NOW).checks.stream).toEqual({
      ok: false,
      detail:
        'not connected to Goldmane yet (20s); last call ended UNAVAILABLE: No connection established. Last error: Failed to connect',
    });
  });

  it('is not ready when the database does not answer or commits went stale', () => {
    expect(readiness(active(), 'connect ECONNREFUSED 10.0.0.5:5432', NOW)).toMatchObject({
      ready: false,
      checks: { database: { ok: false, detail: 'unreachable: connect ECONNREFUSED 10.0.0.5:5432' } },
    });
    const stale = active({
      lastCommitAt: ago(95),
      pendingEdges: 12,
      lastDatabaseError: { message: 'password authentication failed for user "goldmane_edges"', at: ago(2) },
    });
    expect(readiness(stale, null, NOW).checks.commit).toEqual({
      ok: false,
      detail:
        'no commit for 95s (12 edges waiting); last error: password authentication failed for user "goldmane_edges"',
    });
  });

  it('counts a standby as ready (it can take over), and a starting job as not ready', () => {
    expect(readiness({ role: 'standby', heldBy: 'pod-a/1', since: ago(30) }, null, NOW)).toEqual({
      ready: true,
      role: 'standby',
      checks: {
        database: { ok: true, detail: 'reachable' },
        job: { ok: true, detail: 'standing by: pod-a/1 owns the ingest cursor' },
      },
    });
    expect(readiness({ role: 'starting' }, null, NOW)).toMatchObject({ ready: false, role: 'starting' });
  });
});
