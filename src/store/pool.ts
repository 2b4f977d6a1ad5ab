/**
 * The PostgreSQL connection pool. Only store/ speaks SQL.
 */
import pg from 'pg';
import type { Logger } from '../log/logger.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  /** Connections; the aggregator needs one writer and one for health checks. */
  readonly max?: number;
  readonly applicationName?: string;
  /**
   * PostgreSQL cancels a statement that runs (or waits for a lock) longer than this. Default: 30 s,
   * far above any flush (one statement of a few thousand rows takes milliseconds), so a stuck
   * write fails, is retried, and cannot hold the aggregator forever.
   */
  readonly statementTimeoutMs?: number;
}

const STATEMENT_TIMEOUT_MS = 30_000;

/** Connection establishment gives up after this long, so a dead host cannot stall a flush forever. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Idle connections are closed after this, so a failover's dead sockets do not linger. */
const IDLE_TIMEOUT_MS = 30_000;

export function createPool(databaseUrl: string, log: Logger, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 3,
    application_name: options.applicationName ?? 'goldmane-edge-aggregator',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    statement_timeout: options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
  });
  // Without this listener, a server-side disconnect of an idle pooled client (restart, failover,
  // pg_terminate_backend) is an unhandled 'error' event and kills the process.
  pool.on('error', (error) => {
    log.warn(
      { err: describeDatabaseError(error) },
      'an idle database connection was closed; it will be replaced',
    );
  });
  return pool;
}

export interface DatabaseErrorDescription {
  readonly message: string;
  /** SQLSTATE, or a Node error code such as ECONNREFUSED. */
  readonly code?: string;
}

/** What a log line may say about a database error (never the connection string). */
export function describeDatabaseError(error: unknown): DatabaseErrorDescription {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { message: error.message, code } : { message: error.message };
  }
  return { message: String(error) };
}

/** The SQLSTATE of a PostgreSQL error, if the error came from the server. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Errors caused by the rows themselves (class 22 data exception, class 23 integrity constraint):
 * retrying the same rows fails the same way, so the batch is split to isolate them. Everything
 * else (connection loss, shutdown 57P01, serialization, lock timeouts, even a schema problem)
 * is retried with the batch intact: the rows are fine and losing them would be wrong.
 */
export function isRowError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** A readiness check should answer fast: a database slower than this counts as unreachable. */
const PING_TIMEOUT_MS = 2_000;

/** Null if the database answers `SELECT 1` in time, else why not. */
export async function pingDatabase(pool: Pool, timeoutMs = PING_TIMEOUT_MS): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      pool.query('SELECT 1').then(
        () => null,
        (error: unknown) => describeDatabaseError(error).message,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
