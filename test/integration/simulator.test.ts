/**
 * The simulator behaves like Goldmane where a client can tell: backfill order, ids that hold per
 * FlowKey and start again after a restart, both reporters and '-' namespaces in its traffic.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFlowStreamRequest, FLOWS_STREAM_PATH } from '../../src/goldmane/stream-request.js';
import { messageType } from '../../src/goldmane/proto.js';
import type { CertificateSet } from '../../src/simulate/certificates.js';
import { topologyFlows } from '../../src/simulate/flows.js';
import { floorToBucket } from '../../src/simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../src/simulate/simulator.js';
import { loadTopology } from '../../src/simulate/topology.js';
import { testCertificates } from '../support/certificates.js';

interface Decoded {
  id: number;
  flow: { Key: { source_namespace: string; dest_namespace: string; reporter: number }; start_time: number };
}

let certs: CertificateSet;
const simulators: Simulator[] = [];
beforeAll(async () => {
  certs = await testCertificates();
});
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

async function start(
  flows: Parameters<typeof Simulator.start>[0]['flows'],
  duplicates = false,
): Promise<Simulator> {
  const simulator = await Simulator.start({
    tls: {
      ca: readFileSync(certs.ca.cert),
      cert: readFileSync(certs.server.cert),
      key: readFileSync(certs.server.key),
    },
    flows,
    rollover: 'manual',
    duplicates,
  });
  simulators.push(simulator);
  return simulator;
}

/** Opens a stream, collects `count` FlowResults, decoded in full, then cancels. */
function receive(port: number, startTimeGte: number, count: number): Promise<Decoded[]> {
  const type = messageType('FlowResult');
  const client = new grpc.Client(
    `localhost:${port}`,
    grpc.credentials.createSsl(
      readFileSync(certs.ca.cert),
      readFileSync(certs.client.key),
      readFileSync(certs.client.cert),
    ),
  );
  return new Promise((resolve, reject) => {
    const results: Decoded[] = [];
    const call = client.makeServerStreamRequest<Buffer, Buffer>(
      FLOWS_STREAM_PATH,
      (b) => b,
      (b) => b,
      encodeFlowStreamRequest(startTimeGte),
    );
    call.on('data', (bytes: Buffer) => {
      results.push(type.toObject(type.decode(bytes), { longs: Number, defaults: true }) as Decoded);
      if (results.length === count) {
        call.cancel();
        client.close();
        resolve(results);
      }
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
}

const now = floorToBucket(Date.now() / 1000);

describe('the simulator, seen by a client', () => {
  it('backfills oldest to newest, and keeps one id per FlowKey across buckets', async () => {
    const sim = await start(
      scriptedFlows([
        { start: now - 300, sourceNamespace: 'b', destNamespace: 'c' },
        { start: now - 600, sourceNamespace: 'a', destNamespace: 'b' },
        { start: now - 585, sourceNamespace: 'a', destNamespace: 'b' },
      ]),
    );
    const results = await receive(sim.port, -3540, 3);
    expect(results.map((r) => [r.flow.start_time, r.flow.Key.source_namespace, r.id])).toEqual([
      [now - 600, 'a', 1],
      [now - 585, 'a', 1],
      [now - 300, 'b', 2],
    ]);
  });

  it('starts ids again at 1 after a restart, and keeps only five minutes of history', async () => {
    const sim = await start(
      scriptedFlows([
        { start: now - 600, sourceNamespace: 'a', destNamespace: 'b' },
        { start: now - 120, sourceNamespace: 'c', destNamespace: 'd' },
      ]),
    );
    expect((await receive(sim.port, -3540, 2)).map((r) => r.id)).toEqual([1, 2]);
    sim.restart();
    const after = await receive(sim.port, -3540, 1);
    expect(after.map((r) => [r.flow.Key.source_namespace, r.id])).toEqual([['c', 1]]);
  });

  it('sends the newest flushed bucket before the backfill and again in it, with --duplicates', async () => {
    await new Promise((resolve) =>
      setTimeout(resolve, ((15 - ((Date.now() / 1000) % 15) + 0.2) % 15) * 1000),
    );
    const newest = floorToBucket(Date.now() / 1000) - 30;
    const sim = await start(
      scriptedFlows([
        { start: newest - 15, sourceNamespace: 'a', destNamespace: 'b' },
        { start: newest, sourceNamespace: 'c', destNamespace: 'd' },
      ]),
      true,
    );
    const results = await receive(sim.port, newest - 15, 3);
    expect(results.map((r) => r.flow.start_time)).toEqual([newest, newest - 15, newest]);
  });

  it("draws the reference cluster's traffic with both reporters and '-' namespaces, the same for a bucket every time", () => {
    const flows = topologyFlows(loadTopology(), { seed: 1 });
    const bucket = flows(now - 15);
    expect(new Set(bucket.map((f) => f.reporter))).toEqual(new Set(['src', 'dst']));
    expect(bucket.some((f) => f.sourceNamespace === '-' || f.destNamespace === '-')).toBe(true);
    expect(flows(now - 15)).toEqual(bucket);
    expect(bucket.length).toBeGreaterThan(400);
  });
});
