/**
 * The newcomer's path from the README: the demo on its embedded database, then the read commands
 * and the digest on the data it kept.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/simulate/topology.js';
import { runCli, startCli, type CliResult } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';

const dataDir = mkdtempSync(join(tmpdir(), 'gea-demo-'));
let demo: CliResult;

/** The edges the reference cluster can produce: both namespaces real, not a self-edge. */
const possible = new Set(
  loadTopology()
    .dependencies.filter((dep) => dep.src !== '-' && dep.dst !== '-' && dep.src !== dep.dst)
    .map((dep) => `${dep.src}>${dep.dst}>${dep.action}`),
);

let whileRunning: CliResult;

beforeAll(async () => {
  const running = startCli(['demo', '--duration', '20s', '--data-dir', dataDir]);
  await running.waitFor(/^\[\d\d:\d\d:\d\d\] \d+ edges/, 'stdout', 60_000);
  whileRunning = await runCli(['edges', '--demo-data-dir', dataDir]);
  demo = await running.exited;
}, 120_000);

describe('npm run demo, then the commands on its data', () => {
  it('shows the reference cluster edges arriving and stops cleanly after --duration', () => {
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(
      /^simulated Goldmane \(reference cluster, mutual TLS\) on 127\.0\.0\.1:\d+$/m,
    );
    const reports = [
      ...demo.stdout.matchAll(
        /^\[\d\d:\d\d:\d\d\] (\d+) edges between (\d+) namespaces, (\d+) flow records, (\d+) denied; (\d+) new$/gm,
      ),
    ];
    expect(reports.length).toBeGreaterThanOrEqual(3);
    const last = reports.at(-1)!;
    // An hour of history backfilled: nearly every possible edge has been active at least once.
    expect(Number(last[1])).toBeGreaterThan(possible.size * 0.9);
    expect(Number(last[1])).toBeLessThanOrEqual(possible.size);
    expect(demo.stdout).toContain('stopped cleanly; every received flow is committed');
  });

  it('edges --demo-data-dir reads the trail it kept: only real, possible edges', async () => {
    const result = await runCli(['edges', '--demo-data-dir', dataDir, '--json', '--limit', '0'], {}, 60_000);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as {
      edges: { src_ns: string; dst_ns: string; action: string; flow_count: string }[];
    };
    expect(parsed.edges.length).toBeGreaterThan(possible.size * 0.9);
    for (const edge of parsed.edges) {
      expect(possible.has(`${edge.src_ns}>${edge.dst_ns}>${edge.action}`), JSON.stringify(edge)).toBe(true);
      expect(BigInt(edge.flow_count)).toBeGreaterThan(0n);
    }
  });

  it('policy and a dry-run digest work on it too', async () => {
    const policy = await runCli(['policy', 'n8n', '--demo-data-dir', dataDir], {}, 60_000);
    expect(policy.code).toBe(0);
    expect(policy.stdout).toContain('kind: NetworkPolicy');
    expect(policy.stdout).toContain('kubernetes.io/metadata.name: dbaas');
    const digest = await runCli(['digest', '--demo-data-dir', dataDir], { DRY_RUN: '1' }, 60_000);
    expect(digest.code).toBe(0);
    const payloads = digest.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { text: string });
    expect(payloads.length).toBeGreaterThanOrEqual(1);
    expect(payloads[0]!.text).toMatch(/^\d+ new east-west edges since /);
  });

  it('refuses to open the demo folder while the demo runs (its database serves one process)', () => {
    expect(whileRunning.code).toBe(2);
    expect(whileRunning.stderr).toMatch(
      /^error \[USAGE\]: --demo-data-dir: the demo \(pid \d+\) is still running on .*; its embedded database serves one process: stop the demo first/,
    );
  });

  it('refuses a folder the demo never filled, and DATABASE_URL with it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gea-no-demo-'));
    expect(await runCli(['edges', '--demo-data-dir', empty])).toMatchObject({
      code: 2,
      stderr: `error [USAGE]: --demo-data-dir: no demo database in ${join(empty, 'pgdata')}; run the demo first\n`,
    });
    const both = await runCli(['edges', '--demo-data-dir', dataDir], {
      DATABASE_URL: 'postgres://x@127.0.0.1/db',
    });
    expect(both.code).toBe(3);
    expect(both.stderr).toContain('--demo-data-dir and DATABASE_URL are both set; use one');
  });

  it('writes to a real server instead when DATABASE_URL is set', async () => {
    const { url } = await createTestDatabase('demo_server');
    const run = await runCli(
      ['demo', '--duration', '8s', '--data-dir', mkdtempSync(join(tmpdir(), 'gea-demo-url-'))],
      { DATABASE_URL: url },
      60_000,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('embedded PostgreSQL');
    const pool = new pg.Pool({ connectionString: url });
    const { rows } = await pool.query<{ edges: string }>('SELECT count(*) AS edges FROM edge');
    await pool.end();
    expect(Number(rows[0]!.edges)).toBeGreaterThan(possible.size * 0.5);
  });
});
