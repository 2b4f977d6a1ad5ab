/**
 * The aggregator's writes: taking over the ingest cursor, and writing one batch of edges together
 * with the cursor in a single statement.
 *
 * One statement per flush, whatever its size: rows travel as column arrays through unnest(), so
 * there is no 65,535-parameter limit and no statement per flow. Data-modifying CTEs make the edge
 * upsert, the cursor update and the gap records one atomic unit without a round trip for
 * BEGIN/COMMIT. Every part is guarded by the cursor claim (writer id and batch sequence), so:
 *  - a batch retried after its commit answer was lost is recognised and not applied twice;
 *  - an aggregator whose cursor was taken over (it stalled past the takeover time, or another
 *    process of its instance started) cannot write at all.
 */
import { AppError } from '../errors.js';
import type { BucketSpan, LedgerState, PendingBatch } from '../aggregate/bucket-ledger.js';
import type { EdgeRow } from '../edges/edge-batch.js';
import { isRowError, type Pool, type PoolClient } from './pool.js';

export interface ClaimedCursor extends LedgerState {
  readonly observingSince: number | null;
}

export interface WriteContext {
  readonly writerId: string;
  /** 1 + the sequence number of this writer's last committed batch. */
  readonly seq: number;
  /** Now, if the stream is connected; null leaves the stored value. */
  readonly observedUntil: number | null;
}

export type WriteOutcome =
  | {
      readonly status: 'committed';
      readonly edgesWritten: number;
      readonly newEdges: number;
      readonly rejected: readonly EdgeRow[];
    }
  /** The same batch committed on an earlier attempt whose answer was lost. */
  | { readonly status: 'already-committed' };

interface CursorRow {
  resume_from: number | null;
  completed_above: [number, number][];
  observed_until: number | null;
  observing_since: number | null;
}

const CURSOR_COLUMNS = `extract(epoch FROM resume_from)::float8 AS resume_from, completed_above,
  extract(epoch FROM observed_until)::float8 AS observed_until,
  extract(epoch FROM observing_since)::float8 AS observing_since`;

export interface ClaimOptions {
  /** A cursor whose owner has not written for this long is abandoned and may be taken over. */
  readonly takeoverAfterSeconds: number;
  /**
   * Take the cursor from a writer of the same instance (the part of the writer id before "/"):
   * that is this pod's previous container, which crashed. Off after being superseded, so that two
   * processes of one instance cannot take the cursor from each other in turn.
   */
  readonly fromSameInstance: boolean;
}

export type ClaimResult =
  | { readonly claimed: true; readonly cursor: ClaimedCursor }
  | { readonly claimed: false; readonly heldBy: string; readonly idleSeconds: number };

/**
 * Makes this process the cursor's owner, if the cursor is free, abandoned, or held by this
 * instance's previous incarnation. Concurrent claims serialize on the row: exactly one wins.
 */
export async function claimCursor(pool: Pool, writerId: string, options: ClaimOptions): Promise<ClaimResult> {
  const { rows } = await pool.query<CursorRow>(
    `INSERT INTO ingest_cursor AS c (id, writer_id, batch_seq) VALUES (1, $1, 0)
     ON CONFLICT (id) DO UPDATE SET writer_id = EXCLUDED.writer_id, batch_seq = 0, updated_at = now()
      WHERE c.writer_id IS NULL
         OR c.updated_at < now() - make_interval(secs => $2)
         OR ($3 AND split_part(c.writer_id, '/', 1) = split_part(EXCLUDED.writer_id, '/', 1))
     RETURNING ${CURSOR_COLUMNS}`,
    [writerId, options.takeoverAfterSeconds, options.fromSameInstance],
  );
  const row = rows[0];
  if (row === undefined) {
    const holder = await pool.query<{ writer_id: string; idle: number }>(
      `SELECT writer_id, extract(epoch FROM now() - updated_at)::float8 AS idle FROM ingest_cursor WHERE id = 1`,
    );
    return {
      claimed: false,
      heldBy: holder.rows[0]?.writer_id ?? 'unknown',
      idleSeconds: holder.rows[0]?.idle ?? 0,
    };
  }
  return {
    claimed: true,
    cursor: {
      resumeFrom: row.resume_from,
      completedAbove: row.completed_above.map(([start, end]) => ({ start, end })),
      observedUntil: row.observed_until,
      observingSince: row.observing_since,
    },
  };
}

/** Gives the cursor up on a clean shutdown, so that a standby takes over at once. */
export async function releaseCursor(pool: Pool, writerId: string): Promise<void> {
  await pool.query(
    `UPDATE ingest_cursor SET writer_id = NULL, updated_at = now() WHERE id = 1 AND writer_id = $1`,
    [writerId],
  );
}

// $1 seq, $2 writer id, $3 resume_from, $4 completed_above, $5 observed_until, $6 observing_since.
const CLAIM_SQL = `UPDATE ingest_cursor
     SET batch_seq = $1,
         resume_from = to_timestamp($3::float8),
         completed_above = $4::jsonb,
         observed_until = GREATEST(observed_until, to_timestamp($5::float8)),
         observing_since = LEAST(observing_since, to_timestamp($6::float8)),
         updated_at = now()
   WHERE id = 1 AND writer_id = $2 AND batch_seq = $1 - 1
  RETURNING 1`;
const CLAIM_PARAMS = 6;

/** CTEs `batch`, `upserted` (one row per edge written) and `recorded` (one row per new edge). */
function edgeUpsertCtes(firstParam: number, guard: string): string {
  const p = (offset: number): string => `$${firstParam + offset}`;
  return `batch AS (
    SELECT b.src_ns, b.dst_ns, b.action, to_timestamp(b.first_seen) AS first_seen,
           to_timestamp(b.last_seen) AS last_seen, b.flow_count
      FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::float8[], ${p(4)}::float8[], ${p(5)}::int8[])
           AS b(src_ns, dst_ns, action, first_seen, last_seen, flow_count)
     ${guard}
  ),
  upserted AS (
    INSERT INTO edge AS e (src_ns, dst_ns, action, first_seen, last_seen, flow_count)
    SELECT * FROM batch
    ON CONFLICT (src_ns, dst_ns, action) DO UPDATE SET
      -- first_seen never moves later (or the digest would call old edges new); counts add up,
      -- which is exact because each batch holds only records never counted before.
      first_seen = LEAST(e.first_seen, EXCLUDED.first_seen),
      last_seen  = GREATEST(e.last_seen, EXCLUDED.last_seen),
      flow_count = COALESCE(e.flow_count, 0) + EXCLUDED.flow_count
    RETURNING 1
  ),
  recorded AS (
    INSERT INTO edge_recorded (src_ns, dst_ns, action)
    SELECT src_ns, dst_ns, action FROM batch
    ON CONFLICT DO NOTHING
    RETURNING 1
  )`;
}
const EDGE_PARAMS = 6;

function gapInsertCte(firstParam: number, guard: string): string {
  const p = (offset: number): string => `$${firstParam + offset}`;
  return `gaps AS (
    INSERT INTO observation_gap AS g (gap_from, gap_to, reason)
    SELECT to_timestamp(n.gap_from), to_timestamp(n.gap_to), n.reason
      FROM unnest(${p(0)}::float8[], ${p(1)}::float8[], ${p(2)}::text[]) AS n(gap_from, gap_to, reason)
     ${guard}
    -- The same gap is found again if we restart before the batch that recorded it committed.
    ON CONFLICT (gap_from) DO UPDATE SET gap_to = GREATEST(g.gap_to, EXCLUDED.gap_to)
  )`;
}

const WRITE_BATCH_SQL = `WITH claimed AS (${CLAIM_SQL}),
  ${edgeUpsertCtes(CLAIM_PARAMS + 1, 'WHERE EXISTS (SELECT FROM claimed)')},
  ${gapInsertCte(CLAIM_PARAMS + EDGE_PARAMS + 1, 'WHERE EXISTS (SELECT FROM claimed)')}
  SELECT (SELECT count(*) FROM claimed)::int AS claimed,
         (SELECT count(*) FROM upserted)::int AS edges,
         (SELECT count(*) FROM recorded)::int AS new_edges`;

const UPSERT_EDGES_SQL = `WITH ${edgeUpsertCtes(1, '')}
  SELECT (SELECT count(*) FROM upserted)::int AS edges, (SELECT count(*) FROM recorded)::int AS new_edges`;

const INSERT_GAPS_SQL = `WITH ${gapInsertCte(1, '')} SELECT 1`;

function claimParams(batch: PendingBatch, context: WriteContext, rows: readonly EdgeRow[]): unknown[] {
  let observingSince: number | null = null;
  for (const row of rows)
    if (observingSince === null || row.firstSeen < observingSince) observingSince = row.firstSeen;
  const spans = batch.completedAbove.map((span: BucketSpan) => [span.start, span.end]);
  return [
    context.seq,
    context.writerId,
    batch.resumeFrom,
    JSON.stringify(spans),
    context.observedUntil,
    observingSince,
  ];
}

function edgeParams(rows: readonly EdgeRow[]): unknown[] {
  return [
    rows.map((row) => row.src),
    rows.map((row) => row.dst),
    rows.map((row) => row.action),
    rows.map((row) => row.firstSeen),
    rows.map((row) => row.lastSeen),
    rows.map((row) => row.flowCount),
  ];
}

function gapParams(batch: PendingBatch): unknown[] {
  return [
    batch.gaps.map((gap) => gap.from),
    batch.gaps.map((gap) => gap.to),
    batch.gaps.map((gap) => gap.reason),
  ];
}

/**
 * Writes a batch. Throws on database errors other than row errors (the caller retries the same
 * batch, same seq, later). Rows the database rejects (class 22/23) are isolated by splitting the
 * batch inside one transaction; the rest is written, and the rejected rows are returned.
 */
export async function writeBatch(
  pool: Pool,
  batch: PendingBatch,
  context: WriteContext,
): Promise<WriteOutcome> {
  const rows = batch.edges.sortedRows();
  let result;
  try {
    result = await pool.query<{ claimed: number; edges: number; new_edges: number }>(WRITE_BATCH_SQL, [
      ...claimParams(batch, context, rows),
      ...edgeParams(rows),
      ...gapParams(batch),
    ]);
  } catch (error) {
    if (!isRowError(error)) throw error;
    return writeBatchIsolatingRows(pool, batch, context, rows);
  }
  const summary = result.rows[0]!;
  if (summary.claimed === 0) return resolveUnclaimed(pool, context);
  return { status: 'committed', edgesWritten: summary.edges, newEdges: summary.new_edges, rejected: [] };
}

/** The claim matched nothing: either our own earlier attempt committed, or someone took over. */
async function resolveUnclaimed(pool: Pool | PoolClient, context: WriteContext): Promise<WriteOutcome> {
  const { rows } = await pool.query<{ writer_id: string; batch_seq: string }>(
    'SELECT writer_id, batch_seq FROM ingest_cursor WHERE id = 1',
  );
  const cursor = rows[0];
  if (
    cursor !== undefined &&
    cursor.writer_id === context.writerId &&
    Number(cursor.batch_seq) === context.seq
  ) {
    return { status: 'already-committed' };
  }
  throw new AppError(
    'SUPERSEDED',
    `another aggregator (${cursor?.writer_id ?? 'none'}) took over the ingest cursor; this one stops writing so that no flow is counted twice`,
  );
}

async function writeBatchIsolatingRows(
  pool: Pool,
  batch: PendingBatch,
  context: WriteContext,
  rows: readonly EdgeRow[],
): Promise<WriteOutcome> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const claim = await client.query(CLAIM_SQL, claimParams(batch, context, rows));
    if (claim.rowCount === 0) {
      await client.query('ROLLBACK');
      return await resolveUnclaimed(client, context);
    }
    const rejected: EdgeRow[] = [];
    const written = await upsertIsolating(client, rows, rejected);
    await client.query(INSERT_GAPS_SQL, gapParams(batch));
    await client.query('COMMIT');
    return { status: 'committed', edgesWritten: written.edges, newEdges: written.newEdges, rejected };
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Upserts rows under savepoints, halving any part that fails with a row error. */
async function upsertIsolating(
  client: PoolClient,
  rows: readonly EdgeRow[],
  rejected: EdgeRow[],
): Promise<{ edges: number; newEdges: number }> {
  if (rows.length === 0) return { edges: 0, newEdges: 0 };
  await client.query('SAVEPOINT rows');
  try {
    const { rows: summary } = await client.query<{ edges: number; new_edges: number }>(
      UPSERT_EDGES_SQL,
      edgeParams(rows),
    );
    await client.query('RELEASE SAVEPOINT rows');
    return { edges: summary[0]!.edges, newEdges: summary[0]!.new_edges };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT rows');
    await client.query('RELEASE SAVEPOINT rows');
    if (!isRowError(error)) throw error;
    if (rows.length === 1) {
      rejected.push(rows[0]!);
      return { edges: 0, newEdges: 0 };
    }
    const middle = Math.ceil(rows.length / 2);
    const first = await upsertIsolating(client, rows.slice(0, middle), rejected);
    const second = await upsertIsolating(client, rows.slice(middle), rejected);
    return { edges: first.edges + second.edges, newEdges: first.newEdges + second.newEdges };
  }
}
