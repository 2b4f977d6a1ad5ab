/**
 * Read-only queries over the edge table. bigint columns come back from the driver as strings
 * (a JS number cannot hold every int8); they are converted here, explicitly, at the boundary.
 */
import type { EdgeAction } from '../edges/flow-to-edge.js';
import type { Pool } from './pool.js';

export interface StoredEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: EdgeAction;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  /** Exact: int8 as bigint. */
  readonly flowCount: bigint;
}

interface EdgeRowText {
  src_ns: string;
  dst_ns: string;
  action: EdgeAction;
  first_seen: Date;
  last_seen: Date;
  flow_count: string;
}

function toStoredEdge(row: EdgeRowText): StoredEdge {
  return {
    src: row.src_ns,
    dst: row.dst_ns,
    action: row.action,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    flowCount: BigInt(row.flow_count),
  };
}

export interface TrailSummary {
  readonly edges: number;
  readonly flows: bigint;
  readonly denied: number;
  readonly namespaces: number;
}

export async function trailSummary(pool: Pool): Promise<TrailSummary> {
  const { rows } = await pool.query<{
    edges: string;
    flows: string | null;
    denied: string;
    namespaces: string;
  }>(
    `SELECT count(*) AS edges, sum(flow_count) AS flows, count(*) FILTER (WHERE action = 'deny') AS denied,
            (SELECT count(*) FROM (SELECT src_ns FROM edge UNION SELECT dst_ns FROM edge) AS n) AS namespaces
       FROM edge`,
  );
  const row = rows[0]!;
  return {
    edges: Number(row.edges),
    flows: BigInt(row.flows ?? 0),
    denied: Number(row.denied),
    namespaces: Number(row.namespaces),
  };
}

/** Edges that entered the table after `since` (by the database clock), oldest first. */
export async function edgesRecordedSince(pool: Pool, since: Date, limit: number): Promise<StoredEdge[]> {
  const { rows } = await pool.query<EdgeRowText>(
    `SELECT e.src_ns, e.dst_ns, e.action, e.first_seen, e.last_seen, e.flow_count
       FROM edge_recorded r JOIN edge e USING (src_ns, dst_ns, action)
      WHERE r.recorded_at > $1
      ORDER BY r.recorded_at, e.src_ns, e.dst_ns, e.action
      LIMIT $2`,
    [since, limit],
  );
  return rows.map(toStoredEdge);
}

export async function topTalkers(pool: Pool, limit: number): Promise<StoredEdge[]> {
  const { rows } = await pool.query<EdgeRowText>(
    `SELECT src_ns, dst_ns, action, first_seen, last_seen, flow_count FROM edge
      ORDER BY flow_count DESC, src_ns, dst_ns, action LIMIT $1`,
    [limit],
  );
  return rows.map(toStoredEdge);
}

export async function deniedEdges(pool: Pool, limit: number): Promise<StoredEdge[]> {
  const { rows } = await pool.query<EdgeRowText>(
    `SELECT src_ns, dst_ns, action, first_seen, last_seen, flow_count FROM edge
      WHERE action = 'deny' ORDER BY last_seen DESC, src_ns, dst_ns LIMIT $1`,
    [limit],
  );
  return rows.map(toStoredEdge);
}

/** The database's clock, so that "since" comparisons never mix clocks. */
export async function databaseNow(pool: Pool): Promise<Date> {
  const { rows } = await pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}
