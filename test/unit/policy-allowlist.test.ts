import { describe, expect, it } from 'vitest';
import { deriveAllowlist, deriveAllowlists, type ObservedEdge } from '../../src/policy/allowlist.js';

const T = (day: number): Date => new Date(Date.UTC(2026, 5, day));

function edge(src: string, dst: string, action: string, flows: bigint, entered = 1): ObservedEdge {
  return {
    src,
    dst,
    action,
    firstSeen: T(entered),
    lastSeen: T(28),
    flowCount: flows,
    enteredAt: T(entered),
  };
}

// As the store returns them: ordered by src_ns, dst_ns, action.
const EDGES: ObservedEdge[] = [
  edge('-', 'shop', 'allow', 4n),
  edge('shop', '-', 'allow', 7n, 2),
  edge('shop', 'dbaas', 'allow', 9007199254740993n, 3),
  edge('shop', 'payments', 'deny', 9n, 20),
  edge('shop', 'redis', 'allow', 5n, 4),
  edge('shop', 'redis', 'deny', 2n, 5),
  edge('shop', 'search', 'pass', 3n, 6),
  edge('web', 'shop', 'allow', 100n, 10),
];

describe('deriveAllowlist', () => {
  it('splits a namespace’s edges into allowed, denied and other, with exact evidence', () => {
    const list = deriveAllowlist('shop', EDGES);
    expect(list.namespace).toBe('shop');
    expect(list.allowed).toEqual([
      { dst: '-', firstSeen: T(2), lastSeen: T(28), flowCount: 7n, offCluster: true, alsoDenied: false },
      {
        dst: 'dbaas',
        firstSeen: T(3),
        lastSeen: T(28),
        flowCount: 9007199254740993n,
        offCluster: false,
        alsoDenied: false,
      },
      { dst: 'redis', firstSeen: T(4), lastSeen: T(28), flowCount: 5n, offCluster: false, alsoDenied: true },
    ]);
    expect(list.denied).toEqual([
      { dst: 'payments', firstSeen: T(20), lastSeen: T(28), flowCount: 9n },
      { dst: 'redis', firstSeen: T(5), lastSeen: T(28), flowCount: 2n },
    ]);
    expect(list.other).toEqual([
      { dst: 'search', firstSeen: T(6), lastSeen: T(28), flowCount: 3n, action: 'pass' },
    ]);
  });

  it('tells the newest edge of any action from the newest allow edge', () => {
    const list = deriveAllowlist('shop', EDGES);
    expect(list.lastNewEdgeAt).toEqual(T(20));
    expect(list.lastNewAllowedAt).toEqual(T(4));
  });

  it('gives an empty allowlist to a namespace without edges', () => {
    expect(deriveAllowlist('nobody', EDGES)).toEqual({
      namespace: 'nobody',
      allowed: [],
      denied: [],
      other: [],
      lastNewEdgeAt: null,
      lastNewAllowedAt: null,
    });
  });
});

describe('deriveAllowlists', () => {
  it('covers every source namespace in store order, but never the off-cluster sentinel', () => {
    expect(deriveAllowlists(null, EDGES).map((l) => l.namespace)).toEqual(['shop', 'web']);
  });

  it('keeps the named namespaces in the order given, once each', () => {
    expect(deriveAllowlists(['web', 'shop', 'web', 'ghost'], EDGES).map((l) => l.namespace)).toEqual([
      'web',
      'shop',
      'ghost',
    ]);
  });
});
