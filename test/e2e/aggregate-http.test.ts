/**
 * aggregate's /metrics, /healthz and /readyz as an operator's Prometheus and kubelet see them,
 * with the aggregator as a subprocess, a simulator, and a real database.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../../src/simulate/certificates.js';
import type { FlowSpec } from '../../src/simulate/flows.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../src/simulate/simulator.js';
import { testCertificates } from '../support/certificates.js';
import { startCli, type RunningCli } from '../support/cli.js';
import { ADMIN_URL, createTestDatabase } from '../support/database.js';
import { parsePrometheusText, type Sample } from '../support/prometheus.js';
import { aggregateEnv, edgeTable } from '../support/trail.js';

const PASSWORD = 'Sup3r-secret-db-pw';
const T0 = floorToBucket(Date.now() / 1000) - 900;
/** Not in the ring's history (ahead of it, within the clock tolerance): only pushBucket() sends it. */
const LIVE = floorToBucket(Date.now() / 1000) + 300;
const flows: (FlowSpec & { start: number })[] = [
  { start: T0, sourceNamespace: 'shop', destNamespace: 'db', sourceName: 'api-*' },
  { start: T0, sourceNamespace: 'shop', destNamespace: 'db', sourceName: 'api-*' }, // duplicate
  { start: T0, sourceNamespace: 'shop', destNamespace: 'db', sourceName: 'worker-*' },
  { start: T0, sourceNamespace: 'web', destNamespace: 'shop', action: 'deny' },
  { start: T0, sourceNamespace: 'shop', destNamespace: 'shop' }, // self-edge
  { start: T0, sourceNamespace: '-', destNamespace: 'shop', sourceName: 'pub', sourceType: 'Network' },
  { start: T0, sourceNamespace: 'shop', destNamespace: '', destName: 'pvt', destType: 'Network' },
  { start: T0, sourceNamespace: 'Shop', destNamespace: 'db' }, // invalid
  { start: T0 + 15, sourceNamespace: 'shop', destNamespace: 'db', sourceName: 'api-*' },
  { start: LIVE, sourceNamespace: 'late', destNamespace: 'db' },
];

let certs: CertificateSet;
let database: { name: string; url: string };
let pool: pg.Pool;
let admin: pg.Pool;
let simulator: Simulator;
let port: number;
let cli: RunningCli;
let httpPort: number;

function testPool(): pg.Pool {
  const created = new pg.Pool({ connectionString: database.url, max: 2 });
  created.on('error', () => undefined); // this test terminates its connections on purpose
  return created;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: found } = server.address() as { port: number };
      server.close(() => resolve(found));
    });
  });
}

async function startSimulator(): Promise<void> {
  simulator = await Simulator.start({
    port,
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows: scriptedFlows(flows),
    rollover: 'manual',
  });
  port = simulator.port;
}

async function get(path: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(`http://127.0.0.1:${httpPort}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

async function metrics(): Promise<Sample[]> {
  const { status, body } = await get('/metrics');
  expect(status).toBe(200);
  return parsePrometheusText(body);
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

beforeAll(async () => {
  certs = await testCertificates();
  database = await createTestDatabase('e2e_http');
  pool = testPool();
  admin = new pg.Pool({ connectionString: ADMIN_URL, max: 1 });
  port = 0;
  await startSimulator();
  httpPort = await freePort();
  // Trust authentication accepts any password: the URL carries one so we can look for leaks.
  const url = new URL(database.url);
  url.username = 'postgres';
  url.password = PASSWORD;
  cli = startCli(['aggregate'], aggregateEnv(certs, port, url.toString(), { HTTP_PORT: String(httpPort) }));
  await cli.waitFor(/serving \/metrics/, 'stderr');
});

afterAll(async () => {
  cli.child.kill('SIGKILL');
  await simulator.stop();
  await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
  await pool.end();
  await admin.end();
});

describe('aggregate over HTTP', () => {
  it('/healthz says the process is alive', async () => {
    expect(await get('/healthz')).toEqual({
      status: 200,
      body: '{"status":"alive"}\n',
      type: 'application/json',
    });
  });

  it('/metrics is Prometheus text whose counters follow the flows of each kind', async () => {
    await expect.poll(() => edgeTable(pool), { timeout: 15_000 }).toHaveLength(2);
    await expect
      .poll(async () => value(await metrics(), 'goldmane_edge_aggregator_flows_counted_total'), {
        timeout: 5_000,
      })
      .toBe(4);
    const samples = await metrics();
    const expected: [string, Record<string, string>, number][] = [
      ['goldmane_edge_aggregator_flows_received_total', {}, 9],
      ['goldmane_edge_aggregator_flows_duplicate_total', {}, 1],
      ['goldmane_edge_aggregator_flows_dropped_total', { reason: 'self_edge' }, 1],
      ['goldmane_edge_aggregator_flows_dropped_total', { reason: 'no_namespace' }, 2],
      ['goldmane_edge_aggregator_flows_dropped_total', { reason: 'invalid_namespace' }, 1],
      ['goldmane_edge_aggregator_flows_dropped_total', { reason: 'invalid_time' }, 0],
      ['goldmane_edge_aggregator_flows_dropped_total', { reason: 'malformed' }, 0],
      ['goldmane_edge_aggregator_flows_counted_total', {}, 4],
      ['goldmane_edge_aggregator_new_edges_total', {}, 2],
      ['goldmane_edge_aggregator_stream_starts_total', {}, 1],
      ['goldmane_edge_aggregator_stream_connected', {}, 1],
      ['goldmane_edge_aggregator_active', {}, 1],
      ['goldmane_edge_aggregator_newest_flow_timestamp_seconds', {}, T0 + 30],
      ['goldmane_edge_aggregator_committed_frontier_timestamp_seconds', {}, T0 + 30],
      ['goldmane_edge_aggregator_database_errors_total', {}, 0],
      ['goldmane_edge_aggregator_observation_gaps_total', {}, 0],
    ];
    for (const [name, labels, expectedValue] of expected)
      expect([name, labels, value(samples, name, labels)]).toEqual([name, labels, expectedValue]);
    expect(value(samples, 'goldmane_edge_aggregator_edges_written_total')).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'goldmane_edge_aggregator_flush_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'goldmane_edge_aggregator_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('/readyz is ready while connected, unready (saying why) when Goldmane is gone, ready again when it is back', async () => {
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      ready: true,
      role: 'active',
      checks: {
        database: { ok: true, detail: 'reachable' },
        stream: { ok: true, detail: 'connected to Goldmane' },
        commit: { ok: true, detail: expect.stringMatching(/^last commit \d+s ago$/) },
      },
    });
    await simulator.stop();
    await expect
      .poll(async () => (await get('/readyz')).status, { timeout: 30_000, interval: 1000 })
      .toBe(503);
    const unready = JSON.parse((await get('/readyz')).body) as {
      checks: { stream: { ok: boolean; detail: string } };
    };
    expect(unready.checks.stream).toEqual({
      ok: false,
      detail: expect.stringMatching(/^disconnected from Goldmane for \d+s; last call ended UNAVAILABLE: /),
    });
    await startSimulator();
    await expect
      .poll(async () => (await get('/readyz')).status, { timeout: 40_000, interval: 1000 })
      .toBe(200);
  });

  it('/readyz is unready, saying why, while the database refuses connections; nothing is lost', async () => {
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [
      database.name,
    ]);
    await pool.end();
    // A bucket arrives while the database is away: it waits in memory, and is written later.
    simulator.pushBucket(LIVE);
    await cli.waitFor(/writing edges failed; the batch is kept and retried/, 'stderr', 15_000);
    await expect
      .poll(async () => (await get('/readyz')).status, { timeout: 15_000, interval: 500 })
      .toBe(503);
    const report = JSON.parse((await get('/readyz')).body) as {
      checks: { database: { ok: boolean; detail: string } };
    };
    expect(report.checks.database).toEqual({
      ok: false,
      detail: `unreachable: database "${database.name}" is not currently accepting connections`,
    });
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
    pool = testPool();
    await expect
      .poll(async () => (await get('/readyz')).status, { timeout: 40_000, interval: 1000 })
      .toBe(200);
    await expect
      .poll(async () => (await edgeTable(pool)).find((row) => row[0] === 'late'), { timeout: 40_000 })
      .toEqual([
        'late',
        'db',
        'allow',
        new Date(LIVE * 1000).toISOString(),
        new Date((LIVE + 15) * 1000).toISOString(),
        '1',
      ]);
  });

  it('answers 404 elsewhere, and never logs the database password on any of these paths', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect(cli.child.exitCode).toBeNull();
    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('writing edges failed; the batch is kept and retried');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });
});
