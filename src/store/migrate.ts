/**
 * Forward-only numbered SQL migrations (migrations/NNNN_name.sql), applied in one transaction under
 * an advisory lock, so that two processes starting at once apply each migration exactly once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.js';
import type { Pool } from './pool.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Any fixed number; identifies "goldmane-edge-aggregator schema changes" among advisory locks. */
const MIGRATION_LOCK_KEY = 7_201_554_301;

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The file name, e.g. 0001_edge.sql. */
  readonly file: string;
  readonly sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      file,
      sql: readFileSync(`${dir}/${file}`, 'utf8'),
    }));
}

export interface MigrationResult {
  readonly applied: readonly Migration[];
  readonly current: number;
}

export async function migrate(pool: Pool, migrations = readMigrations()): Promise<MigrationResult> {
  const known = migrations.at(-1)?.version ?? 0;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // Held until COMMIT/ROLLBACK: a second process waits here, then finds everything applied.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migration (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM schema_migration ORDER BY version',
    );
    const applied = new Set(rows.map((row) => row.version));
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new AppError(
        'SCHEMA_NEWER_THAN_CODE',
        `the database schema is at version ${newest}, but this program knows only up to ${known}; run a newer release of goldmane-edge-aggregator (a downgrade is not supported)`,
      );
    }
    const pending = migrations.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      try {
        await client.query(migration.sql);
      } catch (error) {
        throw new AppError(
          'MIGRATION_FAILED',
          `migration ${migration.file} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await client.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
    return { applied: pending, current: Math.max(newest, known) };
  } catch (error) {
    // A connection that cannot even roll back is destroyed rather than returned to the pool.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}
