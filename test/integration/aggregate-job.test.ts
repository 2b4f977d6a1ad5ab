import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AggregateJob } from '../../src/aggregate/aggregate-job.js';
import { createAggregatorMetrics } from '../../src/aggregate/metrics.js';
import { loadTlsMaterial, type TlsMaterial } from '../../src/config/tls-material.js';
import type { AppError } from '../../src/errors.js';
import type { CertificateSet } from '../../src/simulate/certificates.js';
import type { FlowSpec } from '../../src/simulate/flows.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../src/simulate/simulator.js';
import { migrate } from '../../src/store/migrate.js';
import { testCertificates } from '../support/certificates.js';
import { createTestDatabase } from '../support/database.js';
import { testLogger } from '../support/logger.js';
import { edgeTable, iso } from '../support/trail.js';

let certs: CertificateSet;
let pool: pg.Pool;

beforeAll(async () => {
  certs = await testCertificates();
  const { url } = await createTestDatabase('aggregate_job');
  pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
});
beforeEach(async () => {
  await pool.query('TRUNCATE edge, edge_recorded, observation_gap, ingest_cursor');
});

async function startSimulator(flows: (FlowSpec & { start: number })[], port = 0): Promise<Simulator> {
  return Simulator.start({
    port,
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows: scriptedFlows(flows),
    rollover: 'manual',
  });
}

function job(port: number, instance = 'test', tlsOverride: Partial<TlsMaterial> = {}) {
  const problems: string[] = [];
  const tls = loadTlsMaterial(
    { certPath: certs.client.cert, keyPath: certs.client.key, caPath: certs.ca.cert },
    new Date(),
    problems,
  );
  const logs = testLogger();
  const metrics = createAggregatorMetrics({ processMetrics: false });
  const aggregateJob = new AggregateJob({
    instance,
    pool,
    goldmane: {
      target: `127.0.0.1:${port}`,
      serverName: 'goldmane.calico-system.svc',
      serverNameOverridden: true,
      insecure: false,
      tls: { ...tls!, ...tlsOverride },
      keepaliveMs: 0,
    },
    ingest: { flushIntervalMs: 200, quietPeriodMs: 300, includeOffCluster: false },
    log: logs.log,
    metrics,
  });
  const abort = new AbortController();
  const done = aggregateJob.run(abort.signal);
  return { job: aggregateJob, logs, metrics, done, stop: async () => (abort.abort(), done) };
}

async function counterValues(counter: {
  get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }>;
}) {
  return Object.fromEntries(
    (await counter.get()).values
      .filter((v) => v.value > 0)
      .map((v) => [String(v.labels.code ?? ''), v.value]),
  );
}

const T0 = floorToBucket(Date.now() / 1000) - 600;
const f1 = { start: T0, sourceNamespace: 'alpha', destNamespace: 'beta' };
const f2 = { start: T0 + 15, sourceNamespace: 'gamma', destNamespace: 'delta', action: 'deny' as const };
const f3 = { start: T0 + 30, sourceNamespace: 'eps', destNamespace: 'zeta' };
const expected = [
  ['alpha', 'beta', 'allow', iso(T0), iso(T0 + 15), '1'],
  ['eps', 'zeta', 'allow', iso(T0 + 30), iso(T0 + 45), '1'],
  ['gamma', 'delta', 'deny', iso(T0 + 15), iso(T0 + 30), '1'],
];

describe('F3: every end of the stream starts a new call, and the trail stays exact', () => {
  for (const [variant, code] of [
    ['the server ends the call normally (status OK, no error event)', grpc.status.OK],
    ['the server cancels the call (CANCELLED)', grpc.status.CANCELLED],
  ] as const) {
    it(variant, async () => {
      const first = await startSimulator([f1, f2]);
      const port = first.port;
      const running = job(port);
      try {
        await expect.poll(() => edgeTable(pool), { timeout: 15_000 }).toEqual([expected[0], expected[2]]);
        first.endStreams(code);
        await expect
          .poll(async () => (await counterValues(running.metrics.streamEnds))[grpc.status[code]])
          .toBe(1);
        await first.stop();
        // Goldmane is down for 5 s (calls made meanwhile fail fast with UNAVAILABLE), then back
        // with a new ring holding the old flows and a third one.
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        const second = await startSimulator([f1, f2, f3], port);
        try {
          await expect.poll(() => edgeTable(pool), { timeout: 20_000 }).toEqual(expected);
          expect(first.getStats().maxConcurrentStreams).toBe(1);
          expect(second.getStats()).toMatchObject({
            streamsOpened: 1,
            maxConcurrentStreams: 1,
            // The resume asks again for the last complete bucket (T0 + 15, skipped).
            requests: [T0 + 15],
          });
          const ends = await counterValues(running.metrics.streamEnds);
          expect(ends[grpc.status[code]]).toBe(1);
          expect(ends.UNAVAILABLE).toBeGreaterThanOrEqual(1);
        } finally {
          await running.stop();
          await second.stop();
        }
      } finally {
        await running.stop();
        await first.stop();
      }
    });
  }
});

describe('standby and takeover', () => {
  it('a second aggregator stands by, and takes over at once when the owner stops, resuming exactly', async () => {
    const sim = await startSimulator([f1, f2]);
    const owner = job(sim.port, 'pod-a');
    await expect.poll(() => edgeTable(pool), { timeout: 15_000 }).toEqual([expected[0], expected[2]]);
    const standby = job(sim.port, 'pod-b');
    try {
      await expect.poll(() => standby.job.health().role).toBe('standby');
      expect(standby.job.health()).toMatchObject({
        role: 'standby',
        heldBy: expect.stringMatching(/^pod-a\//),
      });
      expect(await owner.stop()).toEqual({ committed: true });
      await expect.poll(() => standby.job.health().role, { timeout: 10_000 }).toBe('active');
      expect(standby.logs.lines().some((line) => line.msg === 'took over the ingest cursor')).toBe(true);
      // The new owner resumes after the last committed bucket: nothing counted twice.
      await expect.poll(() => sim.getStats().requests.at(-1), { timeout: 10_000 }).toBe(T0 + 15);
      expect(await edgeTable(pool)).toEqual([expected[0], expected[2]]);
    } finally {
      await standby.stop();
      await owner.stop();
      await sim.stop();
    }
  });

  it('an owner whose cursor was taken over stops writing and stands by', async () => {
    const sim = await startSimulator([f1, f2]);
    const owner = job(sim.port, 'pod-a');
    try {
      await expect.poll(() => owner.job.health().role, { timeout: 10_000 }).toBe('active');
      await pool.query(`UPDATE ingest_cursor SET writer_id = 'pod-z/intruder'`);
      await expect.poll(() => owner.job.health().role, { timeout: 45_000, interval: 500 }).toBe('standby');
      expect(owner.logs.lines().find((line) => line.code === 'SUPERSEDED')).toMatchObject({ level: 'warn' });
    } finally {
      await owner.stop();
      await sim.stop();
    }
  });
});

describe('the ingest thread', () => {
  it('a failure of the ingest thread ends the job with an error that names it, instead of standing by', async () => {
    const sim = await startSimulator([f1]);
    // Unparseable key bytes (loading the configuration refuses them; here they reach the thread).
    const broken = job(sim.port, 'pod-a', { key: Buffer.from('not a key') });
    try {
      const error = (await broken.done.catch((thrown: unknown) => thrown)) as AppError;
      expect([error.code, error.message]).toEqual([
        'INTERNAL',
        'the ingest thread failed: error:1E08010C:DECODER routines::unsupported',
      ]);
      expect(await edgeTable(pool)).toEqual([]);
      expect(sim.getStats().requests).toEqual([]);
      expect(broken.logs.lines().some((line) => line.msg === 'took over the ingest cursor')).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});
