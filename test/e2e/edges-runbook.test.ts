/**
 * Every SQL recipe of the runbook ("How to query who-talks-to-whom" and "Deriving the Wave-1
 * egress allowlist") run verbatim (with the namespace placeholder '' as a parameter) beside the
 * command docs/queries.md pairs it with, on the same data: the same rows. Where the recipe's
 * ORDER BY leaves ties, the sort keys must come in the same order and the rows must be the same
 * multiset (the command breaks ties by the primary key).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { edge, seedCursor, seedEdges, trailDatabase } from '../support/trail-seed.js';

let db: { url: string; pool: pg.Pool };

beforeAll(async () => {
  db = await trailDatabase('e2e_edges_runbook');
  await seedEdges(db.pool, [
    edge('cart', 'shop', 'allow', 100, '2 hours', '5 minutes'),
    edge('cart', 'dbaas', 'allow', 40, '12 hours', '50 minutes'),
    edge('cart', 'payments', 'deny', 3, '30 hours', '70 minutes'),
    edge('shop', '-', 'allow', 7, '15 days', '6 hours'),
    edge('shop', 'dbaas', 'allow', '9007199254740993', '20 days', '1 hour'),
    edge('shop', 'kube-system', 'allow', 10, '20 days', '2 hours'),
    edge('shop', 'payments', 'deny', 9, '3 days', '3 hours'),
    edge('shop', 'redis', 'allow', 5, '15 days', '4 hours'),
    edge('shop', 'redis', 'deny', 2, '16 days', '5 hours'),
    edge('web', 'shop', 'allow', 55, '40 days', '30 minutes'),
    edge('web', 'cart', 'pass', 8, '23 hours', '20 minutes'),
    edge('monitoring', 'shop', 'allow', 1, '9 days', '10 minutes'),
    edge('monitoring', 'redis', 'unspecified', 4, '8 days', '7 hours'),
    // Off-cluster traffic into the cluster (only with INCLUDE_OFF_CLUSTER): '-' as a source.
    edge('-', 'web', 'allow', 6, '5 days', '15 minutes'),
  ]);
  await seedCursor(db.pool, '30 days');
});

afterAll(async () => {
  await db.pool.end();
});

type Row = Record<string, string | null>;

/** The recipe's rows, with timestamps as ISO strings and int8 as text. */
async function recipe(sql: string, params: unknown[] = []): Promise<Row[]> {
  const { rows } = await db.pool.query<Record<string, unknown>>(sql, params);
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : (v as string | null)]),
    ),
  );
}

async function command(...args: string[]): Promise<Row[]> {
  const result = await runCli(['edges', '--json', '--limit', '0', ...args], { DATABASE_URL: db.url });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { edges: Row[] }).edges;
}

function project(rows: Row[], columns: readonly string[]): Row[] {
  return rows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c] ?? null])));
}

/** Same sort-key sequence, same multiset of rows. */
function expectSameRows(fromRecipe: Row[], fromCommand: Row[], sortKeys: readonly string[]): void {
  const columns = Object.keys(fromRecipe[0] ?? {});
  const mine = project(fromCommand, columns);
  expect(mine.map((r) => sortKeys.map((k) => r[k]))).toEqual(
    fromRecipe.map((r) => sortKeys.map((k) => r[k])),
  );
  const canonical = (rows: Row[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
  expect(canonical(mine)).toEqual(canonical(fromRecipe));
  expect(fromRecipe.length).toBeGreaterThan(0);
}

describe('runbook: how to query who-talks-to-whom', () => {
  it('everything talking to a namespace (inbound), most-active first = edges --dst NS --sort flow-count', async () => {
    const sql = `SELECT src_ns, action, flow_count, first_seen, last_seen FROM edge WHERE dst_ns = $1 ORDER BY flow_count DESC;`;
    expectSameRows(await recipe(sql, ['shop']), await command('--dst', 'shop', '--sort', 'flow-count'), [
      'flow_count',
    ]);
  });

  it('everything a namespace talks TO (outbound) = edges --src NS --sort last-seen', async () => {
    const sql = `SELECT dst_ns, action, flow_count, first_seen, last_seen FROM edge WHERE src_ns = $1 ORDER BY last_seen DESC;`;
    expectSameRows(await recipe(sql, ['shop']), await command('--src', 'shop', '--sort', 'last-seen'), [
      'last_seen',
    ]);
  });

  it('new edges in the last 24h = edges --new-since 24h --sort first-seen', async () => {
    const sql = `SELECT src_ns, dst_ns, action, flow_count, first_seen FROM edge WHERE first_seen > now() - interval '24 hours' ORDER BY first_seen DESC;`;
    const rows = await recipe(sql);
    expect(rows.map((r) => r.src_ns)).toEqual(['cart', 'cart', 'web']);
    expectSameRows(rows, await command('--new-since', '24h', '--sort', 'first-seen'), ['first_seen']);
  });

  it('any DENIED edges = edges --denied --sort last-seen', async () => {
    const sql = `SELECT src_ns, dst_ns, flow_count, last_seen FROM edge WHERE action = 'deny' ORDER BY last_seen DESC;`;
    expectSameRows(await recipe(sql), await command('--denied', '--sort', 'last-seen'), ['last_seen']);
  });

  it('full edge set as a graph adjacency list = edges --limit 0 (also --format dot / mermaid)', async () => {
    const sql = `SELECT src_ns, dst_ns, action, flow_count FROM edge ORDER BY src_ns, dst_ns;`;
    const rows = await recipe(sql);
    expect(rows).toHaveLength(14);
    expectSameRows(rows, await command(), ['src_ns', 'dst_ns']);
  });
});

interface AllowlistJson {
  namespaces: { namespace: string; allowed: { dst_ns: string }[]; denied: { dst_ns: string }[] }[];
}

async function allowlist(...args: string[]): Promise<AllowlistJson> {
  const result = await runCli(['allowlist', '--json', ...args], { DATABASE_URL: db.url });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as AllowlistJson;
}

describe('runbook: deriving the Wave-1 egress allowlist', () => {
  it('internal egress allowlist for one namespace = allowlist NS (allowed[].dst_ns)', async () => {
    const sql = `SELECT DISTINCT dst_ns FROM edge WHERE src_ns = $1 AND action = 'allow' ORDER BY dst_ns;`;
    for (const ns of ['shop', 'cart', 'monitoring']) {
      const rows = await recipe(sql, [ns]);
      const json = await allowlist(ns);
      expect(json.namespaces[0]!.allowed.map((a) => a.dst_ns)).toEqual(rows.map((r) => r.dst_ns));
    }
  });

  it('full internal egress matrix = allowlist --all (namespaces with an allowed destination)', async () => {
    const sql = `SELECT src_ns, array_agg(DISTINCT dst_ns ORDER BY dst_ns) AS allowed_dst_ns FROM edge WHERE action = 'allow' GROUP BY src_ns ORDER BY src_ns;`;
    const { rows } = await db.pool.query<{ src_ns: string; allowed_dst_ns: string[] }>(sql);
    const json = await allowlist('--all');
    const matrix = json.namespaces
      .filter((n) => n.allowed.length > 0)
      .map((n) => ({ src_ns: n.namespace, allowed_dst_ns: n.allowed.map((a) => a.dst_ns) }));
    // The one documented difference: '-' (off-cluster endpoints) is not a namespace and has no
    // allowlist of its own; the recipe lists it as a source.
    expect(rows.filter((r) => r.src_ns !== '-')).toEqual(matrix);
    expect(rows.map((r) => r.src_ns)).toContain('-');
    // And --all covers namespaces without an allowed destination too (none in this data).
    expect(json.namespaces.map((n) => n.namespace)).toEqual(['cart', 'monitoring', 'shop', 'web']);
  });

  it('sanity: namespaces with a DENY edge = edges --denied (src_ns, dst_ns)', async () => {
    const sql = `SELECT DISTINCT src_ns, dst_ns FROM edge WHERE action = 'deny';`;
    const pairs = (rows: Row[]): string[] => rows.map((r) => `${r.src_ns}>${r.dst_ns}`).sort();
    expect(pairs(await command('--denied'))).toEqual(pairs(await recipe(sql)));
    expect(pairs(await recipe(sql))).toEqual(['cart>payments', 'shop>payments', 'shop>redis']);
  });
});
