/**
 * `edges` as a subprocess against a seeded database: every filter and their combinations give
 * the exact rows; --limit reports a cut; bad namespaces and injection attempts are refused before
 * any query (and the table is intact); every format parses back to the same rows.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../support/csv-parse.js';
import { BIN, runCli } from '../support/cli.js';
import { parseDot, parseMermaidFlowchart } from '../support/graph-grammar.js';
import { edge, seedCursor, seedEdges, trailDatabase } from '../support/trail-seed.js';

let db: { url: string; pool: pg.Pool };
let env: Record<string, string>;

interface EdgeJson {
  src_ns: string;
  dst_ns: string;
  action: string;
  first_seen: string | null;
  last_seen: string | null;
  flow_count: string;
}
interface EdgesJson {
  edges: EdgeJson[];
  count: number;
  total: number;
  truncated: boolean;
  limit: number | null;
}

beforeAll(async () => {
  db = await trailDatabase('e2e_edges');
  await seedEdges(db.pool, [
    edge('cart', 'shop', 'allow', 100, '2 hours', '5 minutes'),
    edge('shop', '-', 'allow', 7, '15 days', '6 hours'),
    edge('shop', 'dbaas', 'allow', '9007199254740993', '20 days', '1 hour'),
    edge('shop', 'kube-system', 'allow', 10, '20 days', '2 hours'),
    edge('shop', 'payments', 'deny', 9, '3 days', '3 hours'),
    edge('shop', 'redis', 'allow', 5, '15 days', '4 hours'),
    edge('shop', 'redis', 'deny', 2, '15 days', '5 hours'),
    edge('web', 'cart', 'pass', 3, '40 days', '30 days'),
    edge('web', 'shop', 'unspecified', 1, '10 hours', '9 hours'),
  ]);
  await seedCursor(db.pool, '30 days');
  env = { DATABASE_URL: db.url };
});

afterAll(async () => {
  await db.pool.end();
});

async function edgesJson(...args: string[]): Promise<{ json: EdgesJson; stderr: string }> {
  const result = await runCli(['edges', '--json', ...args], env);
  expect(result.stderr.includes('error ['), result.stderr).toBe(false);
  expect(result.code).toBe(0);
  return { json: JSON.parse(result.stdout) as EdgesJson, stderr: result.stderr };
}

async function keys(...args: string[]): Promise<string[]> {
  const { json } = await edgesJson('--limit', '0', ...args);
  return json.edges.map((e) => `${e.src_ns}>${e.dst_ns}:${e.action}`);
}

describe('edges filters', () => {
  it('no filter: the whole set by src, dst, action', async () => {
    expect(await keys()).toEqual([
      'cart>shop:allow',
      'shop>-:allow',
      'shop>dbaas:allow',
      'shop>kube-system:allow',
      'shop>payments:deny',
      'shop>redis:allow',
      'shop>redis:deny',
      'web>cart:pass',
      'web>shop:unspecified',
    ]);
  });

  it('--ns, --src, --dst (and - for off-cluster)', async () => {
    expect(await keys('--ns', 'cart')).toEqual(['cart>shop:allow', 'web>cart:pass']);
    expect(await keys('--src', 'web')).toEqual(['web>cart:pass', 'web>shop:unspecified']);
    expect(await keys('--dst', 'shop')).toEqual(['cart>shop:allow', 'web>shop:unspecified']);
    expect(await keys('--dst', '-')).toEqual(['shop>-:allow']);
  });

  it('--action, --denied, --new-since, --seen-since', async () => {
    expect(await keys('--action', 'pass')).toEqual(['web>cart:pass']);
    expect(await keys('--denied')).toEqual(['shop>payments:deny', 'shop>redis:deny']);
    expect(await keys('--new-since', '24h')).toEqual(['cart>shop:allow', 'web>shop:unspecified']);
    expect(await keys('--new-since', '4d', '--sort', 'first-seen')).toEqual([
      'cart>shop:allow',
      'web>shop:unspecified',
      'shop>payments:deny',
    ]);
    expect(await keys('--seen-since', '150m')).toEqual([
      'cart>shop:allow',
      'shop>dbaas:allow',
      'shop>kube-system:allow',
    ]);
    expect(await keys('--new-since', '2999-01-01')).toEqual([]);
    expect(await keys('--seen-since', '2000-01-01T00:00:00Z', '--src', 'web')).toEqual([
      'web>cart:pass',
      'web>shop:unspecified',
    ]);
  });

  it('combinations are ANDed', async () => {
    expect(await keys('--src', 'shop', '--denied', '--seen-since', '4h')).toEqual(['shop>payments:deny']);
    expect(await keys('--ns', 'shop', '--action', 'allow', '--new-since', '1d')).toEqual(['cart>shop:allow']);
    expect(await keys('--src', 'shop', '--dst', 'redis')).toEqual(['shop>redis:allow', 'shop>redis:deny']);
    expect(await keys('--ns', 'web', '--dst', 'cart', '--action', 'pass')).toEqual(['web>cart:pass']);
    expect(await keys('--src', 'cart', '--denied')).toEqual([]);
  });

  it('--sort orders in SQL, counts as numbers', async () => {
    expect(await keys('--src', 'shop', '--sort', 'flow-count')).toEqual([
      'shop>dbaas:allow',
      'shop>kube-system:allow',
      'shop>payments:deny',
      'shop>-:allow',
      'shop>redis:allow',
      'shop>redis:deny',
    ]);
    expect(await keys('--dst', 'shop', '--sort', 'last-seen')).toEqual([
      'cart>shop:allow',
      'web>shop:unspecified',
    ]);
    expect(await keys('--ns', 'cart', '--sort', 'dst')).toEqual(['web>cart:pass', 'cart>shop:allow']);
  });

  it('--peers-of: distinct peers, with the other filters applied to the edges first', async () => {
    const peers = async (...args: string[]): Promise<unknown[]> => {
      const result = await runCli(['edges', '--peers-of', 'shop', '--json', ...args], env);
      expect(result.code).toBe(0);
      return (
        JSON.parse(result.stdout) as { peers: { peer: string; direction: string; flow_count: string }[] }
      ).peers.map((p) => [p.peer, p.direction, p.flow_count]);
    };
    expect(await peers()).toEqual([
      ['-', 'out', '7'],
      ['cart', 'in', '100'],
      ['dbaas', 'out', '9007199254740993'],
      ['kube-system', 'out', '10'],
      ['payments', 'out', '9'],
      ['redis', 'out', '7'],
      ['web', 'in', '1'],
    ]);
    expect(await peers('--denied')).toEqual([
      ['payments', 'out', '9'],
      ['redis', 'out', '2'],
    ]);
    expect(await peers('--new-since', '1d', '--sort', 'flow-count')).toEqual([
      ['cart', 'in', '100'],
      ['web', 'in', '1'],
    ]);
  });
});

describe('edges --limit', () => {
  it('defaults to 200 and says nothing when nothing was cut', async () => {
    const { json, stderr } = await edgesJson();
    expect(json).toMatchObject({ count: 9, total: 9, truncated: false, limit: 200 });
    expect(stderr).toBe('');
  });

  it('reports a cut on stderr and in JSON', async () => {
    const { json, stderr } = await edgesJson('--limit', '3', '--sort', 'flow-count');
    expect(json.edges.map((e) => e.flow_count)).toEqual(['9007199254740993', '100', '10']);
    expect(json).toMatchObject({ count: 3, total: 9, truncated: true, limit: 3 });
    expect(stderr).toBe('showing 3 of 9 edges (--limit 3); use --limit 0 for all, or narrow the filters\n');
  });

  it('reports a cut of peers too, and an empty answer', async () => {
    const cut = await runCli(['edges', '--peers-of', 'shop', '--limit', '2'], env);
    expect(cut.stderr).toBe('showing 2 of 7 peers (--limit 2); use --limit 0 for all\n');
    const none = await runCli(['edges', '--src', 'nobody'], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('SRC_NS  DST_NS  ACTION  FLOW_COUNT  FIRST_SEEN  LAST_SEEN\n');
    expect(none.stderr).toBe('no edges match\n');
  });
});

describe('edges refuses bad input before any query', () => {
  it.each([
    ['--src', "x'; DROP TABLE edge; --"],
    ['--dst', 'Shop'],
    ['--ns', 'a b'],
    ['--peers-of', "shop' OR '1'='1"],
    ['--ns', 'a'.repeat(64)],
  ])('%s %j: USAGE, exit 2, table intact', async (flag, value) => {
    const result = await runCli(['edges', flag, value], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error [USAGE]: ${flag}: ${JSON.stringify(value)} is not a namespace (a Kubernetes namespace name is lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit; '-' selects off-cluster endpoints)\n`,
    );
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM edge');
    expect(rows[0]!.n).toBe('9');
  });

  it('without DATABASE_URL: CONFIG_INVALID, exit 3; unreachable database: DATABASE_UNAVAILABLE, exit 5', async () => {
    const noUrl = await runCli(['edges'], {});
    expect(noUrl.code).toBe(3);
    expect(noUrl.stderr).toMatch(
      /^error \[CONFIG_INVALID\]: invalid configuration \(1 problem\):\n {2}- DATABASE_URL is not set/,
    );
    const down = await runCli(['edges'], { DATABASE_URL: 'postgres://nobody:secret-pw@127.0.0.1:1/x' });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^error \[DATABASE_UNAVAILABLE\]: cannot read the trail: /);
    expect(down.stderr).not.toContain('secret-pw');
  });
});

describe('edges formats', () => {
  let all: EdgeJson[];
  beforeAll(async () => {
    all = (await edgesJson('--limit', '0')).json.edges;
  });

  it('json keeps 9007199254740993 exact', () => {
    expect(all.find((e) => e.dst_ns === 'dbaas')!.flow_count).toBe('9007199254740993');
  });

  it('csv round-trips to the same rows as json', async () => {
    const result = await runCli(['edges', '--format', 'csv', '--limit', '0'], env);
    expect(result.code).toBe(0);
    const [header, ...rows] = parseCsv(result.stdout);
    expect(header).toEqual(['src_ns', 'dst_ns', 'action', 'first_seen', 'last_seen', 'flow_count']);
    expect(rows).toEqual(
      all.map((e) => [e.src_ns, e.dst_ns, e.action, e.first_seen, e.last_seen, e.flow_count]),
    );
  });

  it('dot is a valid digraph of the same edges', async () => {
    const result = await runCli(['edges', '--format', 'dot', '--limit', '0'], env);
    const graph = parseDot(result.stdout);
    expect(graph.directed).toBe(true);
    expect(graph.edges.map((e) => [e.from, e.to, e.attrs.label])).toEqual(
      all.map((e) => [e.src_ns, e.dst_ns, `${e.action} ${e.flow_count}`]),
    );
  });

  it('mermaid is a valid flowchart of the same edges', async () => {
    const result = await runCli(['edges', '--format', 'mermaid', '--limit', '0'], env);
    const chart = parseMermaidFlowchart(result.stdout);
    const name = (id: string): string => chart.nodes.get(id)!;
    expect(chart.edges.map((e) => [name(e.from), name(e.to), e.label])).toEqual(
      all.map((e) => [e.src_ns, e.dst_ns === '-' ? 'off-cluster' : e.dst_ns, `${e.action} ${e.flow_count}`]),
    );
  });

  // util-linux `script` runs the CLI with a pseudo-terminal as stdout.
  it.skipIf(!existsSync('/usr/bin/script'))(
    'table: byte for byte the same on a terminal as in a pipe',
    async () => {
      const args = ['edges', '--src', 'shop', '--sort', 'flow-count'];
      const piped = await runCli(args, env);
      const tty = await promisify(execFile)(
        '/usr/bin/script',
        ['-qec', [process.execPath, BIN, ...args].join(' '), '/dev/null'],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: db.url } },
      );
      expect(piped.stdout.split('\n')).toHaveLength(8);
      expect(tty.stdout.replaceAll('\r\n', '\n')).toBe(piped.stdout);
    },
  );

  it('table: columns aligned, counts right-aligned', async () => {
    const result = await runCli(['edges', '--src', 'shop', '--dst', 'dbaas'], env);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('SRC_NS  DST_NS  ACTION        FLOW_COUNT  FIRST_SEEN            LAST_SEEN');
    expect(lines[1]).toMatch(
      /^shop {4}dbaas {3}allow {3}9007199254740993 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}\d{4}-/,
    );
    expect(lines).toHaveLength(3);
  });
});
