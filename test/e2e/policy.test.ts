/**
 * `policy` as a subprocess: the YAML parses back with the expected apiVersion, kind, selectors,
 * rules and DNS baseline for both kinds; denied and off-cluster destinations never appear in an
 * allow rule; a namespace observed too briefly gets a warning on stderr; --out DIR writes one
 * file per namespace.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { parsePolicies, parsePolicy, type ParsedPolicy } from '../support/policy-yaml.js';
import { edge, seedCursor, seedEdges, trailDatabase } from '../support/trail-seed.js';

let db: { url: string; pool: pg.Pool };
let brief: { url: string; pool: pg.Pool };
let outDir: string;

beforeAll(async () => {
  [db, brief] = await Promise.all([trailDatabase('e2e_policy'), trailDatabase('e2e_policy_brief')]);
  await seedEdges(db.pool, [
    edge('shop', '-', 'allow', 7, '25 days', '6 hours'),
    edge('shop', 'dbaas', 'allow', '9007199254740993', '25 days', '1 hour'),
    edge('shop', 'kube-system', 'allow', 10, '20 days', '2 hours'),
    edge('shop', 'payments', 'deny', 9, '20 days', '3 hours'),
    edge('shop', 'redis', 'allow', 5, '15 days', '4 hours'),
    edge('shop', 'redis', 'deny', 2, '15 days', '5 hours'),
    edge('shop', 'search', 'pass', 3, '15 days', '5 hours'),
    edge('cart', 'shop', 'allow', 100, '28 days', '5 minutes'),
    edge('-', 'web', 'allow', 6, '20 days', '15 minutes'),
  ]);
  await seedCursor(db.pool, '30 days');
  await seedEdges(brief.pool, [edge('shop', 'dbaas', 'allow', 12, '1 day', '1 hour')]);
  await seedCursor(brief.pool, '2 days');
  outDir = await mkdtemp(join(tmpdir(), 'gea-policy-'));
});

afterAll(async () => {
  await Promise.all([db.pool.end(), brief.pool.end()]);
  await rm(outDir, { recursive: true, force: true });
});

const selectedNamespaces = (policy: ParsedPolicy): string[] =>
  JSON.stringify(policy.spec.egress)
    .match(/"kubernetes\.io\/metadata\.name":"[^"]*"|projectcalico\.org\/name == '[^']*'/g)!
    .map((m) => m.replace(/.*[:=] ?["']?/, '').replace(/["']$/, ''));

describe('policy --kind k8s (default)', () => {
  let text: string;
  let stderr: string;
  beforeAll(async () => {
    const result = await runCli(['policy', 'shop'], { DATABASE_URL: db.url });
    expect(result.code, result.stderr).toBe(0);
    text = result.stdout;
    stderr = result.stderr;
  });

  it('is a NetworkPolicy selecting all pods of the namespace, egress only', () => {
    const policy = parsePolicy(text);
    expect(policy.apiVersion).toBe('networking.k8s.io/v1');
    expect(policy.kind).toBe('NetworkPolicy');
    expect(policy.metadata.name).toBe('observed-egress');
    expect(policy.metadata.namespace).toBe('shop');
    expect(policy.metadata.annotations['goldmane-edge-aggregator/readiness']).toBe('ready');
    expect(policy.spec.podSelector).toEqual({});
    expect(policy.spec.policyTypes).toEqual(['Egress']);
  });

  it('has the DNS baseline and one rule per allowed namespace; never a denied, unclassified or off-cluster one', () => {
    const policy = parsePolicy(text);
    expect(policy.spec.egress[0]).toEqual({
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
    });
    expect(selectedNamespaces(policy)).toEqual(['kube-system', 'dbaas', 'kube-system', 'redis']);
    expect(selectedNamespaces(policy)).not.toContain('payments');
    expect(selectedNamespaces(policy)).not.toContain('search');
    expect(selectedNamespaces(policy)).not.toContain('-');
  });

  it('lists evidence, denied edges and the off-cluster caveat in comments; nothing on stderr when ready', () => {
    expect(text).toMatch(
      /\n {4}# dbaas: first seen \S+Z, last seen \S+Z, 9007199254740993 flows\n {4}- to:\n/,
    );
    expect(text).toMatch(/# Denied edges \(never allowed by this policy\):\n# - payments: 9 flows/);
    expect(text).toContain('# - redis: 2 flows');
    expect(text).toContain('# - search (pass): 3 flows');
    expect(text).toContain('# Not covered: egress to endpoints outside the cluster');
    expect(text).toContain('egress to endpoints outside the cluster was observed (7 flows)');
    expect(stderr).toBe('');
  });
});

describe('policy --kind calico-staged', () => {
  it('is a StagedNetworkPolicy with the same allowed namespaces and DNS as UDP and TCP rules', async () => {
    const result = await runCli(['policy', 'shop', '--kind', 'calico-staged'], { DATABASE_URL: db.url });
    expect(result.code, result.stderr).toBe(0);
    const policy = parsePolicy(result.stdout);
    expect(policy.apiVersion).toBe('projectcalico.org/v3');
    expect(policy.kind).toBe('StagedNetworkPolicy');
    expect(policy.metadata.namespace).toBe('shop');
    expect(policy.spec).toMatchObject({
      stagedAction: 'Set',
      tier: 'default',
      selector: 'all()',
      types: ['Egress'],
    });
    const dns = {
      namespaceSelector: "projectcalico.org/name == 'kube-system'",
      selector: "k8s-app == 'kube-dns'",
      ports: [53],
    };
    expect(policy.spec.egress).toEqual([
      { action: 'Allow', protocol: 'UDP', destination: dns },
      { action: 'Allow', protocol: 'TCP', destination: dns },
      { action: 'Allow', destination: { namespaceSelector: "projectcalico.org/name == 'dbaas'" } },
      { action: 'Allow', destination: { namespaceSelector: "projectcalico.org/name == 'kube-system'" } },
      { action: 'Allow', destination: { namespaceSelector: "projectcalico.org/name == 'redis'" } },
    ]);
  });
});

describe('policy options', () => {
  it('takes the DNS baseline from the environment or the flag (flag wins), or none', async () => {
    const fromEnv = await runCli(['policy', 'cart'], {
      DATABASE_URL: db.url,
      POLICY_DNS_BASELINE: 'dns:5353',
    });
    expect(parsePolicy(fromEnv.stdout).spec.egress[0]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dns' } } }],
      ports: [
        { protocol: 'UDP', port: 5353 },
        { protocol: 'TCP', port: 5353 },
      ],
    });
    const none = await runCli(['policy', 'cart', '--policy-dns-baseline', 'none', '--name', 'learned'], {
      DATABASE_URL: db.url,
      POLICY_DNS_BASELINE: 'dns:5353',
    });
    const policy = parsePolicy(none.stdout);
    expect(policy.metadata.name).toBe('learned');
    expect(policy.spec.egress).toEqual([
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } }] },
    ]);
  });

  it('several namespaces make one YAML stream', async () => {
    const result = await runCli(['policy', 'shop', 'cart'], { DATABASE_URL: db.url });
    expect(parsePolicies(result.stdout).map((p) => p.metadata.namespace)).toEqual(['shop', 'cart']);
  });

  it('a namespace observed for 2 days: not-ready in the policy and a warning on stderr', async () => {
    const result = await runCli(['policy', 'shop'], { DATABASE_URL: brief.url });
    expect(result.code).toBe(0);
    expect(parsePolicy(result.stdout).metadata.annotations['goldmane-edge-aggregator/readiness']).toBe(
      'not-ready',
    );
    expect(result.stdout).toContain('# Readiness: not-ready: observed for 2.0 days;');
    expect(result.stderr).toBe(
      'warning: not ready: observed for 2.0 days; collect at least 7.0 days of edges before treating an allow set as complete (a weekly job or a 7-day credential rotation may not have run yet) (shop)\n',
    );
  });
});

describe('policy --out DIR', () => {
  it('writes one file per source namespace (never for -) and prints their paths', async () => {
    const dir = join(outDir, 'all');
    const result = await runCli(['policy', '--out', dir, '--kind', 'calico-staged'], {
      DATABASE_URL: db.url,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${join(dir, 'cart.yaml')}\n${join(dir, 'shop.yaml')}\n`);
    expect(result.stderr).toBe(`wrote 2 StagedNetworkPolicy file(s) to ${dir}\n`);
    expect((await readdir(dir)).sort()).toEqual(['cart.yaml', 'shop.yaml']);
    const shop = parsePolicy(await readFile(join(dir, 'shop.yaml'), 'utf8'));
    expect(shop.kind).toBe('StagedNetworkPolicy');
    expect(shop.metadata.namespace).toBe('shop');
    expect(parsePolicy(await readFile(join(dir, 'cart.yaml'), 'utf8')).metadata.namespace).toBe('cart');
  });

  it('writes only the named namespaces when some are given', async () => {
    const dir = join(outDir, 'named');
    const result = await runCli(['policy', 'shop', '--out', dir], { DATABASE_URL: db.url });
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(dir)).toEqual(['shop.yaml']);
  });

  it('reports a directory it cannot write as a usage error', async () => {
    const result = await runCli(['policy', 'shop', '--out', '/dev/null/policies'], { DATABASE_URL: db.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error \[USAGE\]: --out: cannot write policies to \/dev\/null\/policies: ENOTDIR/,
    );
  });
});
