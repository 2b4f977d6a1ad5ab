import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GoldmaneConfig } from '../../src/config/load-config.js';
import { loadTlsMaterial } from '../../src/config/tls-material.js';
import { channelOptions, createGoldmaneClient } from '../../src/goldmane/channel.js';
import { isMalformed, type FlowRecord } from '../../src/goldmane/decode-flow-result.js';
import { FlowStream } from '../../src/goldmane/flow-stream.js';
import { createCa, issueCertificate, type CertificateSet } from '../../src/simulate/certificates.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../src/simulate/simulator.js';
import { testCertificates } from '../support/certificates.js';
import { testLogger } from '../support/logger.js';

let certs: CertificateSet;
let foreign: { ca: { cert: string; key: string }; client: { cert: string; key: string } };
const now = floorToBucket(Date.now() / 1000);
const flows = scriptedFlows([
  { start: now - 600, sourceNamespace: 'shop', destNamespace: 'db' },
  { start: now - 585, sourceNamespace: 'web', destNamespace: 'shop', action: 'deny' },
]);

beforeAll(async () => {
  certs = await testCertificates();
  const ca = await createCa(join(certs.dir, 'foreign'), 'foreign-ca');
  const client = await issueCertificate(ca, join(certs.dir, 'foreign'), 'client', {
    commonName: 'intruder',
    usages: ['clientAuth'],
  });
  foreign = { ca, client };
});

const simulators: Simulator[] = [];
const streams: FlowStream[] = [];
afterEach(async () => {
  await Promise.all(streams.splice(0).map((stream) => stream.stop()));
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});
afterAll(() => undefined);

async function simulator(host = '127.0.0.1'): Promise<Simulator> {
  const started = await Simulator.start({
    host,
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows,
    rollover: 'manual',
  });
  simulators.push(started);
  return started;
}

function goldmaneConfig(
  target: string,
  files: { cert: string; key: string; ca: string },
  serverName?: string,
): GoldmaneConfig {
  const problems: string[] = [];
  const tls = loadTlsMaterial(
    { certPath: files.cert, keyPath: files.key, caPath: files.ca },
    new Date(),
    problems,
  );
  expect(problems).toEqual([]);
  const host = target.slice(0, target.lastIndexOf(':'));
  return {
    target,
    serverName: serverName ?? host,
    serverNameOverridden: serverName !== undefined,
    insecure: false,
    tls: tls!,
    keepaliveMs: 0,
  };
}

interface Observed {
  records: FlowRecord[];
  ends: grpc.StatusObject[];
  logs: ReturnType<typeof testLogger>;
}

function stream(client: grpc.Client): Observed {
  const observed: Observed = { records: [], ends: [], logs: testLogger() };
  const flowStream = new FlowStream(
    client,
    {
      begin: () => -3540,
      record: (record) => {
        if (!isMalformed(record)) observed.records.push(record);
      },
      end: (status) => observed.ends.push(status),
    },
    observed.logs.log,
  );
  streams.push(flowStream);
  flowStream.start();
  return observed;
}

const failureLines = (observed: Observed): Record<string, unknown>[] =>
  observed.logs.lines().filter((line) => line.msg === 'flow stream to Goldmane failed; retrying');

describe('F1: mutual TLS failures are logged with grpc details, retried, and never fall back', () => {
  it('a correct CA and client pair receives the flows', async () => {
    const sim = await simulator();
    const observed = stream(
      createGoldmaneClient(
        goldmaneConfig(`localhost:${sim.port}`, {
          cert: certs.client.cert,
          key: certs.client.key,
          ca: certs.ca.cert,
        }),
      ),
    );
    await expect
      .poll(() => observed.records.map((r) => `${r.sourceNamespace}>${r.destNamespace}`))
      .toEqual(['shop>db', 'web>shop']);
    sim.endStreams(grpc.status.OK);
    await expect.poll(() => observed.ends.map((s) => s.code)).toContain(grpc.status.OK);
  });

  it('no client certificate: UNAVAILABLE, "certificate required", retried with backoff', async () => {
    const sim = await simulator();
    const client = new grpc.Client(
      `localhost:${sim.port}`,
      grpc.credentials.createSsl(readFileSync(certs.ca.cert)),
      {},
    );
    const observed = stream(client);
    await expect.poll(() => failureLines(observed).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const [first, second] = failureLines(observed);
    expect(first).toMatchObject({ level: 'error', code: 'UNAVAILABLE', messages: 0 });
    expect(first!.details).toMatch(
      /^No connection established\. Last error: .*tlsv13 alert certificate required.*SSL alert number 116/,
    );
    // Backoff: the first retry after about a second, the second after about two.
    expect(first!.retryInMs).toBeGreaterThanOrEqual(800);
    expect(first!.retryInMs).toBeLessThanOrEqual(1000);
    expect(second!.retryInMs).toBeGreaterThanOrEqual(1600);
    expect(second!.retryInMs).toBeLessThanOrEqual(2000);
    expect(observed.records).toEqual([]);
  });

  it('a client certificate from a foreign CA: UNAVAILABLE with no records', async () => {
    const sim = await simulator();
    const observed = stream(
      createGoldmaneClient(
        goldmaneConfig(`localhost:${sim.port}`, {
          cert: foreign.client.cert,
          key: foreign.client.key,
          ca: certs.ca.cert,
        }),
      ),
    );
    await expect.poll(() => failureLines(observed).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(failureLines(observed)[0]).toMatchObject({
      level: 'error',
      code: 'UNAVAILABLE',
      details: expect.stringMatching(/^No connection established\. Last error: Failed to connect/),
    });
    expect(observed.records).toEqual([]);
  });

  it('a server the client does not trust: UNAVAILABLE naming the verification failure', async () => {
    const sim = await simulator();
    const observed = stream(
      createGoldmaneClient(
        goldmaneConfig(`localhost:${sim.port}`, {
          cert: certs.client.cert,
          key: certs.client.key,
          ca: foreign.ca.cert,
        }),
      ),
    );
    await expect.poll(() => failureLines(observed).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(failureLines(observed)[0]).toMatchObject({
      code: 'UNAVAILABLE',
      details:
        'No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: ',
    });
  });
});

describe('F2: dialling Goldmane by a name its certificate does not list', () => {
  it('fails with the SAN error unchanged, and works once GOLDMANE_SERVER_NAME names a listed one', async () => {
    const sim = await simulator('127.0.0.2');
    const files = { cert: certs.client.cert, key: certs.client.key, ca: certs.ca.cert };
    const wrong = stream(createGoldmaneClient(goldmaneConfig(`127.0.0.2:${sim.port}`, files)));
    await expect.poll(() => failureLines(wrong).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(failureLines(wrong)[0]!.details).toContain(
      "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1",
    );

    const config = goldmaneConfig(`127.0.0.2:${sim.port}`, files, 'goldmane.calico-system.svc');
    expect(channelOptions(config)).toMatchObject({
      'grpc.ssl_target_name_override': 'goldmane.calico-system.svc',
      'grpc.default_authority': 'goldmane.calico-system.svc',
    });
    const right = stream(createGoldmaneClient(config));
    await expect.poll(() => right.records.length).toBe(2);
  });
});
