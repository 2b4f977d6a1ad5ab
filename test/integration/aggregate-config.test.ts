import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAggregateConfig } from '../../src/config/load-config.js';
import { AppError } from '../../src/errors.js';
import { createCa, issueCertificate, type CertificateSet } from '../../src/simulate/certificates.js';
import { testCertificates } from '../support/certificates.js';

let certs: CertificateSet;
let dir: string;

beforeAll(async () => {
  certs = await testCertificates();
  dir = mkdtempSync(join(tmpdir(), 'gea-config-'));
});

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    GOLDMANE_HOST: 'goldmane.calico-system.svc.cluster.local:7443',
    TLS_CERT_PATH: certs.client.cert,
    TLS_KEY_PATH: certs.client.key,
    CA_CERT_PATH: certs.ca.cert,
    DATABASE_URL:
      'postgres://goldmane_edges:s3cret-pw@pg-cluster-rw.dbaas.svc.cluster.local:5432/goldmane_edges',
    ...overrides,
  };
}

function problems(overrides: Record<string, string>, flags: Record<string, string> = {}): string[] {
  try {
    loadAggregateConfig(env(overrides), flags);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONFIG_INVALID');
    return [...(error as AppError).problems];
  }
  return [];
}

describe('loadAggregateConfig', () => {
  it('accepts the runbook defaults plus valid files, and derives the server name from the host', () => {
    const config = loadAggregateConfig(env(), {});
    expect(config.goldmane).toMatchObject({
      target: 'goldmane.calico-system.svc.cluster.local:7443',
      serverName: 'goldmane.calico-system.svc.cluster.local',
      serverNameOverridden: false,
      insecure: false,
      keepaliveMs: 360_000,
    });
    expect(config.ingest).toEqual({ flushIntervalMs: 5000, quietPeriodMs: 10_000, includeOffCluster: false });
  });

  it('uses the runbook default paths when nothing is set, and names each missing file', () => {
    const found = problems({ TLS_CERT_PATH: '', TLS_KEY_PATH: '', CA_CERT_PATH: '', GOLDMANE_HOST: '' });
    expect(found).toEqual([
      'TLS_CERT_PATH: /etc/goldmane-client-tls/tls.crt does not exist',
      'TLS_KEY_PATH: /etc/goldmane-client-tls/tls.key does not exist',
      'CA_CERT_PATH: /etc/tigera-ca/tigera-ca-bundle.crt does not exist',
    ]);
  });

  it('reports every problem at once', () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    const found = problems({
      GOLDMANE_HOST: 'goldmane',
      TLS_CERT_PATH: garbage,
      CA_CERT_PATH: join(dir, 'missing.crt'),
      GOLDMANE_KEEPALIVE: '30s',
      FLUSH_INTERVAL: '5',
      INCLUDE_OFF_CLUSTER: 'maybe',
      LOG_LEVEL: 'loud',
    });
    expect(found).toEqual([
      'GOLDMANE_HOST: "goldmane" is not host:port (e.g. goldmane.calico-system.svc.cluster.local:7443)',
      'GOLDMANE_KEEPALIVE: pings more often than every 5m30s make Goldmane close the connection (GOAWAY too_many_pings); use 0 or at least 5m30s',
      `CA_CERT_PATH: ${join(dir, 'missing.crt')} does not exist`,
      `TLS_CERT_PATH: ${garbage} contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`,
      'FLUSH_INTERVAL: "5" is not a duration; use a number with a unit: ms, s, m, h or d (e.g. 5s, 24h)',
      'INCLUDE_OFF_CLUSTER: "maybe" is not a boolean; use true or false',
      'LOG_LEVEL: "loud" is not one of info, debug, warn, error',
    ]);
  });

  it('refuses a flush interval and a quiet period longer than they can act', () => {
    expect(problems({ FLUSH_INTERVAL: '2m', BUCKET_QUIET_PERIOD: '2h' })).toEqual([
      'FLUSH_INTERVAL: 2m is too long; the maximum is 30s (the cursor heartbeat writes pending edges that often anyway)',
      'BUCKET_QUIET_PERIOD: 2h is too long; the maximum is 5m (Goldmane sends each bucket in one burst; waiting longer only holds the trail back)',
    ]);
    expect(problems({ FLUSH_INTERVAL: '30s', BUCKET_QUIET_PERIOD: '5m' })).toEqual([]);
  });

  it('F1: refuses a key that does not match the certificate', () => {
    expect(problems({ TLS_KEY_PATH: certs.server.key })).toEqual([
      `TLS_KEY_PATH: ${certs.server.key} does not match the certificate in TLS_CERT_PATH (${certs.client.cert})`,
    ]);
  });

  it('F1: refuses an expired client certificate', async () => {
    const expired = await issueCertificate(certs.ca, dir, 'expired', {
      commonName: 'old',
      usages: ['clientAuth'],
      days: -1,
    });
    const found = problems({ TLS_CERT_PATH: expired.cert, TLS_KEY_PATH: expired.key });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      new RegExp(
        `^TLS_CERT_PATH: ${expired.cert} expired on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.000Z; renew it`,
      ),
    );
  });

  it('F1: refuses a certificate that cannot be a TLS client (no clientAuth usage)', async () => {
    const serverOnly = await issueCertificate(certs.ca, dir, 'server-only', {
      commonName: 'x',
      usages: ['serverAuth'],
    });
    expect(problems({ TLS_CERT_PATH: serverOnly.cert, TLS_KEY_PATH: serverOnly.key })).toEqual([
      `TLS_CERT_PATH: ${serverOnly.cert} is not usable as a client certificate (its extended key usage lacks clientAuth)`,
    ]);
  });

  it('F1: refuses an encrypted key and a CA file that is not PEM', () => {
    const encrypted = join(dir, 'encrypted.key');
    execFileSync('openssl', [
      'pkey',
      '-in',
      certs.client.key,
      '-aes256',
      '-passout',
      'pass:secret',
      '-out',
      encrypted,
    ]);
    const notPem = join(dir, 'ca.der');
    execFileSync('openssl', ['x509', '-in', certs.ca.cert, '-outform', 'DER', '-out', notPem]);
    expect(problems({ TLS_KEY_PATH: encrypted, CA_CERT_PATH: notPem })).toEqual([
      `TLS_KEY_PATH: ${encrypted} is encrypted; provide the key unencrypted (as in a Kubernetes TLS secret)`,
      `CA_CERT_PATH: ${notPem} contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`,
    ]);
  });

  it('reads a CA bundle of several certificates', async () => {
    const other = await createCa(join(dir, 'other'), 'other-ca');
    const bundle = join(dir, 'bundle.crt');
    execFileSync('sh', ['-c', `cat ${certs.ca.cert} ${other.cert} > ${bundle}`]);
    expect(loadAggregateConfig(env({ CA_CERT_PATH: bundle }), {}).goldmane.tls.ca?.toString()).toContain(
      'BEGIN CERTIFICATE',
    );
  });

  it('accepts a bundle holding an expired CA beside a valid one (with a warning), refuses one with none valid', async () => {
    const { mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
    const oldDir = join(dir, 'old-ca');
    mkdirSync(oldDir, { recursive: true });
    await issueCertificate(certs.ca, oldDir, 'old', {
      commonName: 'old-ca',
      usages: ['serverAuth'],
      days: -1,
    });
    const bundle = join(dir, 'rotated-bundle.crt');
    writeFileSync(
      bundle,
      readFileSync(join(oldDir, 'old.crt'), 'utf8') + readFileSync(certs.ca.cert, 'utf8'),
    );
    const warnings = loadAggregateConfig(env({ CA_CERT_PATH: bundle }), {}).goldmane.tls.caWarnings;
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^CN=old-ca expired on \d{4}-/);
    const found = problems({ CA_CERT_PATH: join(oldDir, 'old.crt') });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      new RegExp(
        `^CA_CERT_PATH: ${join(oldDir, 'old.crt')} has no certificate valid now \\(CN=old-ca expired on `,
      ),
    );
  });

  it('does not need the CA file when the server is not verified (GOLDMANE_TLS_INSECURE)', () => {
    const config = loadAggregateConfig(
      env({ GOLDMANE_TLS_INSECURE: 'true', CA_CERT_PATH: join(dir, 'nope.crt') }),
      {},
    );
    expect(config.goldmane.insecure).toBe(true);
    expect(config.goldmane.tls.ca).toBeNull();
  });

  it('lets flags override the environment, and GOLDMANE_SERVER_NAME override the name checked', () => {
    const config = loadAggregateConfig(env({ GOLDMANE_HOST: '10.42.3.17:7443' }), {
      'goldmane-server-name': 'goldmane.calico-system.svc',
      'flush-interval': '2s',
    });
    expect(config.goldmane).toMatchObject({
      target: '10.42.3.17:7443',
      serverName: 'goldmane.calico-system.svc',
      serverNameOverridden: true,
    });
    expect(config.ingest.flushIntervalMs).toBe(2000);
  });

  it('never echoes the database URL (it holds the password)', () => {
    const found = problems({ DATABASE_URL: 'mysql://user:s3cret-pw@host/db' });
    expect(found).toEqual([
      'DATABASE_URL must start with postgres:// or postgresql:// (it starts with mysql://)',
    ]);
    const unparseable = problems({ DATABASE_URL: 's3cret-pw not a url' });
    expect(unparseable.join('\n')).not.toContain('s3cret-pw');
    expect(unparseable).toEqual([
      'DATABASE_URL is not a URL (value not shown: it may hold a password); set it to postgres://USER:PASSWORD@HOST:5432/goldmane_edges',
    ]);
    expect(problems({ DATABASE_URL: '' })).toEqual([
      'DATABASE_URL is not set: set it to postgres://USER:PASSWORD@HOST:5432/goldmane_edges',
    ]);
  });

  it('reads a copied certificate the same as the original (the runbook copies the secret)', () => {
    const copy = join(dir, 'tls.crt');
    copyFileSync(certs.client.cert, copy);
    expect(loadAggregateConfig(env({ TLS_CERT_PATH: copy }), {}).goldmane.tls.certSubject).toBe(
      'CN=goldmane-edge-aggregator',
    );
  });
});
