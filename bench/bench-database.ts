/**
 * Scratch databases on the local PostgreSQL (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres), one per measured consumer, dropped afterwards.
 */
import pg from 'pg';

export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'gea_bench_';

export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(label: string): Promise<ScratchDatabase> {
  const name = `${PREFIX}${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropScratchDatabase(database: ScratchDatabase): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`));
}

/**
 * Transactions committed in a database so far, as PostgreSQL's statistics count them. Every
 * statement the aggregator and the naive consumer send runs in a transaction of its own, so the
 * difference of two readings is the number of statements in between, plus any visit of an
 * autovacuum worker to the database (it counts too, and comes at times of its own choosing).
 * Backends publish these counts late (see STATISTICS_DELAY_MS). The admin connection is to
 * another database and never counts here.
 */
export async function committedTransactions(database: ScratchDatabase): Promise<number> {
  return withAdmin(async (client) => {
    // A fresh snapshot: by default a session caches statistics for its transaction.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ xact_commit: string }>(
      'SELECT xact_commit FROM pg_stat_database WHERE datname = $1',
      [database.name],
    );
    return Number(rows[0]?.xact_commit ?? 0);
  });
}

/**
 * PostgreSQL 15 publishes a backend's counts when it goes idle, but at most once a second: a
 * transaction within a second of the last publication is published ten seconds later (or at exit).
 */
export const STATISTICS_DELAY_MS = 11_000;

/**
 * The transaction count once every statement so far has been published: it has stayed the same
 * for `stableMs` (STATISTICS_DELAY_MS while sessions are connected; less once they have exited).
 */
export async function settledTransactions(database: ScratchDatabase, stableMs = 1_500): Promise<number> {
  let value = await committedTransactions(database);
  let stableSince = Date.now();
  const deadline = Date.now() + stableMs + 10_000;
  while (Date.now() - stableSince < stableMs && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = await committedTransactions(database);
    if (next !== value) {
      value = next;
      stableSince = Date.now();
    }
  }
  return value;
}

/**
 * How many times autovacuum has vacuumed or analyzed a table of the database since it was created:
 * each is a transaction that pg_stat_database counts beside the consumers' own. Read at the end
 * (this connection's own query is a transaction there too).
 */
export async function autovacuumRuns(database: ScratchDatabase): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ runs: string }>(
      'SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) AS runs FROM pg_stat_all_tables',
    );
    return Number(rows[0]!.runs);
  } finally {
    await client.end();
  }
}

export interface EdgeRowValues {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly flowCount: number;
}

export async function readEdgeTable(database: ScratchDatabase): Promise<EdgeRowValues[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      src_ns: string;
      dst_ns: string;
      action: string;
      first_seen: number;
      last_seen: number;
      flow_count: string;
    }>(
      `SELECT src_ns, dst_ns, action, extract(epoch FROM first_seen)::float8 AS first_seen,
              extract(epoch FROM last_seen)::float8 AS last_seen, flow_count
         FROM edge ORDER BY src_ns COLLATE "C", dst_ns COLLATE "C", action COLLATE "C"`,
    );
    return rows.map((row) => ({
      src: row.src_ns,
      dst: row.dst_ns,
      action: row.action,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      flowCount: Number(row.flow_count),
    }));
  } finally {
    await client.end();
  }
}

/** Waits until no session is connected to the database (their statistics are then published). */
export async function waitForDisconnect(database: ScratchDatabase, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withAdmin(async (client) => {
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ sessions: number }>(
        'SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE datname = $1',
        [database.name],
      );
      if (rows[0]?.sessions === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}
