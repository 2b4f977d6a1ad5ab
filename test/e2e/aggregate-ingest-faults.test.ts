/**
 * `aggregate` as a real subprocess with a fault put into its ingest thread (a preloaded module,
 * test/support/ingest-thread-fault.mjs): a stuck or crashed thread ends the process with exit 1
 * and a line that names it, so that Kubernetes restarts it; it never runs on looking healthy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../../src/simulate/certificates.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../src/simulate/simulator.js';
import { testCertificates } from '../support/certificates.js';
import { startCli, type RunningCli } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';
import { aggregateEnv } from '../support/trail.js';

const FAULT = fileURLToPath(new URL('../support/ingest-thread-fault.mjs', import.meta.url));
const T0 = floorToBucket(Date.now() / 1000) - 600;

let certs: CertificateSet;
let simulator: Simulator;
const running: RunningCli[] = [];

beforeAll(async () => {
  certs = await testCertificates();
  simulator = await Simulator.start({
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows: scriptedFlows([{ start: T0, sourceNamespace: 'shop', destNamespace: 'db' }]),
    rollover: 'manual',
  });
});
afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await simulator.stop();
});

async function aggregateWithFault(fault: string, label: string, args: string[] = []): Promise<RunningCli> {
  const { url } = await createTestDatabase(label);
  const cli = startCli(
    ['aggregate', ...args],
    aggregateEnv(certs, simulator.port, url, {
      NODE_OPTIONS: `--import ${FAULT}`,
      GEA_TEST_INGEST_FAULT: fault,
      HTTP_PORT: '0',
    }),
  );
  running.push(cli);
  await cli.waitFor(/opening flow stream/, 'stderr', 20_000);
  return cli;
}

describe('a fault in the ingest thread', () => {
  it('a stuck thread: the process exits 1 once it has been silent for 15 s, naming it', async () => {
    const cli = await aggregateWithFault('stuck', 'fault_stuck');
    const result = await cli.exited;
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toContain(
      'error [INTERNAL]: the ingest thread has not reported for 15 s: it is stuck',
    );
  }, 40_000);

  it('a thread that dies while the stream is being stopped: exit 1 with its error, not a quiet stop', async () => {
    const cli = await aggregateWithFault('crash-on-stop', 'fault_crash_on_stop', ['--verbose']);
    cli.child.kill('SIGTERM');
    const result = await cli.exited;
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toContain(
      'error [INTERNAL]: the ingest thread failed: injected: crash on stop',
    );
  }, 30_000);
});
