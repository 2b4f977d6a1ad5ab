import { describe, expect, it } from 'vitest';
import { deriveAllowlist, type ObservedEdge } from '../../src/policy/allowlist.js';
import { parseDnsBaseline } from '../../src/policy/dns-baseline.js';
import { policyDocument, policyStream, type PolicyKind } from '../../src/policy/policy-document.js';
import { DAY_MS, assessReadiness, describeObservation } from '../../src/policy/readiness.js';
import { parsePolicies, parsePolicy } from '../support/policy-yaml.js';

const NOW = new Date('2026-07-01T00:00:00Z');
const ago = (days: number): Date => new Date(NOW.getTime() - days * DAY_MS);

function edge(dst: string, action: string, flows: bigint): ObservedEdge {
  return {
    src: 'shop',
    dst,
    action,
    firstSeen: ago(25),
    lastSeen: ago(1),
    flowCount: flows,
    enteredAt: ago(25),
  };
}

// Allowed: dbaas, redis (also denied), '-' (off-cluster), 'Bad_Name' (not a namespace name).
// Denied only: payments. Unclassified: search.
const EDGES = [
  edge('-', 'allow', 7n),
  edge('Bad_Name', 'allow', 1n),
  edge('dbaas', 'allow', 9007199254740993n),
  edge('payments', 'deny', 9n),
  edge('redis', 'allow', 5n),
  edge('redis', 'deny', 2n),
  edge('search', 'pass', 3n),
];

function render(
  kind: PolicyKind,
  options: { dns?: string; observedDays?: number; edges?: ObservedEdge[] } = {},
) {
  const observation = describeObservation({
    now: NOW,
    cursor: { observingSince: ago(options.observedDays ?? 30), observedUntil: NOW },
    edgeSpan: { firstSeen: ago(30), lastSeen: NOW },
    gaps: [],
    tables: { ingestCursor: true },
  });
  const allowlist = deriveAllowlist('shop', options.edges ?? EDGES);
  const readiness = assessReadiness(observation, allowlist);
  const dns = parseDnsBaseline(options.dns ?? 'kube-system/k8s-app=kube-dns:53');
  return policyDocument({ allowlist, readiness, observation, kind, name: 'observed-egress', dns });
}

describe('policyDocument --kind k8s', () => {
  const text = render('k8s');
  const policy = parsePolicy(text);

  it('is a NetworkPolicy for all pods of the namespace, egress only', () => {
    expect(policy.apiVersion).toBe('networking.k8s.io/v1');
    expect(policy.kind).toBe('NetworkPolicy');
    expect(policy.metadata).toEqual({
      name: 'observed-egress',
      namespace: 'shop',
      annotations: {
        'goldmane-edge-aggregator/readiness': 'ready',
        'goldmane-edge-aggregator/observed': '2026-06-01T00:00:00Z/2026-07-01T00:00:00Z',
        'goldmane-edge-aggregator/observed-days': '30.0',
      },
    });
    expect(policy.spec.podSelector).toEqual({});
    expect(policy.spec.policyTypes).toEqual(['Egress']);
  });

  it('starts with the DNS baseline, then one rule per allowed in-cluster namespace', () => {
    expect(policy.spec.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dbaas' } } }] },
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'redis' } } }] },
    ]);
  });

  it('never allows a denied-only or unclassified destination, the off-cluster sentinel or a bad name', () => {
    const selected = JSON.stringify(policy.spec.egress);
    for (const name of ['payments', 'search', '"-"', 'Bad_Name']) expect(selected).not.toContain(name);
  });

  it('carries evidence, denied edges and the off-cluster caveat as comments', () => {
    expect(text).toContain(
      '# dbaas: first seen 2026-06-06T00:00:00Z, last seen 2026-06-30T00:00:00Z, 9007199254740993',
    );
    expect(text).toContain(
      '# some traffic to redis was denied too: this rule allows all of it (see Attention)',
    );
    expect(text).toContain('# Denied edges (never allowed by this policy):\n# - payments: 9 flows');
    expect(text).toContain('# - redis: 2 flows');
    expect(text).toContain('# - search (pass): 3 flows');
    expect(text).toMatch(
      /# Not covered: egress to endpoints outside the cluster \(public internet, host networks\) is not in the/,
    );
    expect(text).toContain('# - "Bad_Name"');
    expect(text).not.toMatch(/&a\d|\*a\d/);
  });

  it('takes a DNS baseline without a pod label, or none', () => {
    const whole = parsePolicy(render('k8s', { dns: 'dns:5353' }));
    expect(whole.spec.egress[0]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dns' } } }],
      ports: [
        { protocol: 'UDP', port: 5353 },
        { protocol: 'TCP', port: 5353 },
      ],
    });
    const none = parsePolicy(render('k8s', { dns: 'none' }));
    expect(none.spec.egress).toHaveLength(2);
    const nothing = parsePolicy(render('k8s', { dns: 'none', edges: [] }));
    expect(nothing.spec.egress).toEqual([]);
  });

  it('marks a namespace observed too briefly as not-ready', () => {
    const short = render('k8s', { observedDays: 2 });
    const parsed = parsePolicy(short);
    expect(parsed.metadata.annotations['goldmane-edge-aggregator/readiness']).toBe('not-ready');
    expect(short).toContain('# Readiness: not-ready: observed for 2.0 days;');
  });
});

describe('policyDocument --kind calico-staged', () => {
  const policy = parsePolicy(render('calico-staged'));

  it('is a StagedNetworkPolicy in the default tier selecting every endpoint of the namespace', () => {
    expect(policy.apiVersion).toBe('projectcalico.org/v3');
    expect(policy.kind).toBe('StagedNetworkPolicy');
    expect(policy.metadata.namespace).toBe('shop');
    expect(policy.spec).toMatchObject({
      stagedAction: 'Set',
      tier: 'default',
      selector: 'all()',
      types: ['Egress'],
    });
  });

  it('has the DNS baseline as UDP and TCP rules and one Allow per allowed namespace', () => {
    const dnsDestination = {
      namespaceSelector: "projectcalico.org/name == 'kube-system'",
      selector: "k8s-app == 'kube-dns'",
      ports: [53],
    };
    expect(policy.spec.egress).toEqual([
      { action: 'Allow', protocol: 'UDP', destination: dnsDestination },
      { action: 'Allow', protocol: 'TCP', destination: dnsDestination },
      { action: 'Allow', destination: { namespaceSelector: "projectcalico.org/name == 'dbaas'" } },
      { action: 'Allow', destination: { namespaceSelector: "projectcalico.org/name == 'redis'" } },
    ]);
  });
});

describe('policyStream', () => {
  it('joins documents into one YAML stream that parses back', () => {
    const observation = describeObservation({
      now: NOW,
      cursor: { observingSince: ago(30), observedUntil: NOW },
      edgeSpan: { firstSeen: ago(30), lastSeen: NOW },
      gaps: [],
      tables: { ingestCursor: true },
    });
    const docs = ['a', 'b'].map((ns) => {
      const allowlist = deriveAllowlist(ns, []);
      return policyDocument({
        allowlist,
        readiness: assessReadiness(observation, allowlist),
        observation,
        kind: 'k8s',
        name: 'x',
        dns: null,
      });
    });
    const parsed = parsePolicies(policyStream(docs)).map((p) => p.metadata.namespace);
    expect(parsed).toEqual(['a', 'b']);
  });
});
