/**
 * `allowlist` as a subprocess: readiness verdicts from the trail itself for 2 days and 30 days of
 * observation and for an observation with a recorded gap; the fallback for a database of the
 * original service (no ingest_cursor row); evidence, denied edges and every format.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../support/csv-parse.js';
import { runCli } from '../support/cli.js';
import { edge, seedCursor, seedEdges, seedGap, trailDatabase } from '../support/trail-seed.js';

interface Evidence {
  dst_ns: string;
  first_seen: string | null;
  last_seen: string | null;
  flow_count: string;
}
interface NamespaceJson {
  namespace: string;
  verdict: string;
  reasons: string[];
  attention: string[];
  days_since_last_new_edge: number | null;
  days_since_last_new_allowed_edge: number | null;
  allowed: (Evidence & { off_cluster: boolean; also_denied: boolean })[];
  denied: Evidence[];
  other: (Evidence & { action: string })[];
}
interface AllowlistJson {
  observation: {
    source: string;
    span_days: number;
    gap_days: number;
    observed_days: number;
    gaps: { from: string; to: string; reason: string }[] | null;
    notes: string[];
  };
  namespaces: NamespaceJson[];
}

const pools: pg.Pool[] = [];

/** A database of its own per scenario: the cursor (observation) is one row per trail. */
async function scenario(label: string, seed: (pool: pg.Pool) => Promise<void>): Promise<string> {
  const db = await trailDatabase(label);
  pools.push(db.pool);
  await seed(db.pool);
  return db.url;
}

async function allowlist(url: string, ...args: string[]): Promise<{ json: AllowlistJson; stderr: string }> {
  const result = await runCli(['allowlist', '--json', ...args], { DATABASE_URL: url });
  expect(result.code, result.stderr).toBe(0);
  return { json: JSON.parse(result.stdout) as AllowlistJson, stderr: result.stderr };
}

// The same edges in every scenario: shop's allow set last grew 20 days ago (and it had a denied
// edge 3 days ago); cart gained an allowed destination 2 days ago.
async function seedNamespaces(pool: pg.Pool): Promise<void> {
  await seedEdges(pool, [
    edge('shop', 'dbaas', 'allow', '9007199254740993', '25 days', '1 hour'),
    edge('shop', 'kube-system', 'allow', 10, '20 days', '2 hours'),
    edge('shop', 'payments', 'deny', 9, '3 days', '3 hours'),
    edge('cart', 'shop', 'allow', 100, '28 days', '5 minutes'),
    edge('cart', 'redis', 'allow', 4, '2 days', '10 minutes'),
  ]);
}

let twoDays: string;
let thirtyDays: string;
let withGap: string;
let original: string;

beforeAll(async () => {
  [twoDays, thirtyDays, withGap, original] = await Promise.all([
    scenario('e2e_allowlist_2d', async (pool) => {
      await seedEdges(pool, [edge('shop', 'dbaas', 'allow', 12, '1 day', '1 hour')]);
      await seedCursor(pool, '2 days');
    }),
    scenario('e2e_allowlist_30d', async (pool) => {
      await seedNamespaces(pool);
      await seedCursor(pool, '30 days');
    }),
    scenario('e2e_allowlist_gap', async (pool) => {
      await seedNamespaces(pool);
      await seedCursor(pool, '10 days');
      await seedGap(pool, '6 days', '2 days', 'aggregator away longer than the window');
    }),
    scenario('e2e_allowlist_original', async (pool) => {
      // No ingest_cursor row and no edge_recorded rows: as the original service left it.
      await seedEdges(pool, [
        edge('shop', 'dbaas', 'allow', 3, '12 days', '1 hour', null),
        edge('shop', 'vault', 'allow', 1, '11 days', '1 hour', null),
      ]);
    }),
  ]);
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

describe('readiness verdicts', () => {
  it('2 days of observation: not ready, and says so', async () => {
    const { json } = await allowlist(twoDays, 'shop');
    expect(json.observation).toMatchObject({
      source: 'ingest-cursor',
      observed_days: 2,
      gap_days: 0,
      gaps: [],
    });
    const [shop] = json.namespaces;
    expect(shop!.verdict).toBe('not-ready');
    expect(shop!.reasons).toEqual([
      'observed for 2.0 days; collect at least 7.0 days of edges before treating an allow set as complete (a weekly job or a 7-day credential rotation may not have run yet)',
    ]);
    const table = await runCli(['allowlist', 'shop'], { DATABASE_URL: twoDays });
    expect(table.stdout).toContain('shop: not-ready (observed for 2.0 days;');
  });

  it('30 days: ready for a settled namespace, stabilizing for one whose allow set just grew', async () => {
    const { json } = await allowlist(thirtyDays, '--all');
    expect(json.observation).toMatchObject({
      source: 'ingest-cursor',
      observed_days: 30,
      gaps: [],
      notes: [],
    });
    const byName = Object.fromEntries(json.namespaces.map((n) => [n.namespace, n]));
    expect(Object.keys(byName)).toEqual(['cart', 'shop']);

    expect(byName.shop!.verdict).toBe('ready');
    expect(byName.shop!.reasons).toEqual([]);
    expect(byName.shop!.days_since_last_new_allowed_edge).toBe(20);
    expect(byName.shop!.days_since_last_new_edge).toBe(3);
    expect(byName.shop!.attention).toEqual([
      'denied egress to payments (9 flows): a policy already drops this traffic; investigate before tightening further (the generated policy never allows a denied-only destination)',
    ]);
    expect(byName.shop!.allowed.map((a) => [a.dst_ns, a.flow_count])).toEqual([
      ['dbaas', '9007199254740993'],
      ['kube-system', '10'],
    ]);
    expect(byName.shop!.denied.map((d) => [d.dst_ns, d.flow_count])).toEqual([['payments', '9']]);

    expect(byName.cart!.verdict).toBe('stabilizing');
    expect(byName.cart!.reasons).toEqual([
      'the allow set last grew 2.0 days before the end of observation; it counts as settled after 7.0 days without a new allowed destination',
    ]);
  });

  it('a recorded gap is reported and subtracted: 10 days minus a 4-day gap is not ready', async () => {
    const { json } = await allowlist(withGap, 'shop');
    expect(json.observation).toMatchObject({ span_days: 10, gap_days: 4, observed_days: 6 });
    expect(json.observation.gaps!.map((g) => g.reason)).toEqual(['aggregator away longer than the window']);
    expect(json.observation.notes).toHaveLength(1);
    expect(json.observation.notes[0]).toMatch(
      /^recorded gap from \S+ to \S+ \(4\.0 days, aggregator away longer than the window\): edges active only then may be missing$/,
    );
    expect(json.namespaces[0]!.verdict).toBe('not-ready');
    expect(json.namespaces[0]!.reasons[0]).toMatch(
      /^observed for 6\.0 days \(10\.0 days minus 4\.0 days of recorded gaps\);/,
    );
    const table = await runCli(['allowlist', 'shop'], { DATABASE_URL: withGap });
    expect(table.stdout).toMatch(
      /Observation: .* 6\.0 days observed \(source: ingest-cursor, 1 recorded gap\(s\)\)/,
    );
    expect(table.stdout).toContain('  note: recorded gap from ');
  });

  it('without an ingest_cursor row: falls back to the edge table and says so', async () => {
    const { json } = await allowlist(original, 'shop');
    expect(json.observation.source).toBe('edge-table');
    expect(json.observation.observed_days).toBe(11.96);
    expect(json.observation.notes[0]).toMatch(
      /^there is no ingest_cursor row \(a database written by the original service\?\): observation is measured from the edge table instead, from its earliest first_seen \(\S+\) to its latest last_seen \(\S+\)$/,
    );
    expect(json.namespaces[0]).toMatchObject({ verdict: 'ready', days_since_last_new_allowed_edge: 10.96 });
  });
});

describe('allowlist output', () => {
  it('matrix: one line per source namespace', async () => {
    const result = await runCli(['allowlist', '--all', '--format', 'matrix'], { DATABASE_URL: thirtyDays });
    expect(result.stdout).toBe(
      [
        'SRC_NS  VERDICT      DENIED  ALLOWED_DST_NS',
        'cart    stabilizing       0  redis,shop',
        'shop    ready             1  dbaas,kube-system',
        '',
      ].join('\n'),
    );
  });

  it('csv: one row per edge, with the verdict, round-trips', async () => {
    const result = await runCli(['allowlist', 'shop', '--format', 'csv'], { DATABASE_URL: thirtyDays });
    const rows = parseCsv(result.stdout);
    expect(rows[0]).toEqual([
      'src_ns',
      'dst_ns',
      'action',
      'first_seen',
      'last_seen',
      'flow_count',
      'verdict',
    ]);
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2], r[5], r[6]])).toEqual([
      ['shop', 'dbaas', 'allow', '9007199254740993', 'ready'],
      ['shop', 'kube-system', 'allow', '10', 'ready'],
      ['shop', 'payments', 'deny', '9', 'ready'],
    ]);
  });

  it('table: evidence per destination, denied edges and attention', async () => {
    const result = await runCli(['allowlist', 'shop'], { DATABASE_URL: thirtyDays });
    expect(result.stdout).toMatch(/^ {2}ALLOWED_DST_NS +FLOW_COUNT +FIRST_SEEN +LAST_SEEN$/m);
    expect(result.stdout).toMatch(/^ {2}dbaas +9007199254740993 +\S+Z +\S+Z$/m);
    expect(result.stdout).toMatch(/^ {2}denied: payments \(9 flows, last seen \S+Z\)$/m);
    expect(result.stdout).toMatch(/^ {2}attention: denied egress to payments/m);
  });

  it('warns on stderr about a namespace the trail has never seen', async () => {
    const { json, stderr } = await allowlist(thirtyDays, 'ghost');
    expect(json.namespaces[0]!.allowed).toEqual([]);
    expect(stderr).toBe(
      'warning: ghost has no egress edges in the trail (a typo, or a namespace that never sent traffic to another namespace?)\n',
    );
  });
});
