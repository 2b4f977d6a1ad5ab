/**
 * The digest's SQL: which edges are new, the state of each run, and per message whether Slack
 * accepted it (migrations/0003_digest.sql). One connection for the whole run, because the lock that
 * keeps two digests from announcing the same edges is a session lock.
 *
 * The rule for "new": an edge is announced when it was recorded (edge_recorded, by the database
 * clock) after the first digest's window start and no accepted message carries it yet. Not a bare
 * `recorded_at > last watermark`: an aggregator transaction that started before a digest's now()
 * but committed after its snapshot writes a recorded_at below that watermark, and a bare comparison
 * would skip it forever. The watermark (the end of the last successful run) is what the message
 * shows as "since".
 */
import type { Pool, PoolClient } from './pool.js';

export interface DigestEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  readonly firstSeen: Date;
  /** Exact: int8 as bigint. */
  readonly flowCount: bigint;
}

export interface EdgeKey {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
}

export interface DigestWindow {
  /** The end of the last successful run; on the first run, now() minus the first-run window. */
  readonly from: Date;
  readonly to: Date;
  readonly firstRun: boolean;
}

export interface PlannedMessage {
  /** The exact JSON body to POST. */
  readonly payload: string;
  readonly edges: readonly EdgeKey[];
}

export type MessageStatus = 'pending' | 'sending' | 'accepted' | 'failed';

export interface StoredMessage {
  readonly seq: number;
  readonly payload: string;
  readonly status: MessageStatus;
  readonly attempts: number;
  readonly edgeCount: number;
}

export interface StoredRun {
  readonly id: number;
  readonly window: DigestWindow;
  readonly edgeCount: number;
  readonly messages: readonly StoredMessage[];
}

export type Plan =
  | { readonly kind: 'empty'; readonly window: DigestWindow; readonly runId: number | null }
  | { readonly kind: 'run'; readonly run: StoredRun };

/** Any fixed number; identifies "a digest run is in progress" among advisory locks. */
const DIGEST_LOCK_KEY = 7_201_554_302;

// $1: the first-run window in milliseconds. now() is the transaction's start: every statement of
// a planning transaction sees the same bounds.
const BOUNDS_SQL = `SELECT COALESCE(h.baseline, now() - $1::bigint * interval '1 millisecond') AS baseline,
         COALESCE(h.last_ok, h.baseline, now() - $1::bigint * interval '1 millisecond') AS window_from,
         now() AS window_to,
         h.baseline IS NULL AS first_run
    FROM (SELECT min(window_from) AS baseline,
                 max(window_to) FILTER (WHERE status IN ('posted', 'empty')) AS last_ok
            FROM digest_run) AS h`;

// COLLATE "C": the order must not depend on the database's locale ('a-b' and 'ab' swap places
// between C and en_US). Denied edges first. first_seen and flow_count may be NULL in a database
// created by the original service.
const NEW_EDGES_SQL = `WITH bounds AS (${BOUNDS_SQL})
  SELECT e.src_ns, e.dst_ns, e.action, COALESCE(e.first_seen, r.recorded_at) AS first_seen,
         COALESCE(e.flow_count, 0)::text AS flow_count
    FROM edge_recorded r
    JOIN edge e USING (src_ns, dst_ns, action)
   WHERE r.recorded_at > (SELECT baseline FROM bounds)
     AND r.recorded_at <= now()
     AND NOT EXISTS (
       SELECT FROM digest_edge d JOIN digest_message m USING (run_id, seq)
        WHERE m.status = 'accepted'
          AND d.src_ns = r.src_ns AND d.dst_ns = r.dst_ns AND d.action = r.action)
   ORDER BY e.action = 'deny' DESC, e.src_ns COLLATE "C", e.dst_ns COLLATE "C", e.action COLLATE "C"`;

interface BoundsRow {
  window_from: Date;
  window_to: Date;
  first_run: boolean;
}

interface EdgeRowText {
  src_ns: string;
  dst_ns: string;
  action: string;
  first_seen: Date;
  flow_count: string;
}

interface MessageRow {
  seq: number;
  payload: string;
  status: MessageStatus;
  attempts: number;
  edge_count: number;
}

function toWindow(row: BoundsRow): DigestWindow {
  return { from: row.window_from, to: row.window_to, firstRun: row.first_run };
}

export class DigestStore {
  private constructor(private readonly client: PoolClient) {}

  static async open(pool: Pool): Promise<DigestStore> {
    return new DigestStore(await pool.connect());
  }

  /** Closes the connection rather than pooling it: the digest lock and any transaction end with it. */
  close(): void {
    this.client.release(true);
  }

  /** False when another digest holds the lock (it is running now; it will post what is new). */
  async tryLock(): Promise<boolean> {
    const { rows } = await this.client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS locked',
      [DIGEST_LOCK_KEY],
    );
    return rows[0]!.locked;
  }

  /** The run that was planned but not finished (its process died), with all its messages. */
  async unfinishedRun(): Promise<StoredRun | null> {
    const { rows } = await this.client.query<BoundsRow & { id: string; edge_count: number }>(
      `SELECT id, window_from, window_to, edge_count,
              NOT EXISTS (SELECT FROM digest_run o WHERE o.id < r.id) AS first_run
         FROM digest_run r WHERE status = 'sending'`,
    );
    const run = rows[0];
    if (run === undefined) return null;
    const messages = await this.client.query<MessageRow>(
      `SELECT seq, payload, status, attempts, edge_count FROM digest_message WHERE run_id = $1 ORDER BY seq`,
      [run.id],
    );
    return {
      id: Number(run.id),
      window: toWindow(run),
      edgeCount: run.edge_count,
      messages: messages.rows.map((row) => ({
        seq: row.seq,
        payload: row.payload,
        status: row.status,
        attempts: row.attempts,
        edgeCount: row.edge_count,
      })),
    };
  }

  /**
   * Selects the new edges and the window in one snapshot, lets `build` turn them into messages,
   * and records the run with its messages and edges atomically (an empty run too: it moves the
   * watermark). With `record: false` (a dry run) nothing is written.
   */
  async planRun(
    firstRunWindowMs: number,
    build: (window: DigestWindow, edges: readonly DigestEdge[]) => readonly PlannedMessage[],
    options: { record: boolean },
  ): Promise<Plan> {
    const { client } = this;
    // REPEATABLE READ: the bounds, the edges and the inserted run all see one snapshot and one now().
    await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ${options.record ? '' : ' READ ONLY'}`);
    try {
      const bounds = await client.query<BoundsRow>(BOUNDS_SQL, [firstRunWindowMs]);
      const window = toWindow(bounds.rows[0]!);
      const { rows } = await client.query<EdgeRowText>(NEW_EDGES_SQL, [firstRunWindowMs]);
      const edges = rows.map((row): DigestEdge => ({
        src: row.src_ns,
        dst: row.dst_ns,
        action: row.action,
        firstSeen: row.first_seen,
        flowCount: BigInt(row.flow_count),
      }));
      const messages = edges.length === 0 ? [] : build(window, edges);
      if (!options.record) {
        await client.query('ROLLBACK');
        return edges.length === 0
          ? { kind: 'empty', window, runId: null }
          : { kind: 'run', run: unrecordedRun(window, edges.length, messages) };
      }
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO digest_run (window_from, window_to, status, edge_count, message_count, finished_at)
         SELECT window_from, window_to, $2, $3, $4, CASE WHEN $2 = 'empty' THEN now() END
           FROM (${BOUNDS_SQL}) AS bounds
         RETURNING id`,
        [firstRunWindowMs, edges.length === 0 ? 'empty' : 'sending', edges.length, messages.length],
      );
      const runId = inserted.rows[0]!.id;
      if (messages.length > 0) {
        await client.query(
          `INSERT INTO digest_message (run_id, seq, payload, edge_count)
           SELECT $1, m.seq, m.payload, m.edge_count
             FROM unnest($2::int[], $3::text[], $4::int[]) AS m(seq, payload, edge_count)`,
          [
            runId,
            messages.map((_, index) => index + 1),
            messages.map((message) => message.payload),
            messages.map((message) => message.edges.length),
          ],
        );
        const keys = messages.flatMap((message, index) => message.edges.map((edge) => ({ edge, index })));
        await client.query(
          `INSERT INTO digest_edge (run_id, seq, src_ns, dst_ns, action)
           SELECT $1, k.seq, k.src_ns, k.dst_ns, k.action
             FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS k(seq, src_ns, dst_ns, action)`,
          [
            runId,
            keys.map((key) => key.index + 1),
            keys.map((key) => key.edge.src),
            keys.map((key) => key.edge.dst),
            keys.map((key) => key.edge.action),
          ],
        );
      }
      await client.query('COMMIT');
      return edges.length === 0
        ? { kind: 'empty', window, runId: Number(runId) }
        : { kind: 'run', run: unrecordedRun(window, edges.length, messages, Number(runId)) };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Written before each request, so that a process dying mid-request leaves a trace. */
  async markSending(runId: number, seq: number): Promise<void> {
    await this.client.query(
      `UPDATE digest_message SET status = 'sending', attempts = attempts + 1, last_attempt_at = now()
        WHERE run_id = $1 AND seq = $2`,
      [runId, seq],
    );
  }

  async markAnswer(runId: number, seq: number, answer: string): Promise<void> {
    await this.client.query(`UPDATE digest_message SET last_answer = $3 WHERE run_id = $1 AND seq = $2`, [
      runId,
      seq,
      answer,
    ]);
  }

  async markAccepted(runId: number, seq: number): Promise<void> {
    await this.client.query(
      `UPDATE digest_message SET status = 'accepted', accepted_at = now(), last_answer = '200 ok'
        WHERE run_id = $1 AND seq = $2`,
      [runId, seq],
    );
  }

  /** The run is over; the edges of its unaccepted messages are new again for the next run. */
  async markFailed(runId: number, seq: number, answer: string, error: string): Promise<void> {
    await this.client.query('BEGIN');
    try {
      await this.client.query(
        `UPDATE digest_message SET status = 'failed', last_answer = $3 WHERE run_id = $1 AND seq = $2`,
        [runId, seq, answer],
      );
      await this.client.query(
        `UPDATE digest_run SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1`,
        [runId, error],
      );
      await this.client.query('COMMIT');
    } catch (failure) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw failure;
    }
  }

  async markPosted(runId: number): Promise<void> {
    await this.client.query(`UPDATE digest_run SET status = 'posted', finished_at = now() WHERE id = $1`, [
      runId,
    ]);
  }
}

function unrecordedRun(
  window: DigestWindow,
  edgeCount: number,
  messages: readonly PlannedMessage[],
  id = 0,
): StoredRun {
  return {
    id,
    window,
    edgeCount,
    messages: messages.map((message, index) => ({
      seq: index + 1,
      payload: message.payload,
      status: 'pending',
      attempts: 0,
      edgeCount: message.edges.length,
    })),
  };
}

/** The end of the last successful digest (posted, or nothing new), or null before the first. */
export async function digestWatermark(pool: Pool): Promise<Date | null> {
  const { rows } = await pool.query<{ watermark: Date | null }>(
    `SELECT max(window_to) AS watermark FROM digest_run WHERE status IN ('posted', 'empty')`,
  );
  return rows[0]!.watermark;
}
