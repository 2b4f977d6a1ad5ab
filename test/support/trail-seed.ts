/**
 * Seeds a test database's trail with plain INSERTs: edges (times relative to the database's now()),
 * their edge_recorded rows, the ingest cursor and observation gaps; and 100,000 edges at once for
 * the scale tests.
 */
import pg from 'pg';
import { migrate } from '../../src/store/migrate.js';
import { createTestDatabase } from './database.js';

export interface SeedEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  /** Postgres intervals before now(), e.g. '20 days'. */
  readonly firstSeenAgo: string;
  readonly lastSeenAgo: string;
  /** Text, so that any int8 survives. */
  readonly flows: string;
  /** When it entered the table; defaults to firstSeenAgo. null: no edge_recorded row. */
  readonly recordedAgo?: string | null;
}

export function edge(
  src: string,
  dst: string,
  action: string,
  flows: string | number,
  firstSeenAgo: string,
  lastSeenAgo: string,
  recordedAgo?: string | null,
): SeedEdge {
  return { src, dst, action, flows: String(flows), firstSeenAgo, lastSeenAgo, recordedAgo };
}

/** A migrated database of its own for one test file; returns its URL and an admin pool. */
export async function trailDatabase(label: string): Promise<{ url: string; name: string; pool: pg.Pool }> {
  const { url, name } = await createTestDatabase(label);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await migrate(pool);
  return { url, name, pool };
}

export async function seedEdges(pool: pg.Pool, edges: readonly SeedEdge[]): Promise<void> {
  for (const e of edges) {
    await pool.query(
      `INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count)
       VALUES ($1, $2, $3, now() - $4::interval, now() - $5::interval, $6::int8)`,
      [e.src, e.dst, e.action, e.firstSeenAgo, e.lastSeenAgo, e.flows],
    );
    const recorded = e.recordedAgo === undefined ? e.firstSeenAgo : e.recordedAgo;
    if (recorded !== null) {
      await pool.query(
        `INSERT INTO edge_recorded (src_ns, dst_ns, action, recorded_at) VALUES ($1, $2, $3, now() - $4::interval)`,
        [e.src, e.dst, e.action, recorded],
      );
    }
  }
}

/** The aggregator's cursor row: observing since `sinceAgo`, last connected `untilAgo`. */
export async function seedCursor(pool: pg.Pool, sinceAgo: string, untilAgo = '0 seconds'): Promise<void> {
  await pool.query(
    `INSERT INTO ingest_cursor (id, writer_id, batch_seq, observing_since, observed_until)
     VALUES (1, 'test', 0, now() - $1::interval, now() - $2::interval)`,
    [sinceAgo, untilAgo],
  );
}

export async function seedGap(pool: pg.Pool, fromAgo: string, toAgo: string, reason: string): Promise<void> {
  await pool.query(
    `INSERT INTO observation_gap (gap_from, gap_to, reason) VALUES (now() - $1::interval, now() - $2::interval, $3)`,
    [fromAgo, toAgo, reason],
  );
}

/**
 * `count` edges in one statement: SOURCES source namespaces (ns-0000 ...), each talking to
 * count / SOURCES distinct other namespaces; every 17th edge denied. Times spread over 30 days.
 */
export const SCALE_SOURCES = 1000;

export async function seedScale(pool: pg.Pool, count: number): Promise<void> {
  const perSource = count / SCALE_SOURCES;
  await pool.query(
    `INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count)
     SELECT 'ns-' || lpad((i / $2)::text, 4, '0'),
            'ns-' || lpad(((i / $2 + 1 + i % $2) % $3)::text, 4, '0'),
            CASE WHEN i % 17 = 0 THEN 'deny' ELSE 'allow' END,
            now() - interval '30 days' + (i % 1000) * interval '1 minute',
            now() - (i % 1440) * interval '1 minute',
            (i % 997) + 1
       FROM generate_series(0, $1 - 1) AS i`,
    [count, perSource, SCALE_SOURCES],
  );
  await pool.query(
    `INSERT INTO edge_recorded (src_ns, dst_ns, action, recorded_at) SELECT src_ns, dst_ns, action, first_seen FROM edge`,
  );
  await pool.query('ANALYZE edge');
  await pool.query('ANALYZE edge_recorded');
}
