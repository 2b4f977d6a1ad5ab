/**
 * The read-side commands under a real read-only role (SELECT only), created in the test cluster:
 * they answer exactly as under the owner, write nothing, and with SELECT on `edge` alone they
 * still answer and say what they could not see.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL } from '../support/database.js';
import { runCli } from '../support/cli.js';
import { edge, seedCursor, seedEdges, seedGap, trailDatabase } from '../support/trail-seed.js';

const ROLE_PREFIX = 'gea_t_ro_';
const suffix = Math.random().toString(36).slice(2, 8);
const READER = `${ROLE_PREFIX}all_${suffix}`;
const EDGE_ONLY = `${ROLE_PREFIX}edge_${suffix}`;

let db: { url: string; name: string; pool: pg.Pool };
let outDir: string;

function urlAs(role: string): string {
  const url = new URL(db.url);
  url.username = role;
  return url.toString();
}

async function dropLeftoverRoles(admin: pg.Client): Promise<void> {
  // Roles from earlier runs; their databases were dropped by the global setup, so nothing holds them.
  const { rows } = await admin.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname LIKE $1',
    [`${ROLE_PREFIX}%`],
  );
  for (const { rolname } of rows) await admin.query(`DROP ROLE IF EXISTS ${rolname}`).catch(() => undefined);
}

beforeAll(async () => {
  db = await trailDatabase('e2e_read_only');
  await seedEdges(db.pool, [
    edge('shop', 'dbaas', 'allow', '9007199254740993', '25 days', '1 hour'),
    edge('shop', 'payments', 'deny', 9, '20 days', '3 hours'),
    edge('cart', 'shop', 'allow', 100, '28 days', '5 minutes'),
  ]);
  await seedCursor(db.pool, '30 days');
  await seedGap(db.pool, '12 days', '11 days', 'aggregator away');
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await dropLeftoverRoles(admin);
    await admin.query(`CREATE ROLE ${READER} LOGIN`);
    await admin.query(`CREATE ROLE ${EDGE_ONLY} LOGIN`);
    await admin.query(`GRANT CONNECT ON DATABASE ${db.name} TO ${READER}, ${EDGE_ONLY}`);
  } finally {
    await admin.end();
  }
  await db.pool.query(`GRANT USAGE ON SCHEMA public TO ${READER}, ${EDGE_ONLY}`);
  await db.pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${READER}`);
  await db.pool.query(`GRANT SELECT ON edge TO ${EDGE_ONLY}`);
  // Since PostgreSQL 15 public has no CREATE for ordinary roles; make sure of it on older servers.
  await db.pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  outDir = await mkdtemp(join(tmpdir(), 'gea-ro-'));
});

afterAll(async () => {
  await db.pool.query(`DROP OWNED BY ${READER}, ${EDGE_ONLY}`);
  await db.pool.end();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`REVOKE ALL ON DATABASE ${db.name} FROM ${READER}, ${EDGE_ONLY}`);
    await admin.query(`DROP ROLE ${READER}`);
    await admin.query(`DROP ROLE ${EDGE_ONLY}`);
  } finally {
    await admin.end();
  }
  await rm(outDir, { recursive: true, force: true });
});

async function counts(): Promise<string> {
  const { rows } = await db.pool.query<{ c: string }>(
    `SELECT (SELECT count(*) FROM edge) || '/' || (SELECT count(*) FROM edge_recorded) || '/' ||
            (SELECT count(*) FROM observation_gap) || '/' || (SELECT count(*) FROM schema_migration) ||
            '/' || (SELECT max(updated_at)::text FROM ingest_cursor) AS c`,
  );
  return rows[0]!.c;
}

describe('a SELECT-only role', () => {
  it('really cannot write', async () => {
    const client = new pg.Client({ connectionString: urlAs(READER) });
    await client.connect();
    try {
      const error = (await client
        .query("INSERT INTO edge VALUES ('a', 'b', 'allow', now(), now(), 1)")
        .catch((e: unknown) => e)) as { code?: string };
      expect(error.code).toBe('42501');
    } finally {
      await client.end();
    }
  });

  it('gets the same answers as the owner from edges, allowlist and policy, and nothing changes', async () => {
    const before = await counts();
    const commands = [
      ['edges', '--json', '--limit', '0'],
      ['edges', '--peers-of', 'shop', '--format', 'csv'],
      ['edges', '--format', 'dot'],
      ['allowlist', '--all', '--format', 'matrix'],
      ['policy', 'shop', '--kind', 'calico-staged'],
    ];
    for (const args of commands) {
      const owner = await runCli(args, { DATABASE_URL: db.url });
      const reader = await runCli(args, { DATABASE_URL: urlAs(READER) });
      expect(reader.code, `${args.join(' ')}: ${reader.stderr}`).toBe(0);
      expect(reader.stdout).toBe(owner.stdout);
      expect(reader.stderr).toBe(owner.stderr);
    }
    const out = await runCli(['policy', '--out', outDir], { DATABASE_URL: urlAs(READER) });
    expect(out.code, out.stderr).toBe(0);
    expect((await readdir(outDir)).sort()).toEqual(['cart.yaml', 'shop.yaml']);
    expect(await counts()).toBe(before);
  });

  it('with SELECT on edge alone: answers from edge and says what it could not see', async () => {
    const edges = await runCli(['edges', '--src', 'shop', '--json'], { DATABASE_URL: urlAs(EDGE_ONLY) });
    expect(edges.code, edges.stderr).toBe(0);
    expect((JSON.parse(edges.stdout) as { count: number }).count).toBe(2);

    const result = await runCli(['allowlist', 'shop', '--json'], { DATABASE_URL: urlAs(EDGE_ONLY) });
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as {
      observation: { source: string; gaps: unknown; notes: string[] };
      namespaces: { allowed: { dst_ns: string }[] }[];
    };
    expect(json.observation.source).toBe('edge-table');
    expect(json.observation.gaps).toBeNull();
    expect(json.observation.notes[0]).toMatch(/^the ingest_cursor table is missing or not readable/);
    expect(json.observation.notes[1]).toBe(
      'the observation_gap table is missing or not readable: gaps in the observation are unknown',
    );
    expect(json.namespaces[0]!.allowed.map((a) => a.dst_ns)).toEqual(['dbaas']);
  });
});
