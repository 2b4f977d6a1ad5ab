/**
 * The read side of the trail: the queries behind `edges`, `allowlist` and `policy`. Every query
 * runs inside one READ ONLY, REPEATABLE READ transaction (withReadOnlySnapshot), so a command sees
 * one consistent snapshot, works with a role that has SELECT only, and cannot write even by mistake.
 *
 * Filters arrive already validated (namespaces as Kubernetes names, actions from EDGE_ACTIONS,
 * sort keys from EDGE_SORTS), and still travel only as parameters: no value is ever spliced into
 * SQL text. ORDER BY clauses come from fixed strings chosen by key.
 *
 * bigint (int8) comes back from the driver as a string; it is converted with BigInt() here, and
 * every ordering by flow_count happens in SQL (field case F10).
 */
import type { EdgeAction } from '../edges/flow-to-edge.js';
import { AppError } from '../errors.js';
import type { ObservationFacts, ObservationGap } from '../policy/readiness.js';
import { sqlState, type Pool, type PoolClient } from './pool.js';

/** A statement that runs longer than this is cancelled: a CLI run must end, not hang a CronJob. */
const STATEMENT_TIMEOUT_MS = 60_000;

/** One row of the edge table, as read. Timestamps may be NULL in a database of the original service. */
export interface TrailEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  readonly firstSeen: Date | null;
  readonly lastSeen: Date | null;
  /** Exact. A NULL flow_count (never written by the aggregator) reads as 0. */
  readonly flowCount: bigint;
}

/** A lower bound on a timestamp column: a duration before the database's now(), or a fixed instant. */
export type TimeBound = { readonly agoMs: number } | { readonly at: Date };

export interface EdgeFilter {
  /** Either side is this namespace. */
  readonly ns?: string;
  readonly src?: string;
  readonly dst?: string;
  readonly action?: EdgeAction;
  /** first_seen after this (the runbook's "new edges" recipe). */
  readonly newSince?: TimeBound;
  /** last_seen after this. */
  readonly seenSince?: TimeBound;
}

export const EDGE_SORTS = ['src', 'dst', 'flow-count', 'first-seen', 'last-seen'] as const;
export type EdgeSort = (typeof EDGE_SORTS)[number];

// Every order ends with the primary key so that output is deterministic (ties in the runbook's
// ORDER BY flow_count DESC come back in arbitrary order). NULLS LAST keeps rows a writer left
// incomplete from crowding the top of a "most active first" listing.
const EDGE_ORDER: Record<EdgeSort, string> = {
  src: 'src_ns, dst_ns, action',
  dst: 'dst_ns, src_ns, action',
  'flow-count': 'flow_count DESC NULLS LAST, src_ns, dst_ns, action',
  'first-seen': 'first_seen DESC NULLS LAST, src_ns, dst_ns, action',
  'last-seen': 'last_seen DESC NULLS LAST, src_ns, dst_ns, action',
};

// The peers query's flow_count column is text (exact), so the count is ordered by its numeric
// expression, never by that column: '9' > '10' as text (field case F10).
const PEER_ORDER: Record<EdgeSort, string> = {
  src: 'peer',
  dst: 'peer',
  'flow-count': 'sum(COALESCE(flow_count, 0)) DESC, peer',
  'first-seen': 'first_seen DESC NULLS LAST, peer',
  'last-seen': 'last_seen DESC NULLS LAST, peer',
};

export interface Page<T> {
  readonly rows: readonly T[];
  /** How many rows match without the limit. */
  readonly total: number;
  readonly truncated: boolean;
}

/**
 * A timestamp as milliseconds since the epoch (float8): the driver's text-timestamp parser was
 * most of the time `edges --limit 0` and `allowlist --all` spent on 100,000 edges. Same value as
 * the driver's Date (both keep whole milliseconds), NULL stays NULL, and the order is the same.
 */
function epochMs(column: string): string {
  return `(extract(epoch FROM ${column}) * 1000)::float8`;
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

interface EdgeRowText {
  src_ns: string;
  dst_ns: string;
  action: string;
  first_seen: number | null;
  last_seen: number | null;
  flow_count: string;
}

const EDGE_COLUMNS = `src_ns, dst_ns, action, ${epochMs('first_seen')} AS first_seen, ${epochMs('last_seen')} AS last_seen,
  COALESCE(flow_count, 0) AS flow_count`;

function toTrailEdge(row: EdgeRowText): TrailEdge {
  return {
    src: row.src_ns,
    dst: row.dst_ns,
    action: row.action,
    firstSeen: toDate(row.first_seen),
    lastSeen: toDate(row.last_seen),
    flowCount: BigInt(row.flow_count),
  };
}

type Queryable = Pick<PoolClient, 'query'>;

/** Builds a WHERE clause whose values are all parameters ($1, $2, ...). */
class Conditions {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];

  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(sql: string): void {
    this.parts.push(sql);
  }

  time(column: string, bound: TimeBound): void {
    // A duration counts back from the database's clock, as the runbook's `now() - interval` does,
    // so that the client's clock never matters. A fixed instant is inclusive.
    if ('agoMs' in bound) {
      this.add(`${column} > now() - ${this.param(bound.agoMs)}::float8 * interval '1 millisecond'`);
    } else {
      this.add(`${column} >= ${this.param(bound.at)}`);
    }
  }

  get where(): string {
    return this.parts.length === 0 ? '' : `WHERE ${this.parts.join(' AND ')}`;
  }
}

function edgeConditions(filter: EdgeFilter): Conditions {
  const c = new Conditions();
  if (filter.ns !== undefined) {
    const p = c.param(filter.ns);
    c.add(`(src_ns = ${p} OR dst_ns = ${p})`);
  }
  if (filter.src !== undefined) c.add(`src_ns = ${c.param(filter.src)}`);
  if (filter.dst !== undefined) c.add(`dst_ns = ${c.param(filter.dst)}`);
  if (filter.action !== undefined) c.add(`action = ${c.param(filter.action)}`);
  if (filter.newSince !== undefined) c.time('first_seen', filter.newSince);
  if (filter.seenSince !== undefined) c.time('last_seen', filter.seenSince);
  return c;
}

/** null limit = every row. */
function limitClause(c: Conditions, limit: number | null): string {
  // One row more than asked tells us whether the listing was cut, without counting every match.
  return limit === null ? '' : `LIMIT ${c.param(limit + 1)}`;
}

export async function queryEdges(
  db: Queryable,
  filter: EdgeFilter,
  sort: EdgeSort,
  limit: number | null,
): Promise<Page<TrailEdge>> {
  const c = edgeConditions(filter);
  const { rows } = await db.query<EdgeRowText>(
    `SELECT ${EDGE_COLUMNS} FROM edge ${c.where} ORDER BY ${EDGE_ORDER[sort]} ${limitClause(c, limit)}`,
    c.params,
  );
  if (limit === null || rows.length <= limit) {
    return { rows: rows.map(toTrailEdge), total: rows.length, truncated: false };
  }
  const counted = edgeConditions(filter);
  const { rows: count } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM edge ${counted.where}`,
    counted.params,
  );
  return { rows: rows.slice(0, limit).map(toTrailEdge), total: Number(count[0]!.n), truncated: true };
}

export type PeerDirection = 'out' | 'in' | 'both';

/** A namespace that `of` talks to, or that talks to `of`, summed over the matching edges. */
export interface Peer {
  readonly peer: string;
  readonly direction: PeerDirection;
  readonly actions: readonly string[];
  readonly flowCount: bigint;
  readonly firstSeen: Date | null;
  readonly lastSeen: Date | null;
}

interface PeerRowText {
  peer: string;
  direction: PeerDirection;
  actions: string[];
  flow_count: string;
  first_seen: number | null;
  last_seen: number | null;
}

/** The grouped peers query; the other filters apply to the edges before grouping. */
function peersSql(of: string, filter: EdgeFilter): { c: Conditions; sql: string } {
  const c = edgeConditions(filter);
  const p = c.param(of);
  c.add(`(src_ns = ${p} OR dst_ns = ${p})`);
  // sum() of bigint is numeric; ::text keeps it exact on the way out.
  const sql = `SELECT CASE WHEN src_ns = ${p} THEN dst_ns ELSE src_ns END AS peer,
         CASE WHEN bool_or(src_ns = ${p}) AND bool_or(dst_ns = ${p}) THEN 'both'
              WHEN bool_or(src_ns = ${p}) THEN 'out' ELSE 'in' END AS direction,
         array_agg(DISTINCT action ORDER BY action) AS actions,
         sum(COALESCE(flow_count, 0))::text AS flow_count,
         ${epochMs('min(first_seen)')} AS first_seen, ${epochMs('max(last_seen)')} AS last_seen
    FROM edge ${c.where}
   GROUP BY 1`;
  return { c, sql };
}

export async function queryPeers(
  db: Queryable,
  of: string,
  filter: EdgeFilter,
  sort: EdgeSort,
  limit: number | null,
): Promise<Page<Peer>> {
  const { c, sql } = peersSql(of, filter);
  const { rows } = await db.query<PeerRowText>(
    `${sql} ORDER BY ${PEER_ORDER[sort]} ${limitClause(c, limit)}`,
    c.params,
  );
  const peers = rows.map((row): Peer => ({
    peer: row.peer,
    direction: row.direction,
    actions: row.actions,
    flowCount: BigInt(row.flow_count),
    firstSeen: toDate(row.first_seen),
    lastSeen: toDate(row.last_seen),
  }));
  if (limit === null || peers.length <= limit) return { rows: peers, total: peers.length, truncated: false };
  const counted = peersSql(of, filter);
  const { rows: count } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (${counted.sql}) AS peers`,
    counted.c.params,
  );
  return { rows: peers.slice(0, limit), total: Number(count[0]!.n), truncated: true };
}

/** Which of the aggregator's own tables (migrations/0002) this role can read. */
export interface TrailTables {
  readonly ingestCursor: boolean;
  readonly observationGap: boolean;
  readonly edgeRecorded: boolean;
}

export async function readableTrailTables(db: Queryable): Promise<TrailTables> {
  // A database of the original service has only `edge`; a read-only role may lack SELECT on the
  // rest. Either way the commands still answer from `edge` and say what they could not see.
  const readable = (table: string): string =>
    `COALESCE(has_table_privilege(to_regclass('${table}'), 'SELECT'), false)`;
  const { rows } = await db.query<{ cursor: boolean; gap: boolean; recorded: boolean }>(
    `SELECT ${readable('ingest_cursor')} AS cursor, ${readable('observation_gap')} AS gap,
            ${readable('edge_recorded')} AS recorded`,
  );
  const row = rows[0]!;
  return { ingestCursor: row.cursor, observationGap: row.gap, edgeRecorded: row.recorded };
}

/** What the trail knows about its own observation, for readiness verdicts (see ObservationFacts). */
export interface TrailObservationFacts extends ObservationFacts {
  readonly tables: TrailTables;
}

export async function readObservationFacts(db: Queryable): Promise<TrailObservationFacts> {
  const tables = await readableTrailTables(db);
  const { rows: span } = await db.query<{ now: Date; first_seen: Date | null; last_seen: Date | null }>(
    'SELECT now() AS now, min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM edge',
  );
  let cursor: TrailObservationFacts['cursor'] = null;
  if (tables.ingestCursor) {
    const { rows } = await db.query<{ observing_since: Date | null; observed_until: Date | null }>(
      'SELECT observing_since, observed_until FROM ingest_cursor WHERE id = 1',
    );
    const row = rows[0];
    if (row !== undefined)
      cursor = { observingSince: row.observing_since, observedUntil: row.observed_until };
  }
  let gaps: ObservationGap[] | null = null;
  if (tables.observationGap) {
    const { rows } = await db.query<{ gap_from: Date; gap_to: Date; reason: string }>(
      'SELECT gap_from, gap_to, reason FROM observation_gap ORDER BY gap_from',
    );
    gaps = rows.map((row) => ({ from: row.gap_from, to: row.gap_to, reason: row.reason }));
  }
  const first = span[0]!;
  return {
    now: first.now,
    cursor,
    edgeSpan: { firstSeen: first.first_seen, lastSeen: first.last_seen },
    gaps,
    tables,
  };
}

/** An edge out of a namespace, with when it entered the table (for "days since the last new edge"). */
export interface EgressEdge extends TrailEdge {
  /** edge_recorded.recorded_at; first_seen when there is no record (or the table cannot be read). */
  readonly enteredAt: Date | null;
}

/**
 * Every edge out of the given source namespaces (null: out of every namespace), all actions,
 * ordered by source, destination, action.
 */
export async function readEgressEdges(
  db: Queryable,
  sources: readonly string[] | null,
  tables: TrailTables,
): Promise<EgressEdge[]> {
  const c = new Conditions();
  if (sources !== null) c.add(`e.src_ns = ANY(${c.param(sources)}::text[])`);
  const entered = tables.edgeRecorded ? 'COALESCE(r.recorded_at, e.first_seen)' : 'e.first_seen';
  const join = tables.edgeRecorded ? 'LEFT JOIN edge_recorded r USING (src_ns, dst_ns, action)' : '';
  const { rows } = await db.query<EdgeRowText & { entered_at: number | null }>(
    `SELECT e.src_ns, e.dst_ns, e.action, ${epochMs('e.first_seen')} AS first_seen,
            ${epochMs('e.last_seen')} AS last_seen, COALESCE(e.flow_count, 0) AS flow_count,
            ${epochMs(entered)} AS entered_at
       FROM edge e ${join} ${c.where}
      ORDER BY e.src_ns, e.dst_ns, e.action`,
    c.params,
  );
  return rows.map((row) => ({ ...toTrailEdge(row), enteredAt: toDate(row.entered_at) }));
}

/**
 * Runs `work` in one read-only, repeatable-read transaction on one connection: every query sees
 * the same snapshot, and the database refuses any write. Database failures become
 * DATABASE_UNAVAILABLE with a message that says what to check (never the connection URL).
 */
export async function withReadOnlySnapshot<T>(pool: Pool, work: (db: Queryable) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw databaseError(error);
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error instanceof AppError ? error : databaseError(error);
  } finally {
    client.release(broken);
  }
}

function databaseError(error: unknown): AppError {
  const message = error instanceof Error ? error.message : String(error);
  switch (sqlState(error)) {
    case '42P01':
      return new AppError(
        'DATABASE_UNAVAILABLE',
        `${message}: is DATABASE_URL the trail's database (goldmane_edges)? The edge table is created by \`migrate\` or by the aggregator at startup`,
        { cause: error },
      );
    case '42501':
      return new AppError(
        'DATABASE_UNAVAILABLE',
        `${message}: the role needs SELECT on edge (and, for readiness, on ingest_cursor, observation_gap and edge_recorded)`,
        { cause: error },
      );
    case '57014':
      return new AppError(
        'DATABASE_UNAVAILABLE',
        `a query ran longer than ${STATEMENT_TIMEOUT_MS / 1000}s and was cancelled: ${message}`,
        { cause: error },
      );
    default:
      return new AppError('DATABASE_UNAVAILABLE', `cannot read the trail: ${message}`, { cause: error });
  }
}
