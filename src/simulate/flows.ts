/**
 * Builds Goldmane flows the way Felix and Goldmane shape them: pod names as `generateName*`,
 * `-` for endpoints without a namespace, `pub`/`pvt` network names, one flow per reporter,
 * `key=value` labels, a Profile hit when no policy applies, bucket-bound start and end times.
 */
import type protobuf from 'protobufjs';
import { messageType } from '../goldmane/proto.js';
import type { Dependency, EndpointTypeName, Topology } from './topology.js';

/** A flow in friendly terms; everything but the namespaces has a default. */
export interface FlowSpec {
  readonly sourceNamespace: string;
  readonly destNamespace: string;
  readonly sourceName?: string;
  readonly destName?: string;
  readonly sourceType?: EndpointTypeName;
  readonly destType?: EndpointTypeName;
  readonly destPort?: number;
  readonly proto?: string;
  readonly reporter?: 'src' | 'dst';
  /** A name, or a raw Action number (to send values a client does not know). */
  readonly action?: 'allow' | 'deny' | 'pass' | 'unspecified' | number;
  readonly destServiceName?: string;
  readonly destServicePort?: number;
}

const ENDPOINT_TYPE: Record<EndpointTypeName, number> = {
  WorkloadEndpoint: 1,
  HostEndpoint: 2,
  NetworkSet: 3,
  Network: 4,
};
const ACTION: Record<string, number> = { unspecified: 0, allow: 1, deny: 2, pass: 3 };
const REPORTER = { src: 1, dst: 2 } as const;
const POLICY_KIND_CALICO = 1;
const POLICY_KIND_PROFILE = 9;

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same traffic, every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(a: number, b: number): number {
  return Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b) >>> 0;
}

function labels(type: EndpointTypeName, name: string, namespace: string): string[] {
  if (type !== 'WorkloadEndpoint') return [];
  const app = name.replace(/-[0-9a-f]{6,10}-\*$|-\*$|-\d+$/, '');
  return [
    `app=${app}`,
    `projectcalico.org/namespace=${namespace}`,
    'projectcalico.org/orchestrator=k8s',
    `projectcalico.org/serviceaccount=${app}`,
  ].sort();
}

function actionNumber(action: FlowSpec['action']): number {
  if (typeof action === 'number') return action;
  return ACTION[action ?? 'allow'] ?? 0;
}

/** The protobufjs object (proto field names) of one Flow. */
export function flowMessage(
  spec: FlowSpec,
  bucketStart: number,
  bucketSeconds: number,
  random: () => number,
): Record<string, unknown> {
  const sourceType = spec.sourceType ?? 'WorkloadEndpoint';
  const destType = spec.destType ?? 'WorkloadEndpoint';
  const sourceName = spec.sourceName ?? `${spec.sourceNamespace}-client-*`;
  const destName = spec.destName ?? `${spec.destNamespace}-server-*`;
  const reporter = spec.reporter ?? 'src';
  const action = actionNumber(spec.action);
  const reportingNamespace = reporter === 'src' ? spec.sourceNamespace : spec.destNamespace;
  const policy =
    action === ACTION.deny
      ? {
          kind: POLICY_KIND_CALICO,
          namespace: reportingNamespace,
          name: 'default-deny',
          tier: 'default',
          action,
          policy_index: 0,
          rule_index: -1,
        }
      : {
          kind: POLICY_KIND_PROFILE,
          namespace: '',
          name: `kns.${reportingNamespace}`,
          tier: '__PROFILE__',
          action,
          policy_index: 0,
          rule_index: 0,
        };
  const packets = 1 + Math.floor(random() * 200);
  const connections = 1 + Math.floor(random() * 5);
  const service = spec.destServiceName;
  return {
    Key: {
      source_name: sourceName,
      source_namespace: spec.sourceNamespace,
      source_type: ENDPOINT_TYPE[sourceType],
      dest_name: destName,
      dest_namespace: spec.destNamespace,
      dest_type: ENDPOINT_TYPE[destType],
      dest_port: spec.destPort ?? 8080,
      dest_service_name: service ?? '-',
      dest_service_namespace: service === undefined ? '-' : spec.destNamespace,
      dest_service_port_name: service === undefined ? '-' : 'main',
      dest_service_port: service === undefined ? 0 : (spec.destServicePort ?? spec.destPort ?? 8080),
      proto: spec.proto ?? 'tcp',
      reporter: REPORTER[reporter],
      action,
      policies: { enforced_policies: [policy], pending_policies: [] },
    },
    start_time: bucketStart,
    end_time: bucketStart + bucketSeconds,
    source_labels: labels(sourceType, sourceName, spec.sourceNamespace),
    dest_labels: labels(destType, destName, spec.destNamespace),
    packets_in: packets,
    packets_out: packets + Math.floor(random() * 50),
    bytes_in: packets * (60 + Math.floor(random() * 1400)),
    bytes_out: packets * (60 + Math.floor(random() * 1400)),
    num_connections_started: connections,
    num_connections_completed: connections - (random() < 0.3 ? 1 : 0),
    num_connections_live: random() < 0.3 ? 1 : 0,
  };
}

let flowType: protobuf.Type | undefined;

export function encodeFlow(message: Record<string, unknown>): Buffer {
  flowType ??= messageType('Flow');
  return Buffer.from(flowType.encode(message).finish());
}

/** Namespaces that are not valid Kubernetes names, for the invalid-flow knob. */
export const INVALID_NAMESPACES = ['Shop', 'shop\u0000', 'x'.repeat(64), ' shop', 'shop_ns', 'shop.prod'];

function specsOf(dep: Dependency): FlowSpec[] {
  const specs: FlowSpec[] = [];
  for (const sourceName of dep.srcNames) {
    for (const destName of dep.dstNames) {
      for (const reporter of dep.reporters) {
        const spec: FlowSpec = {
          sourceNamespace: dep.src,
          destNamespace: dep.dst,
          sourceName,
          destName,
          sourceType: dep.srcType,
          destType: dep.dstType,
          destPort: dep.port,
          proto: dep.proto,
          reporter,
          action: dep.action,
        };
        specs.push(
          dep.service === undefined
            ? spec
            : { ...spec, destServiceName: dep.service, destServicePort: dep.port },
        );
      }
    }
  }
  return specs;
}

export interface TrafficOptions {
  readonly seed: number;
  /** Fraction of flows whose source namespace is replaced by an invalid name. */
  readonly invalidRate?: number;
}

/**
 * The flows of one bucket of a topology: deterministic in (seed, bucket start), so a restarted
 * simulator (like Felix replaying to a restarted Goldmane) sends exactly the same flows again.
 */
export function topologyFlows(
  topology: Topology,
  options: TrafficOptions,
): (bucketStart: number) => FlowSpec[] {
  const specsByDependency = topology.dependencies.map(specsOf);
  return (bucketStart) => {
    const random = seededRandom(mix(options.seed, bucketStart));
    const flows: FlowSpec[] = [];
    topology.dependencies.forEach((dep, index) => {
      if (random() >= dep.activity) return;
      for (const spec of specsByDependency[index]!) {
        if (options.invalidRate !== undefined && random() < options.invalidRate) {
          const invalid = INVALID_NAMESPACES[Math.floor(random() * INVALID_NAMESPACES.length)]!;
          flows.push({ ...spec, sourceNamespace: invalid });
        } else {
          flows.push(spec);
        }
      }
    });
    return flows;
  };
}
