/**
 * The deploy manifests and the Dockerfile, checked against the code they run: a manifest that
 * names a variable the program does not read, an arg that is not a command, a probe path that is
 * not served or an alert on a metric that does not exist fails here, not in a cluster.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createAggregatorMetrics } from '../../src/aggregate/metrics.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { SETTINGS, settingsFor, type CommandName } from '../../src/config/settings.js';
import { HTTP_ROUTES } from '../../src/http/http-server.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  readinessProbe?: { httpGet: { path: string; port: string | number } };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

const kustomization = parseAllDocuments(read('deploy/kustomization.yaml'))[0]!.toJS() as {
  resources: string[];
};
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(`deploy/${file}`)).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`deploy/${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  }),
);

function find(kind: string, name: string): Manifest {
  const manifest = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (manifest === undefined) throw new Error(`no ${kind} ${name} in deploy/`);
  return manifest;
}

function podSpec(manifest: Manifest): {
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
} {
  const spec = manifest.spec as {
    template?: { spec: ReturnType<typeof podSpec> };
    jobTemplate?: { spec: { template: { spec: ReturnType<typeof podSpec> } } };
  };
  return spec.template?.spec ?? spec.jobTemplate!.spec.template.spec;
}

const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'CronJob');
const commandNames = COMMANDS.map((entry) => entry.name as string);

describe('deploy/', () => {
  it('lists only files that exist, each parsing as YAML', () => {
    expect(kustomization.resources.filter((file) => !existsSync(new URL(`deploy/${file}`, ROOT)))).toEqual(
      [],
    );
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'CronJob/goldmane-edges-digest',
      'Deployment/goldmane-edge-aggregator',
      'Namespace/goldmane-edge-aggregator',
      'NetworkPolicy/goldmane-edge-aggregator-egress',
      'NetworkPolicy/goldmane-edges-digest-egress',
      'PrometheusRule/goldmane-edge-aggregator',
      'Service/goldmane-edge-aggregator',
      'ServiceMonitor/goldmane-edge-aggregator',
    ]);
  });

  it('runs only CLI commands, with only variables those commands read', () => {
    for (const workload of workloads) {
      for (const container of podSpec(workload).containers) {
        const command = container.args?.[0];
        expect(commandNames, `${workload.metadata.name}: args ${JSON.stringify(container.args)}`).toContain(
          command,
        );
        const known = settingsFor(command as CommandName).map((setting) => setting.env);
        for (const variable of container.env ?? []) {
          expect(known, `${workload.metadata.name}/${container.name}: ${variable.name}`).toContain(
            variable.name,
          );
        }
      }
    }
  });

  it('mounts the client certificate and CA bundle where the runbook defaults point', () => {
    const container = podSpec(find('Deployment', 'goldmane-edge-aggregator')).containers[0]!;
    const defaults = Object.fromEntries(
      SETTINGS.map((setting) => [setting.env, 'default' in setting ? setting.default : undefined]),
    );
    const mounts = Object.fromEntries(
      (container.volumeMounts ?? []).map((mount) => [mount.name, mount.mountPath]),
    );
    expect(`${mounts['goldmane-client-tls']}/tls.crt`).toBe(defaults.TLS_CERT_PATH);
    expect(`${mounts['goldmane-client-tls']}/tls.key`).toBe(defaults.TLS_KEY_PATH);
    expect(`${mounts['tigera-ca-bundle']}/tigera-ca-bundle.crt`).toBe(defaults.CA_CERT_PATH);
    const volumes = podSpec(find('Deployment', 'goldmane-edge-aggregator')).volumes ?? [];
    expect(volumes).toEqual([
      { name: 'goldmane-client-tls', secret: { secretName: 'goldmane-client-tls' } },
      { name: 'tigera-ca-bundle', configMap: { name: 'tigera-ca-bundle' } },
    ]);
  });

  it('probes paths the HTTP server serves, on the port it listens on', () => {
    const container = podSpec(find('Deployment', 'goldmane-edge-aggregator')).containers[0]!;
    const httpPort = Number(container.env?.find((variable) => variable.name === 'HTTP_PORT')?.value);
    expect(container.ports).toEqual([{ name: 'http', containerPort: httpPort }]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: HTTP_ROUTES.liveness, port: 'http' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: HTTP_ROUTES.readiness, port: 'http' });
    const monitor = find('ServiceMonitor', 'goldmane-edge-aggregator').spec as {
      endpoints: { port: string; path: string }[];
    };
    expect(monitor.endpoints.map((endpoint) => [endpoint.port, endpoint.path])).toEqual([
      ['http', HTTP_ROUTES.metrics],
    ]);
  });

  it("keeps the runbook's Deployment and CronJob contract", () => {
    const deployment = find('Deployment', 'goldmane-edge-aggregator');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.metadata.annotations?.['secret.reloader.stakater.com/reload']).toBe(
      'goldmane-edges-db-creds',
    );
    const cronJob = find('CronJob', 'goldmane-edges-digest').spec;
    expect([
      cronJob.schedule,
      cronJob.timeZone,
      cronJob.concurrencyPolicy,
      cronJob.startingDeadlineSeconds,
    ]).toEqual(['0 8 * * *', 'Europe/London', 'Forbid', 3600]);
    expect(podSpec(find('CronJob', 'goldmane-edges-digest')).containers[0]!.args).toEqual(['digest']);
  });

  it('alerts only on metrics the aggregator exports (or kube-state-metrics provides)', async () => {
    const registry = createAggregatorMetrics().registry;
    const families = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const rules = (
      find('PrometheusRule', 'goldmane-edge-aggregator').spec as {
        groups: { rules: { alert: string; expr: string }[] }[];
      }
    ).groups.flatMap((group) => group.rules);
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining(['AggregatorDown', 'DigestFailing', 'GoldmaneEdgesStale']),
    );
    for (const rule of rules) {
      const names = rule.expr.match(/\b[a-z_][a-z0-9_]*(?=[{[\s)]|$)/g) ?? [];
      for (const name of names.filter((n) => n.startsWith('goldmane_edge_aggregator_'))) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        expect(families, `${rule.alert}: ${name}`).toContain(family);
      }
      for (const name of names.filter((n) => n.startsWith('kube_'))) {
        expect(['kube_deployment_status_replicas_available', 'kube_job_status_failed'], rule.alert).toContain(
          name,
        );
      }
    }
  });

  it('lets the aggregator reach Goldmane, PostgreSQL and DNS, and the digest Slack', () => {
    const policy = (name: string): { egress: { ports: { protocol: string; port: number }[] }[] } =>
      find('NetworkPolicy', name).spec as { egress: { ports: { protocol: string; port: number }[] }[] };
    const ports = (name: string): string[] =>
      policy(name).egress.flatMap((rule) => rule.ports.map((p) => `${p.protocol}/${p.port}`));
    expect(ports('goldmane-edge-aggregator-egress')).toEqual(['TCP/7443', 'TCP/5432', 'UDP/53', 'TCP/53']);
    expect(ports('goldmane-edges-digest-egress')).toEqual(['TCP/5432', 'UDP/53', 'TCP/53', 'TCP/443']);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('copies only files that exist', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) =>
      match[1]!.split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((source) => !existsSync(new URL(source, ROOT)))).toEqual([]);
  });

  it('runs the package\'s bin as the entrypoint, so args ["aggregate"] and ["digest"] work', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!) as string[];
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint.at(-1)).toBe(pkg.bin['goldmane-edge-aggregator']);
    expect(/^CMD \["aggregate"\]$/m.test(dockerfile)).toBe(true);
    expect(/^USER node$/m.test(dockerfile)).toBe(true);
  });
});
