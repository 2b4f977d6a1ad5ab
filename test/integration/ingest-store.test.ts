import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PendingBatch } from '../../src/aggregate/bucket-ledger.js';
import { EdgeBatch } from '../../src/edges/edge-batch.js';
import type { Edge } from '../../src/edges/flow-to-edge.js';
import { AppError } from '../../src/errors.js';
import { claimCursor, releaseCursor, writeBatch } from '../../src/store/ingest-store.js';
import { migrate } from '../../src/store/migrate.js';
import { createTestDatabase } from '../support/database.js';
import { testLogger } from '../support/logger.js';

const T = 1_735_689_600; // 2025-01-01T00:00:00Z

let pool: pg.Pool;

beforeAll(async () => {
  const { url } = await createTestDatabase('ingest_store');
  pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(pool);
});

afterAll(async () => {
  await pool.end();
});

beforeEach(async () => {
  await pool.query('TRUNCATE edge, edge_recorded, observation_gap, ingest_cursor');
});

function batch(entries: [Edge, number, number, number][], state: Partial<PendingBatch> = {}): PendingBatch {
  const edges = new EdgeBatch();
  for (const [edge, start, end, count] of entries) edges.add(edge, start, end, count);
  return { edges, resumeFrom: T, completedAbove: [], gaps: [], records: edges.flowCount(), ...state };
}

async function edgeRows(): Promise<[string, string, string, string, string, string][]> {
  const { rows } = await pool.query<{
    src_ns: string;
    dst_ns: string;
    action: string;
    first_seen: Date;
    last_seen: Date;
    flow_count: string;
  }>('SELECT * FROM edge ORDER BY src_ns, dst_ns, action');
  return rows.map((r) => [
    r.src_ns,
    r.dst_ns,
    r.action,
    r.first_seen.toISOString(),
    r.last_seen.toISOString(),
    r.flow_count,
  ]);
}

async function claim(writer: string): Promise<void> {
  const result = await claimCursor(pool, writer, { takeoverAfterSeconds: 90, fromSameInstance: true });
  expect(result.claimed).toBe(true);
}

const shopDb: Edge = { src: 'shop', dst: 'db', action: 'allow' };

describe('writeBatch', () => {
  it('F8: one row per edge, counts add up, first_seen never moves later', async () => {
    await claim('a/1');
    // Two flows of one flush that map to the same edge were coalesced by the ledger into count 2.
    await writeBatch(pool, batch([[shopDb, T, T + 15, 2]]), { writerId: 'a/1', seq: 1, observedUntil: null });
    expect(await edgeRows()).toEqual([
      ['shop', 'db', 'allow', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:15.000Z', '2'],
    ]);
    await writeBatch(pool, batch([[shopDb, T + 15, T + 30, 1]]), {
      writerId: 'a/1',
      seq: 2,
      observedUntil: null,
    });
    expect(await edgeRows()).toEqual([
      ['shop', 'db', 'allow', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:30.000Z', '3'],
    ]);
    // A backfilled older flow moves first_seen earlier, and never later.
    await writeBatch(pool, batch([[shopDb, T - 600, T - 585, 1]]), {
      writerId: 'a/1',
      seq: 3,
      observedUntil: null,
    });
    expect(await edgeRows()).toEqual([
      ['shop', 'db', 'allow', '2024-12-31T23:50:00.000Z', '2025-01-01T00:00:30.000Z', '4'],
    ]);
  });

  it('F9: 13,108 distinct edges in one flush are all stored (no bind-parameter limit)', async () => {
    await claim('a/1');
    const entries: [Edge, number, number, number][] = [];
    for (let i = 0; i < 13_108; i++)
      entries.push([{ src: `ns-${i}`, dst: 'db', action: 'allow' }, T, T + 15, 1]);
    const outcome = await writeBatch(pool, batch(entries), { writerId: 'a/1', seq: 1, observedUntil: null });
    expect(outcome).toEqual({ status: 'committed', edgesWritten: 13_108, newEdges: 13_108, rejected: [] });
    const { rows } = await pool.query<{ edges: string; flows: string }>(
      'SELECT count(*) AS edges, sum(flow_count) AS flows FROM edge',
    );
    expect(rows[0]).toEqual({ edges: '13108', flows: '13108' });
  });

  it('records when each edge first entered the table, in the same statement', async () => {
    await claim('a/1');
    await writeBatch(pool, batch([[shopDb, T, T + 15, 1]]), { writerId: 'a/1', seq: 1, observedUntil: null });
    const first = await pool.query<{ recorded_at: Date }>('SELECT recorded_at FROM edge_recorded');
    const again = await writeBatch(
      pool,
      batch([
        [shopDb, T + 15, T + 30, 1],
        [{ src: 'web', dst: 'db', action: 'deny' }, T, T + 15, 1],
      ]),
      {
        writerId: 'a/1',
        seq: 2,
        observedUntil: null,
      },
    );
    expect(again).toEqual({ status: 'committed', edgesWritten: 2, newEdges: 1, rejected: [] });
    const { rows } = await pool.query<{ src_ns: string; recorded_at: Date }>(
      'SELECT src_ns, recorded_at FROM edge_recorded ORDER BY src_ns',
    );
    expect(rows.map((r) => r.src_ns)).toEqual(['shop', 'web']);
    expect(rows[0]!.recorded_at).toEqual(first.rows[0]!.recorded_at);
  });

  it('writes the resume cursor with the edges: frontier, completed buckets, observation, gaps', async () => {
    await claim('a/1');
    await writeBatch(
      pool,
      batch([[shopDb, T, T + 15, 1]], {
        resumeFrom: T + 15,
        completedAbove: [{ start: T + 45, end: T + 60 }],
        gaps: [{ from: T - 9000, to: T - 3540, reason: 'test gap' }],
      }),
      { writerId: 'a/1', seq: 1, observedUntil: T + 100 },
    );
    const cursor = await pool.query(
      'SELECT resume_from, completed_above, observed_until, observing_since, batch_seq FROM ingest_cursor',
    );
    expect(cursor.rows[0]).toEqual({
      resume_from: new Date((T + 15) * 1000),
      completed_above: [[T + 45, T + 60]],
      observed_until: new Date((T + 100) * 1000),
      observing_since: new Date(T * 1000),
      batch_seq: '1',
    });
    const gaps = await pool.query('SELECT gap_from, gap_to, reason FROM observation_gap');
    expect(gaps.rows).toEqual([
      { gap_from: new Date((T - 9000) * 1000), gap_to: new Date((T - 3540) * 1000), reason: 'test gap' },
    ]);
    // observed_until only moves forward; null leaves it.
    await writeBatch(pool, batch([], { resumeFrom: T + 15 }), {
      writerId: 'a/1',
      seq: 2,
      observedUntil: null,
    });
    const after = await pool.query('SELECT observed_until FROM ingest_cursor');
    expect(after.rows[0]).toEqual({ observed_until: new Date((T + 100) * 1000) });
  });

  it('F13: a batch retried after its commit answer was lost is not applied twice', async () => {
    await claim('a/1');
    const first = batch([[shopDb, T, T + 15, 5]]);
    expect((await writeBatch(pool, first, { writerId: 'a/1', seq: 1, observedUntil: null })).status).toBe(
      'committed',
    );
    // The connection died after COMMIT was sent; the aggregator retries the very same batch.
    expect(await writeBatch(pool, first, { writerId: 'a/1', seq: 1, observedUntil: null })).toEqual({
      status: 'already-committed',
    });
    expect((await edgeRows())[0]?.[5]).toBe('5');
  });

  it('refuses every write from a writer whose cursor was taken over', async () => {
    await claim('a/1');
    const taken = await claimCursor(pool, 'a/2', { takeoverAfterSeconds: 90, fromSameInstance: true });
    expect(taken.claimed).toBe(true);
    const error = await writeBatch(pool, batch([[shopDb, T, T + 15, 1]]), {
      writerId: 'a/1',
      seq: 1,
      observedUntil: null,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('SUPERSEDED');
    expect(await edgeRows()).toEqual([]);
  });

  it('F11: rows the database refuses are isolated; the rest of the batch and the cursor are written', async () => {
    await claim('a/1');
    await pool.query(`ALTER TABLE edge ADD CONSTRAINT no_poison CHECK (src_ns <> 'poison')`);
    try {
      const entries: [Edge, number, number, number][] = [];
      for (let i = 0; i < 99; i++)
        entries.push([
          { src: `good-${String(i).padStart(2, '0')}`, dst: 'db', action: 'allow' },
          T,
          T + 15,
          1,
        ]);
      entries.push([{ src: 'poison', dst: 'db', action: 'allow' }, T, T + 15, 1]);
      const outcome = await writeBatch(pool, batch(entries, { resumeFrom: T + 15 }), {
        writerId: 'a/1',
        seq: 1,
        observedUntil: null,
      });
      expect(outcome).toMatchObject({ status: 'committed', edgesWritten: 99, newEdges: 99 });
      expect(outcome.status === 'committed' && outcome.rejected.map((row) => row.src)).toEqual(['poison']);
      const counts = await pool.query<{ edges: string; recorded: string }>(
        'SELECT (SELECT count(*) FROM edge) AS edges, (SELECT count(*) FROM edge_recorded) AS recorded',
      );
      expect(counts.rows[0]).toEqual({ edges: '99', recorded: '99' });
      const cursor = await pool.query('SELECT resume_from, batch_seq FROM ingest_cursor');
      expect(cursor.rows[0]).toEqual({ resume_from: new Date((T + 15) * 1000), batch_seq: '1' });
    } finally {
      await pool.query('ALTER TABLE edge DROP CONSTRAINT no_poison');
    }
  });
});

describe('claimCursor', () => {
  it('lets exactly one of several simultaneous claims win', async () => {
    const results = await Promise.all(
      ['x/1', 'y/1', 'z/1'].map((writer) =>
        claimCursor(pool, writer, { takeoverAfterSeconds: 90, fromSameInstance: true }),
      ),
    );
    expect(results.filter((result) => result.claimed)).toHaveLength(1);
  });

  it('stands by while the owner heartbeats, takes over a released or abandoned cursor', async () => {
    await claim('pod-a/1');
    const standby = await claimCursor(pool, 'pod-b/1', { takeoverAfterSeconds: 90, fromSameInstance: true });
    expect(standby).toMatchObject({ claimed: false, heldBy: 'pod-a/1' });
    await pool.query(`UPDATE ingest_cursor SET updated_at = now() - interval '91 seconds'`);
    expect(
      (await claimCursor(pool, 'pod-b/2', { takeoverAfterSeconds: 90, fromSameInstance: true })).claimed,
    ).toBe(true);
    await releaseCursor(pool, 'pod-b/2');
    expect(
      (await claimCursor(pool, 'pod-c/1', { takeoverAfterSeconds: 90, fromSameInstance: true })).claimed,
    ).toBe(true);
  });

  it('gives the cursor to a restarted container of the same instance at once, unless told not to', async () => {
    await claim('pod-a/old');
    expect(
      (await claimCursor(pool, 'pod-a/new', { takeoverAfterSeconds: 90, fromSameInstance: false })).claimed,
    ).toBe(false);
    expect(
      (await claimCursor(pool, 'pod-a/new', { takeoverAfterSeconds: 90, fromSameInstance: true })).claimed,
    ).toBe(true);
  });

  it('returns the stored resume state to the new owner', async () => {
    await claim('a/1');
    await writeBatch(
      pool,
      batch([[shopDb, T, T + 15, 1]], {
        resumeFrom: T + 15,
        completedAbove: [{ start: T + 30, end: T + 45 }],
      }),
      {
        writerId: 'a/1',
        seq: 1,
        observedUntil: T + 20,
      },
    );
    const result = await claimCursor(pool, 'a/2', { takeoverAfterSeconds: 90, fromSameInstance: true });
    expect(result).toEqual({
      claimed: true,
      cursor: {
        resumeFrom: T + 15,
        completedAbove: [{ start: T + 30, end: T + 45 }],
        observedUntil: T + 20,
        observingSince: T,
      },
    });
  });
});

describe('the pool survives the database dropping its connections (F13)', () => {
  it('logs an idle connection killed by pg_terminate_backend and keeps working', async () => {
    const { createPool } = await import('../../src/store/pool.js');
    const { log, lines } = testLogger();
    const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
    const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    url.pathname = `/${rows[0]!.db}`;
    const victim = createPool(url.toString(), log, { max: 1, applicationName: 'f13-victim' });
    try {
      await victim.query('SELECT 1'); // leaves one idle pooled connection
      await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'f13-victim'`,
      );
      await expect
        .poll(() =>
          lines().some((line) => line.msg === 'an idle database connection was closed; it will be replaced'),
        )
        .toBe(true);
      expect(lines().find((line) => line.level === 'warn')?.err).toMatchObject({ code: '57P01' });
      expect((await victim.query<{ ok: number }>('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await victim.end();
    }
  });
});
