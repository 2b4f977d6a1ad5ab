/**
 * A fresh database per test file on the local PostgreSQL (TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Databases are dropped by a later run, not at the
 * end, so a failed test's data can be inspected; only those older than STALE_AFTER_SECONDS, so
 * that two runs on one machine (two developers, or CI beside a developer) never drop each
 * other's databases mid-test. The creation time is part of the name.
 */
import pg from 'pg';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_DATABASE_PREFIX = 'gea_t_';
/** Longer than any run of the suite. */
const STALE_AFTER_SECONDS = 20 * 60;

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database named after the test file (plus a random suffix); returns its URL. */
export async function createTestDatabase(label: string): Promise<{ name: string; url: string }> {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  const created = Math.floor(Date.now() / 1000).toString(36);
  const name = `${TEST_DATABASE_PREFIX}${safe}_${created}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { name, url: databaseUrl(name) };
}

export async function dropTestDatabases(): Promise<number> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`${TEST_DATABASE_PREFIX}%`],
    );
    const staleBefore = Date.now() / 1000 - STALE_AFTER_SECONDS;
    const stale = rows
      .map(({ datname }) => ({ datname, created: parseInt(/_([0-9a-z]+)_[0-9a-z]+$/.exec(datname)?.[1] ?? '0', 36) }))
      .filter(({ created }) => created < staleBefore);
    for (const { datname } of stale) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    return stale.length;
  } finally {
    await admin.end();
  }
}
