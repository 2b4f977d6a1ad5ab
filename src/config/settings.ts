/**
 * Every setting the program reads, in one table: its environment variable, the flag that overrides
 * it, the commands that use it, its default, and what it means. docs/configuration.md is checked
 * against this table by a test, and so are the deploy manifests' environment variables.
 *
 * The runbook's names (GOLDMANE_HOST, TLS_CERT_PATH, DATABASE_URL, SLACK_WEBHOOK_URL, ...) are a
 * contract with the people who deploy it; new settings follow the same plain style.
 */

export type CommandName =
  'aggregate' | 'migrate' | 'demo' | 'simulate' | 'digest' | 'edges' | 'allowlist' | 'policy';

export interface SettingSpec {
  readonly env: string;
  readonly commands: readonly CommandName[];
  /** As written in the environment; undefined when there is none. */
  readonly default?: string;
  readonly description: string;
  /** Never logged, never echoed in an error message. */
  readonly secret?: boolean;
  /** A yes/no setting: its flag takes no value (`--dry-run`). */
  readonly boolean?: boolean;
}

const ALL_DATABASE_COMMANDS: readonly CommandName[] = [
  'aggregate',
  'migrate',
  'demo',
  'digest',
  'edges',
  'allowlist',
  'policy',
];
const LOGGING_COMMANDS: readonly CommandName[] = [
  'aggregate',
  'migrate',
  'demo',
  'simulate',
  'digest',
  'edges',
  'allowlist',
  'policy',
];

export const SETTINGS = [
  {
    env: 'GOLDMANE_HOST',
    commands: ['aggregate'],
    default: 'goldmane.calico-system.svc.cluster.local:7443',
    description: "Goldmane's gRPC address, host:port.",
  },
  {
    env: 'GOLDMANE_SERVER_NAME',
    commands: ['aggregate'],
    description:
      "The name Goldmane's certificate must carry (TLS SNI and verification). Default: the host part of GOLDMANE_HOST. Set it when dialling an IP or a port-forward.",
  },
  {
    env: 'GOLDMANE_TLS_INSECURE',
    boolean: true,
    commands: ['aggregate'],
    default: 'false',
    description:
      "Skip verifying Goldmane's certificate (the client certificate is still sent). For debugging only; logs a warning at startup.",
  },
  {
    env: 'TLS_CERT_PATH',
    commands: ['aggregate'],
    default: '/etc/goldmane-client-tls/tls.crt',
    description: 'Client certificate (PEM) presented to Goldmane; must chain to the Tigera CA.',
  },
  {
    env: 'TLS_KEY_PATH',
    commands: ['aggregate'],
    default: '/etc/goldmane-client-tls/tls.key',
    description: 'Private key (PEM, unencrypted) of the client certificate.',
  },
  {
    env: 'CA_CERT_PATH',
    commands: ['aggregate'],
    default: '/etc/tigera-ca/tigera-ca-bundle.crt',
    description: "CA bundle (PEM) that verifies Goldmane's serving certificate.",
  },
  {
    env: 'GOLDMANE_KEEPALIVE',
    commands: ['aggregate'],
    default: '6m',
    description:
      "Interval of HTTP/2 keepalive pings that detect a dead connection; 0 turns them off. At least 5m30s: Goldmane's server punishes pings more often than every 5 minutes with GOAWAY too_many_pings.",
  },
  {
    env: 'AGGREGATOR_INSTANCE',
    commands: ['aggregate'],
    description:
      "Names this aggregator in the ingest cursor. Default: HOSTNAME (the pod name in Kubernetes), else the machine's name. A restarted container of the same instance takes the cursor over at once; another instance stands by until the owner releases it or misses three 30-second heartbeats.",
  },
  {
    env: 'DATABASE_URL',
    commands: ALL_DATABASE_COMMANDS,
    description:
      'PostgreSQL connection URL (postgres://user:password@host:5432/goldmane_edges). Required, except for demo, which then uses an embedded database.',
    secret: true,
  },
  {
    env: 'FLUSH_INTERVAL',
    commands: ['aggregate', 'demo'],
    default: '5s',
    description: 'How often coalesced edges are written to the database (at most 30s).',
  },
  {
    env: 'BUCKET_QUIET_PERIOD',
    commands: ['aggregate', 'demo'],
    default: '10s',
    description:
      "A 15-second bucket whose records stopped arriving this long ago is complete and may be written (at most 5m). Goldmane sends a bucket in one burst; the next bucket's first record completes it sooner.",
  },
  {
    env: 'INCLUDE_OFF_CLUSTER',
    boolean: true,
    commands: ['aggregate', 'demo'],
    default: 'false',
    description:
      "Keep flows to or from endpoints without a namespace (networks, host endpoints) as edges to or from the namespace '-'. Off by default: the runbook's trail is in-cluster only.",
  },
  {
    env: 'POLICY_DNS_BASELINE',
    commands: ['policy'],
    default: 'kube-system/k8s-app=kube-dns:53',
    description:
      'The DNS rule every generated egress policy starts with, UDP and TCP: NAMESPACE[/KEY=VALUE]:PORT (the pods with label KEY=VALUE in NAMESPACE, or all its pods), or none.',
  },
  {
    env: 'SLACK_WEBHOOK_URL',
    commands: ['digest'],
    description:
      'Slack incoming webhook the digest posts to (https://hooks.slack.com/services/...). Empty: the digest runs dry (prints, sends nothing) with a warning.',
    secret: true,
  },
  {
    env: 'SLACK_CHANNEL',
    commands: ['digest'],
    description:
      'Channel override put in the payload (#alerts). Leave unset for a channel-bound webhook: such a webhook answers 404 channel_not_found to any override.',
  },
  {
    env: 'DRY_RUN',
    boolean: true,
    commands: ['digest'],
    default: 'false',
    description: 'Print the exact Slack payloads on stdout instead of posting them; records nothing.',
  },
  {
    env: 'DIGEST_FIRST_RUN_WINDOW',
    commands: ['digest'],
    default: '24h',
    description:
      'The first digest ever reports edges recorded this long before it; later ones report everything since the last successful digest. 0: start from now.',
  },
  {
    env: 'DIGEST_TIMEZONE',
    commands: ['digest'],
    default: 'UTC',
    description: 'IANA timezone of the dates in the digest (Europe/London).',
  },
  {
    env: 'HTTP_PORT',
    commands: ['aggregate'],
    default: '8080',
    description: 'Port of /metrics, /healthz and /readyz; 0 turns the HTTP server off.',
  },
  {
    env: 'LOG_LEVEL',
    commands: LOGGING_COMMANDS,
    default: 'info',
    description: 'debug, info, warn or error.',
  },
  {
    env: 'LOG_FORMAT',
    commands: LOGGING_COMMANDS,
    default: 'auto',
    description: 'json (one JSON object per line), human, or auto: human on a terminal, json otherwise.',
  },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['env'];

/** The flag that overrides a setting: GOLDMANE_HOST → --goldmane-host. */
export function flagOf(env: string): string {
  return env.toLowerCase().replaceAll('_', '-');
}

export function settingsFor(command: CommandName): SettingSpec[] {
  return SETTINGS.filter((setting) => (setting.commands as readonly CommandName[]).includes(command));
}

export function settingSpec(env: SettingName): SettingSpec {
  const spec = SETTINGS.find((setting) => setting.env === env);
  if (spec === undefined) throw new Error(`unknown setting ${env}`);
  return spec;
}
