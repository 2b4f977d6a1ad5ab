/**
 * Helpers for the digest tests: a Slack incoming webhook stand-in on loopback, a migrated database
 * per test, edge fixtures written the way the aggregator writes them, and the digest command run in
 * process with a fake clock.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createDigestCommand } from '../../src/cli/commands/digest.js';
import { DEFAULT_DELIVERY_TIMING, type Clock, type DeliveryTiming } from '../../src/digest/slack-sender.js';
import { AppError } from '../../src/errors.js';
import { migrate } from '../../src/store/migrate.js';
import { createTestDatabase } from '../support/database.js';

/** The credential part of the webhook URL: it must appear in no output. */
export const WEBHOOK_SECRET = 'T0000SECRET/B0000SECRET/xoxSecretToken42';

export interface SlackRequest {
  readonly body: string;
  readonly json: Record<string, unknown> & { text?: string; blocks?: unknown[]; channel?: string };
  /** Date.now() when the request arrived. */
  readonly at: number;
  readonly contentType: string | undefined;
}

export interface SlackReply {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
  /** Drop the connection without answering (a network error). */
  readonly destroy?: boolean;
  /** Never answer (the test kills the client meanwhile). */
  readonly hang?: boolean;
}

/** How Slack answers the n-th request (0-based) after its own checks passed. */
export type SlackScript = (index: number, request: SlackRequest) => SlackReply;

export const OK: SlackReply = { status: 200, body: 'ok' };

export interface FakeSlack {
  readonly url: string;
  readonly requests: SlackRequest[];
  /** Resolves when `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

interface TextLike {
  text?: unknown;
}

/**
 * Answers like Slack: 400 invalid_payload for bad JSON, no_text without a top-level text,
 * invalid_blocks over 50 blocks or a text object over 3000 characters; 404 channel_not_found to a
 * channel override when `channelBound`; otherwise what the script says (200 ok by default).
 */
export async function startFakeSlack(
  script: SlackScript = () => OK,
  options: { channelBound?: boolean } = {},
): Promise<FakeSlack> {
  const requests: SlackRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const hung: ServerResponse[] = [];
  const answer = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    let json: SlackRequest['json'];
    try {
      json = JSON.parse(body) as SlackRequest['json'];
    } catch {
      response.writeHead(400).end('invalid_payload');
      return;
    }
    const entry: SlackRequest = { body, json, at: Date.now(), contentType: request.headers['content-type'] };
    const index = requests.length;
    requests.push(entry);
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
    const blocks = (json.blocks ?? []) as { text?: TextLike; elements?: TextLike[] }[];
    const texts = blocks
      .flatMap((block) => [block.text, ...(block.elements ?? [])])
      .filter((t) => t !== undefined);
    let reply: SlackReply;
    if (typeof json.text !== 'string' || json.text === '') reply = { status: 400, body: 'no_text' };
    else if (blocks.length > 50 || texts.some((t) => typeof t.text === 'string' && t.text.length > 3000)) {
      reply = { status: 400, body: 'invalid_blocks' };
    } else if (options.channelBound === true && 'channel' in json) {
      reply = { status: 404, body: 'channel_not_found' };
    } else reply = script(index, entry);
    if (reply.destroy === true) {
      request.socket.destroy();
      return;
    }
    if (reply.hang === true) {
      hung.push(response);
      return;
    }
    response.writeHead(reply.status, { 'content-type': 'text/html', ...reply.headers }).end(reply.body);
  };
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => answer(request, response, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/${WEBHOOK_SECRET}`,
    requests,
    waitForRequests(count) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const response of hung) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh database with every migration applied. */
export async function digestDatabase(label: string): Promise<{ url: string; pool: pg.Pool }> {
  const { url } = await createTestDatabase(label);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await migrate(pool);
  return { url, pool };
}

export interface EdgeFixture {
  readonly src: string;
  readonly dst: string;
  readonly action?: string;
  /** ISO time; default: one hour ago. */
  readonly firstSeen?: string;
  readonly flowCount?: string;
  /** An SQL interval before now() at which the edge entered the table; default: now(). */
  readonly recordedAgo?: string;
}

/** Writes edges as the aggregator does: the edge and its edge_recorded row in one transaction. */
export async function insertEdges(pool: pg.Pool, edges: readonly EdgeFixture[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const edge of edges) {
      await client.query(
        `INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count)
         VALUES ($1, $2, $3, COALESCE($4::timestamptz, now() - interval '1 hour'), now(), $5::int8)`,
        [edge.src, edge.dst, edge.action ?? 'allow', edge.firstSeen ?? null, edge.flowCount ?? '1'],
      );
      await client.query(
        `INSERT INTO edge_recorded (src_ns, dst_ns, action, recorded_at)
         VALUES ($1, $2, $3, now() - COALESCE($4::interval, interval '0'))`,
        [edge.src, edge.dst, edge.action ?? 'allow', edge.recordedAgo ?? null],
      );
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** Empties the edge and digest tables between tests. */
export async function resetDigestTables(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE edge, edge_recorded, digest_edge, digest_message, digest_run');
}

/** A successful digest that ended at `end` (ISO): the "since" of the next message. */
export async function recordPreviousDigest(pool: pg.Pool, end: string): Promise<void> {
  await pool.query(
    `INSERT INTO digest_run (window_from, window_to, status, edge_count, message_count, finished_at)
     VALUES ($1::timestamptz - interval '1 day', $1, 'posted', 0, 0, $1)`,
    [end],
  );
}

/**
 * Moves the whole history (runs, and every edge recorded so far) back in time, as if it all
 * happened `interval` ago: a way to model yesterday without waiting a day.
 */
export async function shiftHistory(pool: pg.Pool, interval: string): Promise<void> {
  await pool.query(
    `UPDATE digest_run SET window_from = window_from - $1::interval, window_to = window_to - $1::interval,
            planned_at = planned_at - $1::interval, finished_at = finished_at - $1::interval`,
    [interval],
  );
  await pool.query(`UPDATE edge_recorded SET recorded_at = recorded_at - $1::interval`, [interval]);
}

export interface RunRow {
  id: number;
  status: string;
  edge_count: number;
  message_count: number;
  window_from: Date;
  window_to: Date;
  error: string | null;
}

export async function digestRuns(pool: pg.Pool): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow & { id: string }>(
    'SELECT id, status, edge_count, message_count, window_from, window_to, error FROM digest_run ORDER BY id',
  );
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

export async function digestMessages(
  pool: pg.Pool,
): Promise<{ run_id: number; seq: number; status: string; attempts: number; last_answer: string | null }[]> {
  const { rows } = await pool.query<{
    run_id: string;
    seq: number;
    status: string;
    attempts: number;
    last_answer: string | null;
  }>('SELECT run_id, seq, status, attempts, last_answer FROM digest_message ORDER BY run_id, seq');
  return rows.map((row) => ({ ...row, run_id: Number(row.run_id) }));
}

/** Edges announced by an accepted message, as "src>dst:action", in announcement order. */
export async function announcedEdges(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ key: string }>(
    `SELECT d.src_ns || '>' || d.dst_ns || ':' || d.action AS key
       FROM digest_edge d JOIN digest_message m USING (run_id, seq)
      WHERE m.status = 'accepted' ORDER BY d.run_id, d.seq`,
  );
  return rows.map((row) => row.key);
}

/** A clock whose sleeps return at once and are recorded. */
export function fakeClock(): Clock & { readonly sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep(ms) {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

/**
 * Runs the digest command in this process as the CLI would (exit code and `error [CODE]` line as
 * in src/cli/main.ts), with the default timing on a fake clock unless told otherwise.
 */
export async function runDigestCommand(
  env: Record<string, string>,
  options: { clock?: Clock; timing?: DeliveryTiming; flags?: Record<string, string> } = {},
): Promise<CommandResult> {
  const command = createDigestCommand({
    timing: options.timing ?? DEFAULT_DELIVERY_TIMING,
    clock: options.clock ?? fakeClock(),
  });
  const stdout = collector();
  const stderr = collector();
  let code: number;
  try {
    code = await command.run({
      env: { LOG_FORMAT: 'json', ...env },
      flags: options.flags ?? {},
      positionals: [],
      stdout: stdout.stream,
      stderr: stderr.stream,
    });
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    stderr.stream.write(`error [${error.code}]: ${error.message}\n`);
    code = error.exitCode;
  }
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** The JSON log lines in a command's stderr. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
