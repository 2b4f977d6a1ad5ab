/**
 * 100,000 edges (1,000 source namespaces × 100 destinations each), seeded once: every read-side
 * command finishes and gives exactly the expected answer. No timings are asserted (shared CI
 * machines vary); docs/queries.md has measured figures and the command that reproduces them.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { SCALE_SOURCES, seedCursor, seedScale, trailDatabase } from '../support/trail-seed.js';

const EDGES = 100_000;
let db: { url: string; pool: pg.Pool };
let env: Record<string, string>;
let outDir: string;

beforeAll(async () => {
  db = await trailDatabase('e2e_scale');
  await seedScale(db.pool, EDGES);
  await seedCursor(db.pool, '31 days');
  env = { DATABASE_URL: db.url };
  outDir = await mkdtemp(join(tmpdir(), 'gea-scale-'));
});

afterAll(async () => {
  await db.pool.end();
  await rm(outDir, { recursive: true, force: true });
});

async function ok(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const result = await runCli(args, env, 120_000);
  expect(result.code, result.stderr).toBe(0);
  return result;
}

describe(`${EDGES} edges`, () => {
  it('edges: default listing is cut at 200 and says how many matched', async () => {
    const { stdout, stderr } = await ok('edges');
    expect(stdout.trimEnd().split('\n')).toHaveLength(201);
    expect(stderr).toBe(
      `showing 200 of ${EDGES} edges (--limit 200); use --limit 0 for all, or narrow the filters\n`,
    );
  });

  it('edges --limit 0 as JSON and CSV: every edge', async () => {
    const json = JSON.parse((await ok('edges', '--limit', '0', '--json')).stdout) as {
      count: number;
      truncated: boolean;
    };
    expect(json).toMatchObject({ count: EDGES, truncated: false });
    const csv = (await ok('edges', '--limit', '0', '--format', 'csv', '--sort', 'flow-count')).stdout;
    expect(csv.trimEnd().split('\n')).toHaveLength(EDGES + 1);
  });

  it('inbound, peers and a time filter', async () => {
    const inbound = JSON.parse((await ok('edges', '--dst', 'ns-0005', '--json', '--limit', '0')).stdout) as {
      count: number;
    };
    expect(inbound.count).toBe(100);
    const peers = JSON.parse(
      (await ok('edges', '--peers-of', 'ns-0005', '--json', '--limit', '0')).stdout,
    ) as {
      peers: { direction: string }[];
    };
    // ns-0005 sends to ns-0006..ns-0105 and hears from ns-0905..ns-1004 (mod 1000) = ns-0905..ns-0999, ns-0000..ns-0004.
    expect(peers.peers).toHaveLength(200);
    const seen = JSON.parse((await ok('edges', '--seen-since', '1h', '--json', '--denied')).stdout) as {
      total: number;
      truncated: boolean;
    };
    const { rows } = await db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM edge WHERE last_seen > now() - interval '1 hour' AND action = 'deny'",
    );
    expect(seen.total).toBe(Number(rows[0]!.n));
  });

  it('allowlist --all: every source namespace, with its allowed destinations', async () => {
    const json = JSON.parse((await ok('allowlist', '--all', '--json')).stdout) as {
      namespaces: { allowed: unknown[]; denied: unknown[]; verdict: string }[];
    };
    expect(json.namespaces).toHaveLength(SCALE_SOURCES);
    const allowed = json.namespaces.reduce((n, ns) => n + ns.allowed.length, 0);
    const denied = json.namespaces.reduce((n, ns) => n + ns.denied.length, 0);
    expect(denied).toBe(Math.ceil(EDGES / 17));
    expect(allowed + denied).toBe(EDGES);
    expect(new Set(json.namespaces.map((n) => n.verdict))).toEqual(new Set(['ready']));
  });

  it('allowlist and policy for one namespace, and policy --out for all', async () => {
    expect((await ok('allowlist', 'ns-0005')).stdout).toContain('ns-0005: ready');
    expect((await ok('policy', 'ns-0005')).stdout).toContain('kind: NetworkPolicy');
    const { stdout } = await ok('policy', '--out', outDir);
    expect(stdout.trimEnd().split('\n')).toHaveLength(SCALE_SOURCES);
    expect(await readdir(outDir)).toHaveLength(SCALE_SOURCES);
  });
});
