/**
 * Egress policy documents for one namespace, from its allowlist: a Kubernetes NetworkPolicy, or
 * the same as a Calico StagedNetworkPolicy (previewed in Whisker's staged-policy view before
 * anything is enforced). Each rule's evidence is a YAML comment; readiness is also an annotation,
 * so it survives `kubectl apply` (comments do not).
 * Pure: no I/O.
 *
 * What can never become an allow rule: a destination seen only with action deny (or pass or
 * unspecified), the off-cluster sentinel '-', and anything that is not a Kubernetes namespace name.
 */
import { isValidNamespace } from '../edges/flow-to-edge.js';
import type { AllowedDestination, Allowlist } from './allowlist.js';
import { Commented, blockYaml } from './block-yaml.js';
import type { DnsBaseline } from './dns-baseline.js';
import { days, duration, type Readiness, type TrailObservation } from './readiness.js';

export const POLICY_KINDS = ['k8s', 'calico-staged'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export const DEFAULT_POLICY_NAME = 'observed-egress';

/** Set by Kubernetes (1.21 and later) on every namespace: selects a namespace by name. */
export const K8S_NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** Calico's documented label for matching a namespace by name in a namespaceSelector. */
export const CALICO_NAMESPACE_NAME_LABEL = 'projectcalico.org/name';

const ANNOTATION = 'goldmane-edge-aggregator';
/** Comment lines are wrapped here so that the policy stays readable in a review. */
const COMMENT_WIDTH = 100;

export interface PolicyInput {
  readonly allowlist: Allowlist;
  readonly readiness: Readiness;
  readonly observation: TrailObservation;
  readonly kind: PolicyKind;
  readonly name: string;
  /** null: no DNS rule. */
  readonly dns: DnsBaseline | null;
}

function iso(date: Date | null): string {
  return date === null ? 'unknown' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function wrap(line: string, indent: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current !== '' && current.length + word.length + 1 > COMMENT_WIDTH) {
      out.push(current);
      current = indent + word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

/**
 * A YAML comment (each line gets its own `#`). Header lines are wrapped; a rule's evidence stays on
 * one line so that it can be found with grep.
 */
function comment(lines: readonly string[], wrapLines = true): string {
  return lines
    .flatMap((line) =>
      line === '' ? [''] : wrapLines ? wrap(line, line.startsWith('- ') ? '    ' : '  ') : [line],
    )
    .map((line) => (line === '' ? '' : ` ${line}`))
    .join('\n');
}

/** The destinations that become allow rules: in-cluster, valid namespace names, seen allowed. */
export function ruleDestinations(allowlist: Allowlist): AllowedDestination[] {
  return allowlist.allowed.filter((a) => !a.offCluster && isValidNamespace(a.dst));
}

function headerLines(input: PolicyInput): string[] {
  const { allowlist, readiness, observation } = input;
  const lines = [
    `Egress policy for namespace ${allowlist.namespace}, derived from the goldmane-edge-aggregator trail (the edge table). Review it before applying: it allows what was observed, nothing more.`,
    `Observation: ${iso(observation.since)} to ${iso(observation.until)}, ${duration(observation.coveredMs)} observed (source: ${observation.source}${observation.gaps === null ? ', gaps unknown' : observation.gaps.length === 0 ? ', no recorded gaps' : `, ${observation.gaps.length} recorded gap(s)`}).`,
    `Readiness: ${readiness.verdict}${readiness.reasons.length === 0 ? '' : `: ${readiness.reasons.join('; ')}`}`,
  ];
  const notes = [...observation.notes, ...readiness.attention];
  if (notes.length > 0) lines.push('', 'Attention:', ...notes.map((note) => `- ${note}`));
  lines.push(
    '',
    'Not covered: egress to endpoints outside the cluster (public internet, host networks) is not in the edge table; take those destinations from the Calico flow-log path before enforcing.',
  );
  if (allowlist.denied.length > 0) {
    lines.push(
      '',
      'Denied edges (never allowed by this policy):',
      ...allowlist.denied.map(
        (d) =>
          `- ${d.dst}: ${d.flowCount} flows, first seen ${iso(d.firstSeen)}, last seen ${iso(d.lastSeen)}`,
      ),
    );
  }
  if (allowlist.other.length > 0) {
    lines.push(
      '',
      'Edges neither allowed nor denied (not allowed by this policy):',
      ...allowlist.other.map(
        (o) => `- ${o.dst} (${o.action}): ${o.flowCount} flows, last seen ${iso(o.lastSeen)}`,
      ),
    );
  }
  const skipped = allowlist.allowed.filter((a) => !a.offCluster && !isValidNamespace(a.dst));
  if (skipped.length > 0) {
    lines.push(
      '',
      'Skipped (not a Kubernetes namespace name, cannot be selected):',
      ...skipped.map((s) => `- ${JSON.stringify(s.dst)}`),
    );
  }
  return lines;
}

function evidenceComment(destination: AllowedDestination): string {
  const lines = [
    `${destination.dst}: first seen ${iso(destination.firstSeen)}, last seen ${iso(destination.lastSeen)}, ${destination.flowCount} flows`,
  ];
  if (destination.alsoDenied) {
    lines.push(
      `some traffic to ${destination.dst} was denied too: this rule allows all of it (see Attention)`,
    );
  }
  return comment(lines, false);
}

function dnsComment(dns: DnsBaseline): string {
  const pods = dns.podLabel === null ? 'all pods' : `pods ${dns.podLabel.key}=${dns.podLabel.value}`;
  return comment([
    `DNS baseline (POLICY_DNS_BASELINE): ${pods} in ${dns.namespace}, UDP and TCP ${dns.port}`,
  ]);
}

function metadata(input: PolicyInput): Record<string, unknown> {
  const { observation, readiness } = input;
  return {
    name: input.name,
    namespace: input.allowlist.namespace,
    annotations: {
      [`${ANNOTATION}/readiness`]: readiness.verdict,
      [`${ANNOTATION}/observed`]: `${iso(observation.since)}/${iso(observation.until)}`,
      [`${ANNOTATION}/observed-days`]: days(observation.coveredMs),
    },
  };
}

function k8sRules(input: PolicyInput, destinations: readonly AllowedDestination[]): unknown[] {
  const rules: unknown[] = [];
  if (input.dns !== null) {
    const peer: Record<string, unknown> = {
      namespaceSelector: { matchLabels: { [K8S_NAMESPACE_NAME_LABEL]: input.dns.namespace } },
    };
    if (input.dns.podLabel !== null) {
      peer.podSelector = { matchLabels: { [input.dns.podLabel.key]: input.dns.podLabel.value } };
    }
    const ports = [
      { protocol: 'UDP', port: input.dns.port },
      { protocol: 'TCP', port: input.dns.port },
    ];
    rules.push(new Commented(dnsComment(input.dns), { to: [peer], ports }));
  }
  for (const destination of destinations) {
    const rule = {
      to: [{ namespaceSelector: { matchLabels: { [K8S_NAMESPACE_NAME_LABEL]: destination.dst } } }],
    };
    rules.push(new Commented(evidenceComment(destination), rule));
  }
  return rules;
}

function calicoNamespace(name: string): string {
  // Values are validated namespace names / label values: no quote can occur inside.
  return `${CALICO_NAMESPACE_NAME_LABEL} == '${name}'`;
}

function calicoRules(input: PolicyInput, destinations: readonly AllowedDestination[]): unknown[] {
  const rules: unknown[] = [];
  if (input.dns !== null) {
    const dns = input.dns;
    const destination = (): Record<string, unknown> => ({
      namespaceSelector: calicoNamespace(dns.namespace),
      ...(dns.podLabel === null ? {} : { selector: `${dns.podLabel.key} == '${dns.podLabel.value}'` }),
      ports: [dns.port],
    });
    // Calico rules with ports name one protocol each.
    rules.push(
      new Commented(dnsComment(dns), { action: 'Allow', protocol: 'UDP', destination: destination() }),
    );
    rules.push({ action: 'Allow', protocol: 'TCP', destination: destination() });
  }
  for (const destination of destinations) {
    const rule = { action: 'Allow', destination: { namespaceSelector: calicoNamespace(destination.dst) } };
    rules.push(new Commented(evidenceComment(destination), rule));
  }
  return rules;
}

/** One policy as a YAML document, with its header comment. */
export function policyDocument(input: PolicyInput): string {
  const destinations = ruleDestinations(input.allowlist);
  const body =
    input.kind === 'k8s'
      ? {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: metadata(input),
          spec: {
            podSelector: {},
            policyTypes: ['Egress'],
            egress: k8sRules(input, destinations),
          },
        }
      : {
          apiVersion: 'projectcalico.org/v3',
          kind: 'StagedNetworkPolicy',
          metadata: metadata(input),
          spec: {
            stagedAction: 'Set',
            tier: 'default',
            selector: 'all()',
            types: ['Egress'],
            egress: calicoRules(input, destinations),
          },
        };
  const header = headerLines(input);
  if (destinations.length === 0 && input.dns === null) {
    header.push('', 'No rules: this policy denies all egress of the namespace.');
  }
  return blockYaml(body, comment(header));
}

/** Several documents as one YAML stream. */
export function policyStream(documents: readonly string[]): string {
  return documents.join('---\n');
}
