/**
 * The read queries against a real PostgreSQL: every filter, sort and limit; peers; bigint
 * exactness (F10); observation facts with and without the aggregator's tables; the read-only
 * snapshot refusing writes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  queryEdges,
  queryPeers,
  readEgressEdges,
  readObservationFacts,
  withReadOnlySnapshot,
  type TrailEdge,
} from '../../src/store/trail-queries.js';
import { createTestDatabase } from '../support/database.js';
import { edge, seedCursor, seedEdges, seedGap, trailDatabase } from '../support/trail-seed.js';

let db: { url: string; pool: pg.Pool };

beforeAll(async () => {
  db = await trailDatabase('trail_queries');
  await seedEdges(db.pool, [
    edge('shop', 'dbaas', 'allow', '9007199254740993', '20 days', '1 hour', '20 days'),
    edge('shop', 'kube-system', 'allow', 10, '20 days', '2 hours'),
    edge('shop', 'payments', 'deny', 9, '3 days', '3 hours'),
    edge('shop', 'redis', 'allow', 5, '15 days', '4 hours'),
    edge('shop', 'redis', 'deny', 2, '15 days', '5 hours', null),
    edge('cart', 'shop', 'allow', 100, '2 hours', '5 minutes'),
    edge('web', 'cart', 'pass', 7, '40 days', '30 days'),
  ]);
  await seedCursor(db.pool, '30 days');
  await seedGap(db.pool, '10 days', '9 days', 'aggregator away');
});

afterAll(async () => {
  await db.pool.end();
});

const keys = (rows: readonly TrailEdge[]): string[] => rows.map((r) => `${r.src}>${r.dst}:${r.action}`);

function read<T>(work: Parameters<typeof withReadOnlySnapshot<T>>[1]): Promise<T> {
  return withReadOnlySnapshot(db.pool, work);
}

describe('queryEdges', () => {
  it('returns every edge by (src, dst, action) without filters', async () => {
    const page = await read((c) => queryEdges(c, {}, 'src', null));
    expect(keys(page.rows)).toEqual([
      'cart>shop:allow',
      'shop>dbaas:allow',
      'shop>kube-system:allow',
      'shop>payments:deny',
      'shop>redis:allow',
      'shop>redis:deny',
      'web>cart:pass',
    ]);
    expect(page).toMatchObject({ total: 7, truncated: false });
  });

  it('keeps a flow count above 2^53 exact and sorts counts as numbers, not text (F10)', async () => {
    const page = await read((c) => queryEdges(c, {}, 'flow-count', null));
    expect(page.rows.map((r) => r.flowCount)).toEqual([9007199254740993n, 100n, 10n, 9n, 7n, 5n, 2n]);
  });

  it('filters by either side, source, destination, action and time, combined with AND', async () => {
    const q = (filter: Parameters<typeof queryEdges>[1]) => read((c) => queryEdges(c, filter, 'src', null));
    expect(keys((await q({ ns: 'cart' })).rows)).toEqual(['cart>shop:allow', 'web>cart:pass']);
    expect(keys((await q({ src: 'shop', action: 'deny' })).rows)).toEqual([
      'shop>payments:deny',
      'shop>redis:deny',
    ]);
    expect(keys((await q({ dst: 'shop' })).rows)).toEqual(['cart>shop:allow']);
    expect(keys((await q({ newSince: { agoMs: 24 * 3_600_000 } })).rows)).toEqual(['cart>shop:allow']);
    expect(keys((await q({ seenSince: { agoMs: 3.5 * 3_600_000 }, ns: 'shop' })).rows)).toEqual([
      'cart>shop:allow',
      'shop>dbaas:allow',
      'shop>kube-system:allow',
      'shop>payments:deny',
    ]);
    expect(keys((await q({ newSince: { at: new Date(Date.now() + 86_400_000) } })).rows)).toEqual([]);
    expect(keys((await q({ ns: 'shop', src: 'cart', dst: 'shop', action: 'allow' })).rows)).toEqual([
      'cart>shop:allow',
    ]);
  });

  it('cuts at the limit and counts what matched', async () => {
    const page = await read((c) => queryEdges(c, { src: 'shop' }, 'last-seen', 2));
    expect(keys(page.rows)).toEqual(['shop>dbaas:allow', 'shop>kube-system:allow']);
    expect(page).toMatchObject({ total: 5, truncated: true });
    const exact = await read((c) => queryEdges(c, { src: 'shop' }, 'last-seen', 5));
    expect(exact).toMatchObject({ total: 5, truncated: false });
  });

  it('treats hostile values as plain values', async () => {
    const page = await read((c) => queryEdges(c, { src: "x' OR '1'='1" }, 'src', null));
    expect(page.rows).toEqual([]);
  });
});

describe('queryPeers', () => {
  it('sums each peer exactly, with direction and actions', async () => {
    const page = await read((c) => queryPeers(c, 'shop', {}, 'flow-count', null));
    expect(page.rows.map((p) => [p.peer, p.direction, p.actions, p.flowCount])).toEqual([
      ['dbaas', 'out', ['allow'], 9007199254740993n],
      ['cart', 'in', ['allow'], 100n],
      ['kube-system', 'out', ['allow'], 10n],
      ['payments', 'out', ['deny'], 9n],
      ['redis', 'out', ['allow', 'deny'], 7n],
    ]);
  });

  it('applies the other filters first, and reports a cut', async () => {
    const denied = await read((c) => queryPeers(c, 'shop', { action: 'deny' }, 'src', null));
    expect(denied.rows.map((p) => p.peer)).toEqual(['payments', 'redis']);
    const cut = await read((c) => queryPeers(c, 'shop', {}, 'src', 2));
    expect(cut.rows.map((p) => p.peer)).toEqual(['cart', 'dbaas']);
    expect(cut).toMatchObject({ total: 5, truncated: true });
  });
});

describe('readObservationFacts and readEgressEdges', () => {
  it('reads the cursor, the gaps and when each edge entered the table', async () => {
    const { facts, edges } = await read(async (c) => {
      const facts = await readObservationFacts(c);
      return { facts, edges: await readEgressEdges(c, ['shop'], facts.tables) };
    });
    expect(facts.tables).toEqual({ ingestCursor: true, observationGap: true, edgeRecorded: true });
    const days = (d: Date | null): number => Math.round((facts.now.getTime() - d!.getTime()) / 86_400_000);
    expect(days(facts.cursor!.observingSince)).toBe(30);
    expect(facts.gaps!.map((g) => [days(g.from), days(g.to), g.reason])).toEqual([
      [10, 9, 'aggregator away'],
    ]);
    expect(days(facts.edgeSpan.firstSeen)).toBe(40);
    expect(edges.map((e) => `${e.dst}:${e.action}:${days(e.enteredAt)}`)).toEqual([
      'dbaas:allow:20',
      'kube-system:allow:20',
      'payments:deny:3',
      'redis:allow:15',
      // No edge_recorded row: first_seen stands in.
      'redis:deny:15',
    ]);
  });

  it('reads every source with null', async () => {
    const edges = await read(async (c) => readEgressEdges(c, null, (await readObservationFacts(c)).tables));
    expect(new Set(edges.map((e) => e.src))).toEqual(new Set(['cart', 'shop', 'web']));
  });
});

describe('a database of the original service (edge table only)', () => {
  it('reports the missing tables and still answers from edge', async () => {
    const { url } = await createTestDatabase('trail_queries_original');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await pool.query(
        'CREATE TABLE edge(src_ns text, dst_ns text, action text, first_seen timestamptz, last_seen timestamptz, flow_count bigint, PRIMARY KEY (src_ns, dst_ns, action))',
      );
      await pool.query(
        "INSERT INTO edge VALUES ('a', 'b', 'allow', now() - interval '9 days', now(), 3), ('a', 'c', 'allow', NULL, NULL, NULL)",
      );
      const { facts, edges } = await withReadOnlySnapshot(pool, async (c) => {
        const facts = await readObservationFacts(c);
        return { facts, edges: await readEgressEdges(c, ['a'], facts.tables) };
      });
      expect(facts.tables).toEqual({ ingestCursor: false, observationGap: false, edgeRecorded: false });
      expect(facts.cursor).toBeNull();
      expect(facts.gaps).toBeNull();
      expect(edges.map((e) => [e.dst, e.flowCount, e.firstSeen])).toEqual([
        ['b', 3n, edges[0]!.enteredAt],
        // NULLs a writer left: count 0, no times.
        ['c', 0n, null],
      ]);
    } finally {
      await pool.end();
    }
  });
});

describe('withReadOnlySnapshot', () => {
  it('refuses writes and reports database failures as DATABASE_UNAVAILABLE', async () => {
    const error = await withReadOnlySnapshot(db.pool, (c) =>
      c.query("DELETE FROM edge WHERE src_ns = 'web'"),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('DATABASE_UNAVAILABLE');
    expect((error as AppError).message).toMatch(/read-only transaction/);
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM edge');
    expect(rows[0]!.n).toBe('7');
  });

  it('explains a database without the edge table', async () => {
    const { url } = await createTestDatabase('trail_queries_empty');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const error = (await withReadOnlySnapshot(pool, (c) => queryEdges(c, {}, 'src', 10)).catch(
        (e: unknown) => e,
      )) as AppError;
      expect(error.code).toBe('DATABASE_UNAVAILABLE');
      expect(error.message).toBe(
        'relation "edge" does not exist: is DATABASE_URL the trail\'s database (goldmane_edges)? The edge table is created by `migrate` or by the aggregator at startup',
      );
    } finally {
      await pool.end();
    }
  });
});
