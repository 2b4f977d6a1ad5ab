/**
 * A cluster's traffic shape for the simulator: namespaces and dependencies, by default the
 * reference cluster in data/reference-cluster.json (about 100 namespaces of a real homelab).
 * Each dependency becomes one flow key per (source name, destination name, reporter) in every
 * 15-second bucket in which it is active; `activity` is the chance that it is.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REFERENCE_CLUSTER_PATH = fileURLToPath(
  new URL('../../data/reference-cluster.json', import.meta.url),
);

export type EndpointTypeName = 'WorkloadEndpoint' | 'HostEndpoint' | 'NetworkSet' | 'Network';

export interface Dependency {
  readonly src: string;
  readonly dst: string;
  readonly port: number;
  readonly proto: string;
  readonly action: 'allow' | 'deny';
  readonly activity: number;
  readonly srcNames: readonly string[];
  readonly dstNames: readonly string[];
  readonly srcType: EndpointTypeName;
  readonly dstType: EndpointTypeName;
  readonly reporters: readonly ('src' | 'dst')[];
  readonly service?: string;
}

export interface Topology {
  readonly bucketSeconds: number;
  readonly namespaces: readonly string[];
  readonly dependencies: readonly Dependency[];
}

const ENDPOINT_TYPES = new Set(['WorkloadEndpoint', 'HostEndpoint', 'NetworkSet', 'Network']);

/** Checks a parsed topology file; throws one error naming every bad entry. */
export function parseTopology(value: unknown, source: string): Topology {
  const problems: string[] = [];
  const object = value as Partial<Topology> | null;
  if (object === null || typeof object !== 'object' || !Array.isArray(object.dependencies)) {
    throw new Error(`${source}: not a topology (expected an object with a "dependencies" array)`);
  }
  object.dependencies.forEach((dep: Partial<Dependency>, index) => {
    const where = `${source}: dependencies[${index}]`;
    if (typeof dep.src !== 'string' || typeof dep.dst !== 'string')
      problems.push(`${where}: src and dst must be strings`);
    if (!Number.isInteger(dep.port)) problems.push(`${where}: port must be an integer`);
    if (dep.action !== 'allow' && dep.action !== 'deny')
      problems.push(`${where}: action must be allow or deny`);
    if (typeof dep.activity !== 'number' || dep.activity < 0 || dep.activity > 1)
      problems.push(`${where}: activity must be in [0, 1]`);
    if (!Array.isArray(dep.srcNames) || dep.srcNames.length === 0)
      problems.push(`${where}: srcNames must be a non-empty array`);
    if (!Array.isArray(dep.dstNames) || dep.dstNames.length === 0)
      problems.push(`${where}: dstNames must be a non-empty array`);
    if (!ENDPOINT_TYPES.has(dep.srcType as string) || !ENDPOINT_TYPES.has(dep.dstType as string)) {
      problems.push(`${where}: srcType and dstType must be one of ${[...ENDPOINT_TYPES].join(', ')}`);
    }
    if (!Array.isArray(dep.reporters) || dep.reporters.some((r) => r !== 'src' && r !== 'dst')) {
      problems.push(`${where}: reporters must be a list of "src" and "dst"`);
    }
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return {
    bucketSeconds: object.bucketSeconds ?? 15,
    namespaces: object.namespaces ?? [],
    dependencies: object.dependencies,
  };
}

export function loadTopology(path = REFERENCE_CLUSTER_PATH): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read topology ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  return parseTopology(parsed, path);
}
