import { describe, expect, it } from 'vitest';
import {
  flowToEdge,
  isNoNamespace,
  isValidNamespace,
  type DropReason,
  type Edge,
} from '../../src/edges/flow-to-edge.js';
import type { FlowRecord } from '../../src/goldmane/decode-flow-result.js';

function flow(
  sourceNamespace: string,
  destNamespace: string,
  action = 1,
  times: [number, number] = [1735689600, 1735689615],
): FlowRecord {
  return {
    sourceNamespace,
    destNamespace,
    action,
    startTime: times[0],
    endTime: times[1],
    message: Buffer.from(`${sourceNamespace}>${destNamespace}`),
    keyStart: 0,
    keyEnd: Buffer.byteLength(`${sourceNamespace}>${destNamespace}`),
  };
}

const inCluster = { includeOffCluster: false };
const offClusterKept = { includeOffCluster: true };

describe('flowToEdge', () => {
  it('maps source and destination namespaces and the action', () => {
    expect(flowToEdge(flow('shop', 'db', 1), inCluster)).toEqual({ src: 'shop', dst: 'db', action: 'allow' });
    expect(flowToEdge(flow('shop', 'db', 2), inCluster)).toEqual({ src: 'shop', dst: 'db', action: 'deny' });
    expect(flowToEdge(flow('shop', 'db', 3), inCluster)).toEqual({ src: 'shop', dst: 'db', action: 'pass' });
    expect(flowToEdge(flow('shop', 'db', 0), inCluster)).toEqual({
      src: 'shop',
      dst: 'db',
      action: 'unspecified',
    });
    expect(flowToEdge(flow('shop', 'db', 42), inCluster)).toEqual({
      src: 'shop',
      dst: 'db',
      action: 'unspecified',
    });
  });

  // Field case F6: the four FlowKeys of the report, all dropped, for the reasons counted in metrics.
  it('drops the F6 flows: "-" and "" namespaces and a self-edge', () => {
    const cases: [FlowRecord, DropReason][] = [
      [flow('-', 'shop', 1), 'no_namespace'], // public network → shop
      [flow('shop', '', 2), 'no_namespace'], // shop → private network, namespace left empty
      [flow('-', 'kube-system', 1), 'no_namespace'], // host endpoint node-1 → kube-system
      [flow('shop', 'shop', 1), 'self_edge'],
    ];
    for (const [input, reason] of cases) expect(flowToEdge(input, inCluster)).toBe(reason);
  });

  it('treats whitespace-only namespaces as no namespace', () => {
    expect(flowToEdge(flow('  ', 'shop'), inCluster)).toBe('no_namespace');
    expect(flowToEdge(flow('shop', '\t'), inCluster)).toBe('no_namespace');
  });

  it('drops invalid Kubernetes namespace names as invalid_namespace', () => {
    for (const bad of [
      'Shop',
      'shop\u0000',
      'x'.repeat(64),
      ' shop',
      'shop_ns',
      'shop.prod',
      '-shop',
      'shop-',
      'ünï',
    ]) {
      expect(flowToEdge(flow(bad, 'db'), inCluster), bad).toBe('invalid_namespace');
      expect(flowToEdge(flow('db', bad), inCluster), bad).toBe('invalid_namespace');
    }
  });

  it('accepts names at the edge of the rules', () => {
    expect(flowToEdge(flow('a', 'x'.repeat(63)), inCluster)).toEqual({
      src: 'a',
      dst: 'x'.repeat(63),
      action: 'allow',
    });
    expect(isValidNamespace('0')).toBe(true);
    expect(isValidNamespace('a-b-0')).toBe(true);
    expect(isValidNamespace('')).toBe(false);
  });

  it('drops flows with impossible times as invalid_time', () => {
    expect(flowToEdge(flow('a', 'b', 1, [0, 15]), inCluster)).toBe('invalid_time');
    expect(flowToEdge(flow('a', 'b', 1, [100, 99]), inCluster)).toBe('invalid_time');
    expect(flowToEdge(flow('a', 'b', 1, [1735689600, 2 ** 60]), inCluster)).toBe('invalid_time');
    expect(flowToEdge(flow('a', 'b', 1, [1735689600, 1735689600]), inCluster)).toBe('invalid_time');
    expect(flowToEdge(flow('a', 'b', 1, [1735689600, 1735689600 + 3601]), inCluster)).toBe('invalid_time');
    expect(flowToEdge(flow('a', 'b', 1, [1735689600, 1735689600 + 3600]), inCluster)).toMatchObject({
      src: 'a',
    });
  });

  it('keeps off-cluster flows as edges to or from "-" only when asked', () => {
    const expected: (Edge | DropReason)[] = [
      { src: '-', dst: 'shop', action: 'allow' },
      { src: 'shop', dst: '-', action: 'deny' },
      'no_namespace',
      'self_edge',
      'invalid_namespace',
    ];
    const inputs = [
      flow('-', 'shop', 1),
      flow('shop', '', 2),
      flow('-', ''),
      flow('shop', 'shop'),
      flow('-', 'Shop'),
    ];
    expect(inputs.map((input) => flowToEdge(input, offClusterKept))).toEqual(expected);
  });
});

describe('namespace checks written out by hand for speed agree with their definitions', () => {
  const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const alphabet = ['a', 'z', '0', '9', '-', 'A', '_', '.', ' ', '\t', '\u0000', 'ü', '\u00a0', '\ufeff'];

  // Every string of up to three characters from the alphabet, plus lengths around the limit.
  function* candidates(): Generator<string> {
    yield '';
    for (const a of alphabet) {
      yield a;
      for (const b of alphabet) {
        yield a + b;
        for (const c of alphabet) yield a + b + c;
      }
    }
    for (const length of [62, 63, 64, 65]) {
      yield 'a'.repeat(length);
      yield `a${'-'.repeat(length - 2)}a`;
    }
  }

  it('isValidNamespace is the DNS-1123 label expression with at most 63 characters', () => {
    for (const name of candidates())
      expect(isValidNamespace(name), JSON.stringify(name)).toBe(
        name.length <= 63 && DNS1123_LABEL.test(name),
      );
  });

  it('isNoNamespace is "-", or empty after trim()', () => {
    for (const name of candidates())
      expect(isNoNamespace(name), JSON.stringify(name)).toBe(name === '-' || name.trim() === '');
  });
});
