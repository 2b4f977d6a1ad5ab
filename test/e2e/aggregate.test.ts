/**
 * The aggregate command as a real subprocess: simulator → mutual TLS → aggregate → PostgreSQL,
 * through crashes and restarts of every part, with the exact rows expected.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../../src/simulate/certificates.js';
import type { FlowSpec } from '../../src/simulate/flows.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows, type SimulatorOptions } from '../../src/simulate/simulator.js';
import { testCertificates } from '../support/certificates.js';
import { logLines, startCli, type RunningCli } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';
import { aggregateEnv, edgeTable, iso, type EdgeTuple } from '../support/trail.js';

type ScriptedFlow = FlowSpec & { start: number };

let certs: CertificateSet;
const T0 = floorToBucket(Date.now() / 1000) - 1200;

beforeAll(async () => {
  certs = await testCertificates();
});

const running: RunningCli[] = [];
const simulators: Simulator[] = [];
afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await Promise.all(simulators.map((simulator) => simulator.stop()));
});

async function database(label: string): Promise<{ url: string; pool: pg.Pool }> {
  const { url } = await createTestDatabase(label);
  return { url, pool: new pg.Pool({ connectionString: url, max: 2 }) };
}

async function simulator(flows: ScriptedFlow[], options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const started = await Simulator.start({
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows: scriptedFlows(flows),
    rollover: 'manual',
    ...options,
  });
  simulators.push(started);
  return started;
}

function aggregate(port: number, url: string, extra: Record<string, string> = {}): RunningCli {
  const cli = startCli(['aggregate'], aggregateEnv(certs, port, url, extra));
  running.push(cli);
  return cli;
}

/** A load big enough to interrupt: 40 buckets × 50 records, 5 edges of 400 records each. */
function load(): { flows: ScriptedFlow[]; expected: EdgeTuple[] } {
  const flows: ScriptedFlow[] = [];
  for (let bucket = 0; bucket < 40; bucket++) {
    for (let pod = 0; pod < 50; pod++) {
      flows.push({
        start: T0 + 15 * bucket,
        sourceNamespace: `ns-${pod % 5}`,
        destNamespace: 'db',
        sourceName: `pod-${pod}-*`,
        destPort: 5432,
      });
    }
  }
  const expected: EdgeTuple[] = [0, 1, 2, 3, 4].map((n) => [
    `ns-${n}`,
    'db',
    'allow',
    iso(T0),
    iso(T0 + 600),
    '400',
  ]);
  return { flows, expected };
}

describe('aggregate end to end over mutual TLS', () => {
  it('turns a scripted set of flows into exactly the expected rows', async () => {
    const { url, pool } = await database('e2e_scripted');
    const t = T0;
    // The simulator's duplicates knob re-sends the newest flushed bucket (R - 30) ahead of the
    // backfill, as Goldmane's stream-start race does. Start early in a bucket so that R holds.
    await new Promise((resolve) =>
      setTimeout(resolve, ((15 - ((Date.now() / 1000) % 15) + 0.2) % 15) * 1000),
    );
    const newest = floorToBucket(Date.now() / 1000) - 30;
    const flows: ScriptedFlow[] = [
      // shop → db: two keys in one bucket, one of them again in the next bucket, and a Dst report.
      {
        start: t,
        sourceNamespace: 'shop',
        destNamespace: 'db',
        sourceName: 'api-*',
        destName: 'pg-*',
        destPort: 5432,
      },
      {
        start: t,
        sourceNamespace: 'shop',
        destNamespace: 'db',
        sourceName: 'worker-*',
        destName: 'pg-*',
        destPort: 5432,
      },
      {
        start: t,
        sourceNamespace: 'shop',
        destNamespace: 'db',
        sourceName: 'api-*',
        destName: 'pg-*',
        destPort: 5432,
        reporter: 'dst',
      },
      {
        start: t + 15,
        sourceNamespace: 'shop',
        destNamespace: 'db',
        sourceName: 'api-*',
        destName: 'pg-*',
        destPort: 5432,
      },
      // Every action, including one this client's proto does not know.
      { start: t, sourceNamespace: 'web', destNamespace: 'shop', action: 'deny' },
      { start: t + 15, sourceNamespace: 'web', destNamespace: 'shop', action: 'pass' },
      { start: t + 30, sourceNamespace: 'web', destNamespace: 'shop', action: 'unspecified' },
      { start: t + 45, sourceNamespace: 'web', destNamespace: 'shop', action: 7 },
      // Dropped: self-edge, '-' and '' namespaces, invalid names.
      { start: t, sourceNamespace: 'shop', destNamespace: 'shop' },
      { start: t, sourceNamespace: '-', destNamespace: 'shop', sourceName: 'pub', sourceType: 'Network' },
      { start: t, sourceNamespace: 'shop', destNamespace: '', destName: 'pvt', destType: 'Network' },
      {
        start: t,
        sourceNamespace: '-',
        destNamespace: 'kube-system',
        sourceName: 'node-1',
        sourceType: 'HostEndpoint',
      },
      { start: t, sourceNamespace: 'Shop', destNamespace: 'db' },
      { start: t, sourceNamespace: 'shop\u0000', destNamespace: 'db' },
      { start: t, sourceNamespace: 'x'.repeat(64), destNamespace: 'db' },
      { start: newest, sourceNamespace: 'late', destNamespace: 'db' },
      { start: newest, sourceNamespace: 'late', destNamespace: 'db', reporter: 'dst' },
      // An exact copy of a record in the same bucket.
      {
        start: t,
        sourceNamespace: 'shop',
        destNamespace: 'db',
        sourceName: 'worker-*',
        destName: 'pg-*',
        destPort: 5432,
      },
    ];
    // Duplicated delivery too: the newest bucket goes out before the backfill and again in it.
    const sim = await simulator(flows, { duplicates: true });
    const cli = aggregate(sim.port, url);
    await expect
      .poll(() => edgeTable(pool), { timeout: 20_000 })
      .toEqual([
        ['late', 'db', 'allow', iso(newest), iso(newest + 15), '2'],
        ['shop', 'db', 'allow', iso(t), iso(t + 30), '4'],
        ['web', 'shop', 'deny', iso(t), iso(t + 15), '1'],
        ['web', 'shop', 'pass', iso(t + 15), iso(t + 30), '1'],
        ['web', 'shop', 'unspecified', iso(t + 30), iso(t + 60), '2'],
      ]);
    // The race really happened: the newest bucket went out twice.
    expect(sim.getStats().messagesSent).toBe(flows.length + 2);
    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('"level":"error"');
    await pool.end();
  });

  it('a kill -9 of the simulator mid-stream and a restart with a new ring leave exact rows', async () => {
    const { url, pool } = await database('e2e_sim_kill');
    const { flows, expected } = load();
    const dir = mkdtempSync(join(tmpdir(), 'gea-sim-'));
    const script = join(dir, 'script.json');
    writeFileSync(script, JSON.stringify({ flows }));
    const args = ['simulate', '--script', script, '--tls-dir', certs.dir, '--pace', '2ms'];
    const first = startCli([...args, '--listen', '127.0.0.1:0']);
    running.push(first);
    const port = Number(/:(\d+) /.exec(await first.waitFor(/^listening on/))![1]);
    const cli = aggregate(port, url);
    await expect.poll(async () => (await edgeTable(pool)).length, { timeout: 20_000 }).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    await first.exited;
    // Goldmane stays down for 5 s (F3, variant A): calls fail fast meanwhile and back off.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const second = startCli([...args, '--listen', `127.0.0.1:${port}`, '--pace', '0ms']);
    running.push(second);
    await second.waitFor(/^listening on/);
    await expect.poll(() => edgeTable(pool), { timeout: 30_000 }).toEqual(expected);
    const ends = logLines(cli.stderr()).filter(
      (line) => line.msg === 'flow stream to Goldmane failed; retrying',
    );
    expect(ends[0]).toMatchObject({ level: 'error', code: 'UNAVAILABLE' });
    cli.child.kill('SIGTERM');
    second.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    expect((await second.exited).code).toBe(0);
    await pool.end();
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} to the aggregator mid-stream and a restart leave exact rows`, async () => {
      const { url, pool } = await database(`e2e_agg_${signal}`);
      const { flows, expected } = load();
      const sim = await simulator(flows, { paceMs: 2 });
      const first = aggregate(sim.port, url);
      await expect.poll(async () => (await edgeTable(pool)).length, { timeout: 20_000 }).toBeGreaterThan(0);
      const killedAt = Date.now();
      first.child.kill(signal);
      const stopped = await first.exited;
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      if (signal === 'SIGTERM') {
        expect(stopped.code).toBe(0);
        expect(logLines(stopped.stderr).at(-1)).toMatchObject({
          msg: 'stopped; everything received is committed',
        });
      }
      const before = await edgeTable(pool);
      expect(before).not.toEqual(expected); // it really was interrupted
      const second = aggregate(sim.port, url);
      await expect.poll(() => edgeTable(pool), { timeout: 30_000 }).toEqual(expected);
      second.child.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
      await pool.end();
    });
  }

  it('keeps running and stays exact while PostgreSQL terminates its connections', async () => {
    const { url, pool } = await database('e2e_pg_terminate');
    const { flows, expected } = load();
    const sim = await simulator(flows, { paceMs: 2 });
    const cli = aggregate(sim.port, url);
    await expect.poll(async () => (await edgeTable(pool)).length, { timeout: 20_000 }).toBeGreaterThan(0);
    let terminated = 0;
    for (let i = 0; i < 12; i++) {
      const { rowCount } = await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'goldmane-edge-aggregator' AND datname = current_database()`,
      );
      terminated += rowCount ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(terminated).toBeGreaterThan(0);
    await expect.poll(() => edgeTable(pool), { timeout: 40_000 }).toEqual(expected);
    expect(cli.child.exitCode).toBeNull();
    const warnings = logLines(cli.stderr()).filter((line) => line.level === 'warn');
    expect(
      warnings.some((line) =>
        /terminating connection due to administrator command|Connection terminated/.test(
          JSON.stringify(line),
        ),
      ),
    ).toBe(true);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    await pool.end();
  });

  it('two aggregators started at once on a fresh database: one schema, one owner, no error', async () => {
    const { url, pool } = await database('e2e_two_at_once');
    const { flows, expected } = load();
    const sim = await simulator(flows);
    const a = aggregate(sim.port, url, { AGGREGATOR_INSTANCE: 'pod-a' });
    const b = aggregate(sim.port, url, { AGGREGATOR_INSTANCE: 'pod-b' });
    await expect.poll(() => edgeTable(pool), { timeout: 30_000 }).toEqual(expected);
    const migrations = await pool.query<{ version: number }>(
      'SELECT version FROM schema_migration ORDER BY version',
    );
    expect(new Set(migrations.rows.map((row) => row.version)).size).toBe(migrations.rows.length);
    const owners = [a, b].filter((cli) =>
      logLines(cli.stderr()).some((line) => line.msg === 'took over the ingest cursor'),
    );
    const standbys = [a, b].filter((cli) =>
      logLines(cli.stderr()).some(
        (line) => line.msg === 'another aggregator owns the ingest cursor; standing by',
      ),
    );
    expect([owners.length, standbys.length]).toEqual([1, 1]);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    for (const cli of [a, b]) {
      const result = await cli.exited;
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain('"level":"error"');
    }
    await pool.end();
  });

  it('F1: a client certificate Goldmane does not trust: logged with details, retried, no rows, still up', async () => {
    const { url, pool } = await database('e2e_f1');
    const sim = await simulator(load().flows);
    const { createCa, issueCertificate } = await import('../../src/simulate/certificates.js');
    const foreignCa = await createCa(join(certs.dir, 'foreign-e2e'), 'foreign');
    const stranger = await issueCertificate(foreignCa, join(certs.dir, 'foreign-e2e'), 'stranger', {
      commonName: 'x',
      usages: ['clientAuth'],
    });
    const cli = aggregate(sim.port, url, { TLS_CERT_PATH: stranger.cert, TLS_KEY_PATH: stranger.key });
    await expect
      .poll(
        () =>
          logLines(cli.stderr()).filter((line) => line.msg === 'flow stream to Goldmane failed; retrying')
            .length,
        { timeout: 15_000 },
      )
      .toBeGreaterThanOrEqual(2);
    const failure = logLines(cli.stderr()).find(
      (line) => line.msg === 'flow stream to Goldmane failed; retrying',
    );
    expect(failure).toMatchObject({
      level: 'error',
      code: 'UNAVAILABLE',
      details: expect.stringMatching(/^No connection established/),
    });
    expect(cli.child.exitCode).toBeNull();
    expect(await edgeTable(pool)).toEqual([]);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    await pool.end();
  });
});

describe('aggregate after a long absence, and with off-cluster edges kept', () => {
  it('records an observation gap when it was away longer than Goldmane keeps flows, then carries on', async () => {
    const { url, pool } = await database('e2e_gap');
    const now = floorToBucket(Date.now() / 1000);
    const sim = await simulator([{ start: now - 600, sourceNamespace: 'shop', destNamespace: 'db' }]);
    // The state a trail would have after being away for three hours: last connected 3 h ago.
    const migrate = startCli(['migrate'], { DATABASE_URL: url });
    expect((await migrate.exited).code).toBe(0);
    await pool.query(
      `INSERT INTO ingest_cursor (id, writer_id, batch_seq, resume_from, observed_until, observing_since)
       VALUES (1, NULL, 0, to_timestamp($1), to_timestamp($2), to_timestamp($3))`,
      [now - 3 * 3600, now - 3 * 3600 - 20, now - 5 * 3600],
    );
    const cli = aggregate(sim.port, url);
    await expect
      .poll(() => edgeTable(pool), { timeout: 20_000 })
      .toEqual([['shop', 'db', 'allow', iso(now - 600), iso(now - 585), '1']]);
    const { rows } = await pool.query<{ gap_from: Date; gap_to: Date; reason: string }>(
      'SELECT gap_from, gap_to, reason FROM observation_gap',
    );
    expect(rows).toHaveLength(1);
    // From the resume point (the last connection was before it) to the start of Goldmane's window.
    expect(rows[0]!.gap_from).toEqual(new Date((now - 3 * 3600) * 1000));
    expect(Math.abs(rows[0]!.gap_to.getTime() / 1000 - (Date.now() / 1000 - 3540))).toBeLessThan(30);
    expect(rows[0]!.reason).toBe('aggregator away longer than Goldmane keeps flows');
    expect(
      logLines(cli.stderr()).find(
        (line) => line.level === 'warn' && String(line.msg).startsWith('observation gap'),
      ),
    ).toMatchObject({
      from: new Date((now - 3 * 3600) * 1000).toISOString(),
    });
    expect(sim.getStats().requests).toEqual([-3540]);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    await pool.end();
  });

  it("keeps flows to or from endpoints without a namespace as edges to or from '-' when asked", async () => {
    const { url, pool } = await database('e2e_off_cluster');
    const t = T0;
    const sim = await simulator([
      {
        start: t,
        sourceNamespace: '-',
        destNamespace: 'traefik',
        sourceName: 'pub',
        sourceType: 'Network',
        reporter: 'dst',
      },
      {
        start: t,
        sourceNamespace: 'monitoring',
        destNamespace: '-',
        destName: 'k8s-node1',
        destType: 'HostEndpoint',
      },
      { start: t, sourceNamespace: '-', destNamespace: '', sourceName: 'pvt', sourceType: 'Network' },
      { start: t, sourceNamespace: 'shop', destNamespace: 'db' },
    ]);
    const cli = aggregate(sim.port, url, { INCLUDE_OFF_CLUSTER: 'true' });
    await expect
      .poll(() => edgeTable(pool), { timeout: 20_000 })
      .toEqual([
        ['-', 'traefik', 'allow', iso(t), iso(t + 15), '1'],
        ['monitoring', '-', 'allow', iso(t), iso(t + 15), '1'],
        ['shop', 'db', 'allow', iso(t), iso(t + 15), '1'],
      ]);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    await pool.end();
  });
});

describe('shutdown while a write is stuck', () => {
  it('exits within 10 s on SIGTERM even when its write waits on a lock, and loses nothing', async () => {
    const { url, pool } = await database('e2e_stuck_write');
    const live = floorToBucket(Date.now() / 1000) + 300; // ahead of the ring: only pushBucket() sends it
    const flows: ScriptedFlow[] = [
      { start: T0, sourceNamespace: 'shop', destNamespace: 'db' },
      { start: live, sourceNamespace: 'late', destNamespace: 'db' },
    ];
    const sim = await simulator(flows);
    const cli = aggregate(sim.port, url);
    await expect.poll(() => edgeTable(pool), { timeout: 20_000 }).toHaveLength(1);
    const locker = await pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE edge IN ACCESS EXCLUSIVE MODE');
    sim.pushBucket(live);
    await expect
      .poll(
        async () =>
          (
            await pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'goldmane-edge-aggregator' AND wait_event_type = 'Lock'`,
            )
          ).rows[0]!.n,
        { timeout: 20_000 },
      )
      .toBe(1);
    const killedAt = Date.now();
    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(result.code).toBe(1);
    expect(
      logLines(result.stderr).some((line) => String(line.msg).startsWith('stopping with uncommitted edges')),
    ).toBe(true);
    await locker.query('ROLLBACK');
    locker.release();
    // The abandoned write may still commit once the lock is gone (whole, with its cursor), or not:
    // either way the next start resumes from the cursor and Goldmane still holds the bucket.
    const again = aggregate(sim.port, url);
    await again.waitFor(/opening flow stream/, 'stderr');
    await expect
      .poll(async () => (await edgeTable(pool)).map((row) => [row[0], row[5]]), { timeout: 20_000 })
      .toEqual([
        ['late', '1'],
        ['shop', '1'],
      ]);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
    await pool.end();
  });
});
