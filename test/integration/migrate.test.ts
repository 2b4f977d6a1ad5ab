import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MIGRATIONS_DIR, migrate, readMigrations } from '../../src/store/migrate.js';
import { createTestDatabase } from '../support/database.js';

async function withPool<T>(url: string, use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

describe('migrate', () => {
  it('0001 is the runbook DDL, exactly', () => {
    const ddl = readFileSync(join(MIGRATIONS_DIR, '0001_edge.sql'), 'utf8');
    expect(ddl).toContain(
      'CREATE TABLE IF NOT EXISTS edge(src_ns text, dst_ns text, action text, first_seen timestamptz, last_seen timestamptz, flow_count bigint, PRIMARY KEY (src_ns, dst_ns, action));',
    );
  });

  it('creates the schema on an empty database, and is idempotent', async () => {
    const { url } = await createTestDatabase('migrate_fresh');
    await withPool(url, async (pool) => {
      const first = await migrate(pool);
      expect(first.applied.map((m) => m.version)).toEqual(readMigrations().map((m) => m.version));
      const second = await migrate(pool);
      expect(second.applied).toEqual([]);
      const { rows } = await pool.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'edge' ORDER BY ordinal_position`,
      );
      expect(rows.map((r) => [r.column_name, r.data_type])).toEqual([
        ['src_ns', 'text'],
        ['dst_ns', 'text'],
        ['action', 'text'],
        ['first_seen', 'timestamp with time zone'],
        ['last_seen', 'timestamp with time zone'],
        ['flow_count', 'bigint'],
      ]);
    });
  });

  it('keeps the rows of a database created by the original service, and knows when they entered', async () => {
    const { url } = await createTestDatabase('migrate_existing');
    await withPool(url, async (pool) => {
      await pool.query(
        'CREATE TABLE edge(src_ns text, dst_ns text, action text, first_seen timestamptz, last_seen timestamptz, flow_count bigint, PRIMARY KEY (src_ns, dst_ns, action))',
      );
      await pool.query(
        `INSERT INTO edge VALUES ('shop', 'db', 'allow', '2026-06-01T10:00:00Z', '2026-06-25T10:00:00Z', 4242)`,
      );
      await migrate(pool);
      const edge = await pool.query('SELECT src_ns, dst_ns, action, flow_count FROM edge');
      expect(edge.rows).toEqual([{ src_ns: 'shop', dst_ns: 'db', action: 'allow', flow_count: '4242' }]);
      const recorded = await pool.query('SELECT src_ns, recorded_at FROM edge_recorded');
      expect(recorded.rows).toEqual([{ src_ns: 'shop', recorded_at: new Date('2026-06-01T10:00:00Z') }]);
    });
  });

  it('applies each migration once when several processes migrate at the same moment', async () => {
    const { url } = await createTestDatabase('migrate_race');
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url, max: 1 }));
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      const appliedCounts = results.map((result) => result.applied.length).sort();
      expect(appliedCounts).toEqual([0, 0, 0, readMigrations().length]);
      const { rows } = await pools[0]!.query<{ version: number }>(
        'SELECT version FROM schema_migration ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(readMigrations().map((m) => m.version));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('refuses a database whose schema is newer than the code, and says what to do', async () => {
    const { url } = await createTestDatabase('migrate_newer');
    await withPool(url, async (pool) => {
      await migrate(pool);
      await pool.query(`INSERT INTO schema_migration (version, name) VALUES (9999, 'from_the_future')`);
      const error = await migrate(pool).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('SCHEMA_NEWER_THAN_CODE');
      expect((error as AppError).message).toMatch(
        /schema is at version 9999, but this program knows only up to \d+; run a newer release/,
      );
    });
  });

  it('rolls a failing migration back completely and names it', async () => {
    const { url } = await createTestDatabase('migrate_failing');
    const dir = mkdtempSync(join(tmpdir(), 'gea-migrations-'));
    writeFileSync(join(dir, '0001_ok.sql'), 'CREATE TABLE ok_table (id int);');
    writeFileSync(
      join(dir, '0002_broken.sql'),
      'CREATE TABLE broken_table (id int); SELECT no_such_function();',
    );
    await withPool(url, async (pool) => {
      const error = await migrate(pool, readMigrations(dir)).catch((e: unknown) => e);
      expect((error as AppError).code).toBe('MIGRATION_FAILED');
      expect((error as AppError).message).toMatch(
        /^migration 0002_broken.sql failed: function no_such_function\(\) does not exist/,
      );
      const { rows } = await pool.query(
        `SELECT to_regclass('ok_table') AS ok, to_regclass('schema_migration') AS m`,
      );
      expect(rows[0]).toEqual({ ok: null, m: null });
    });
  });
});
