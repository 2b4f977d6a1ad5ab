/**
 * The rules that turn one Goldmane flow into one namespace-pair edge, or drop it.
 * Pure: no I/O, so every rule is a unit test (test/unit/flow-to-edge.test.ts).
 */
import type { FlowRecord } from '../goldmane/decode-flow-result.js';

export type EdgeAction = 'allow' | 'deny' | 'pass' | 'unspecified';

export const EDGE_ACTIONS: readonly EdgeAction[] = ['allow', 'deny', 'pass', 'unspecified'];

/**
 * Goldmane's placeholder for endpoints that have no namespace (host endpoints, public/private
 * networks, global network sets). Also the sentinel we store when off-cluster edges are kept.
 */
export const NO_NAMESPACE = '-';

/** Why a flow did not become an edge; each reason is a metric label. */
export type DropReason = 'no_namespace' | 'invalid_namespace' | 'self_edge' | 'invalid_time';

export const DROP_REASONS: readonly DropReason[] = [
  'no_namespace',
  'invalid_namespace',
  'self_edge',
  'invalid_time',
];

export interface Edge {
  readonly src: string;
  readonly dst: string;
  readonly action: EdgeAction;
}

export interface FlowToEdgeOptions {
  /** Keep flows to or from off-cluster endpoints as edges to or from NO_NAMESPACE. */
  readonly includeOffCluster: boolean;
}

const MAX_NAMESPACE_LENGTH = 63;
const CHAR_a = 0x61;
const CHAR_z = 0x7a;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_HYPHEN = 0x2d;

function isLowerAlphanumeric(code: number): boolean {
  return (code >= CHAR_a && code <= CHAR_z) || (code >= CHAR_0 && code <= CHAR_9);
}

/**
 * Kubernetes namespace names are DNS-1123 labels, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/ of at most 63
 * characters: this also rejects NUL bytes, upper case, spaces. Checked character by character
 * because it runs for both ends of every flow, and this is several times faster than the regular
 * expression (test/unit/flow-to-edge.test.ts compares the two).
 */
export function isValidNamespace(name: string): boolean {
  const length = name.length;
  if (length === 0 || length > MAX_NAMESPACE_LENGTH) return false;
  if (!isLowerAlphanumeric(name.charCodeAt(0)) || !isLowerAlphanumeric(name.charCodeAt(length - 1)))
    return false;
  for (let i = 1; i < length - 1; i++) {
    const code = name.charCodeAt(i);
    if (!isLowerAlphanumeric(code) && code !== CHAR_HYPHEN) return false;
  }
  return true;
}

/** "", "-" and whitespace-only all mean "this endpoint has no namespace". */
export function isNoNamespace(name: string): boolean {
  if (name === NO_NAMESPACE || name === '') return true;
  // A name that starts with a letter or digit has something besides whitespace: skip trim().
  return !isLowerAlphanumeric(name.charCodeAt(0)) && name.trim() === '';
}

/** Goldmane Action enum → stored action. Unknown numbers (a newer Goldmane) are unspecified. */
export function actionName(code: number): EdgeAction {
  switch (code) {
    case 1:
      return 'allow';
    case 2:
      return 'deny';
    case 3:
      return 'pass';
    default:
      return 'unspecified';
  }
}

/**
 * The longest bucket we accept. Goldmane's window is 15 s by default and configurable; a bucket
 * longer than the whole ring (an hour) is corrupt. A record's end becomes the resume frontier, so
 * one absurd end must not be able to move it.
 */
export const MAX_BUCKET_SECONDS = 3600;

/** A bucket that starts after its end, has no length, or is longer than the ring is corrupt. */
export function hasValidTimes(flow: Pick<FlowRecord, 'startTime' | 'endTime'>): boolean {
  return (
    flow.startTime > 0 && flow.endTime > flow.startTime && flow.endTime - flow.startTime <= MAX_BUCKET_SECONDS
  );
}

function endpointNamespace(name: string, options: FlowToEdgeOptions): string | null {
  if (isNoNamespace(name)) return options.includeOffCluster ? NO_NAMESPACE : null;
  return name;
}

export function flowToEdge(flow: FlowRecord, options: FlowToEdgeOptions): Edge | DropReason {
  if (!hasValidTimes(flow)) return 'invalid_time';
  const src = endpointNamespace(flow.sourceNamespace, options);
  const dst = endpointNamespace(flow.destNamespace, options);
  // Both ends off-cluster is never an edge, even when off-cluster edges are kept.
  if (src === null || dst === null || (src === NO_NAMESPACE && dst === NO_NAMESPACE)) return 'no_namespace';
  if ((src !== NO_NAMESPACE && !isValidNamespace(src)) || (dst !== NO_NAMESPACE && !isValidNamespace(dst))) {
    return 'invalid_namespace';
  }
  if (src === dst) return 'self_edge';
  return { src, dst, action: actionName(flow.action) };
}
