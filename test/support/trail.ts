/**
 * Helpers for tests that run the aggregate job against a simulator and a real database.
 */
import type pg from 'pg';
import type { CertificateSet } from '../../src/simulate/certificates.js';

export type EdgeTuple = [
  src: string,
  dst: string,
  action: string,
  firstSeen: string,
  lastSeen: string,
  flowCount: string,
];

/** The whole edge table, ordered, with times as ISO strings and counts as exact strings. */
export async function edgeTable(pool: pg.Pool): Promise<EdgeTuple[]> {
  const { rows } = await pool.query<{
    src_ns: string;
    dst_ns: string;
    action: string;
    first_seen: Date;
    last_seen: Date;
    flow_count: string;
  }>('SELECT * FROM edge ORDER BY src_ns, dst_ns, action');
  return rows.map((r) => [
    r.src_ns,
    r.dst_ns,
    r.action,
    r.first_seen.toISOString(),
    r.last_seen.toISOString(),
    r.flow_count,
  ]);
}

export function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

/** Environment for `goldmane-edge-aggregator aggregate` against a local simulator. */
export function aggregateEnv(
  certs: CertificateSet,
  port: number,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    GOLDMANE_HOST: `127.0.0.1:${port}`,
    GOLDMANE_SERVER_NAME: 'goldmane.calico-system.svc',
    TLS_CERT_PATH: certs.client.cert,
    TLS_KEY_PATH: certs.client.key,
    CA_CERT_PATH: certs.ca.cert,
    DATABASE_URL: databaseUrl,
    FLUSH_INTERVAL: '200ms',
    BUCKET_QUIET_PERIOD: '300ms',
    GOLDMANE_KEEPALIVE: '0',
    // Off unless a test asks for it: parallel aggregators must not fight over port 8080.
    HTTP_PORT: '0',
    LOG_FORMAT: 'json',
    ...extra,
  };
}
