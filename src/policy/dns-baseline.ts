/**
 * The DNS rule every generated egress policy starts with: pods can resolve names even though DNS
 * is rarely a namespace-to-namespace edge worth learning (and, without it, a default-deny egress
 * policy breaks every lookup). Written as NAMESPACE[/KEY=VALUE]:PORT, or `none`.
 * Pure: no I/O.
 */
import { isValidNamespace } from '../edges/flow-to-edge.js';

export const DEFAULT_DNS_BASELINE = 'kube-system/k8s-app=kube-dns:53';

export interface DnsBaseline {
  readonly namespace: string;
  /** The DNS pods' label; null: every pod of the namespace. */
  readonly podLabel: { readonly key: string; readonly value: string } | null;
  readonly port: number;
}

// Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at most 63 characters.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return LABEL_NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && LABEL_PREFIX.test(prefix) && LABEL_NAME.test(key.slice(slash + 1));
}

/** null for `none`. Throws an Error that says what is wrong. */
export function parseDnsBaseline(text: string): DnsBaseline | null {
  const value = text.trim();
  if (value === 'none') return null;
  const form = `use NAMESPACE[/KEY=VALUE]:PORT such as ${DEFAULT_DNS_BASELINE}, or none`;
  const match = /^([^/:]+)(?:\/([^=:]+)=([^:]+))?:(\d{1,5})$/.exec(value);
  if (match === null) throw new Error(`"${text}" is not a DNS baseline; ${form}`);
  const [, namespace, key, labelValue, portText] = match as unknown as [
    string,
    string,
    string | undefined,
    string | undefined,
    string,
  ];
  if (!isValidNamespace(namespace))
    throw new Error(`"${namespace}" is not a Kubernetes namespace name; ${form}`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new Error(`port ${portText} is out of range (1-65535); ${form}`);
  if (key === undefined || labelValue === undefined) return { namespace, podLabel: null, port };
  if (!isLabelKey(key)) throw new Error(`"${key}" is not a Kubernetes label key; ${form}`);
  if (!LABEL_NAME.test(labelValue))
    throw new Error(`"${labelValue}" is not a Kubernetes label value; ${form}`);
  return { namespace, podLabel: { key, value: labelValue }, port };
}
