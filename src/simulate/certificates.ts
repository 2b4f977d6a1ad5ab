/**
 * Fresh test certificates, made with the openssl command: a CA, a Goldmane-like server
 * certificate (the DNS names the Tigera operator issues, plus localhost and 127.0.0.1), and a
 * client certificate for the aggregator. ECDSA P-256 keys, which openssl makes in milliseconds.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The names on Goldmane's serving certificate as the operator issues it, and loopback. */
export const GOLDMANE_SERVER_NAMES = [
  'goldmane',
  'goldmane.calico-system',
  'goldmane.calico-system.svc',
  'goldmane.calico-system.svc.cluster.local',
  'localhost',
];

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateSet {
  readonly dir: string;
  readonly ca: KeyPair;
  readonly server: KeyPair;
  readonly client: KeyPair;
}

export interface IssueOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usages: readonly ('serverAuth' | 'clientAuth')[];
  /** Negative makes a certificate that has already expired. */
  readonly days?: number;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const { code, stderr } = error as { code?: string; stderr?: string };
    if (code === 'ENOENT')
      throw new Error('the openssl command is needed to make certificates; install openssl');
    throw new Error(`openssl ${args[0]} failed: ${stderr ?? (error as Error).message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function createCa(dir: string, name: string, days = 365): Promise<KeyPair> {
  await mkdir(dir, { recursive: true });
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-subj',
    `/CN=${name}`,
    '-days',
    String(days),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

export async function issueCertificate(
  ca: KeyPair,
  dir: string,
  name: string,
  options: IssueOptions,
): Promise<KeyPair> {
  await mkdir(dir, { recursive: true });
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  const altNames = [
    ...(options.dnsNames ?? []).map((dns) => `DNS:${dns}`),
    ...(options.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  await writeFile(
    extensions,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${options.usages.join(',')}`,
      ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
    ].join('\n'),
  );
  await openssl([
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    pair.key,
    '-out',
    request,
    '-subj',
    `/CN=${options.commonName}`,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    request,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${randomSerial()}`,
    '-days',
    String(options.days ?? 365),
    '-extfile',
    extensions,
    '-out',
    pair.cert,
  ]);
  await Promise.all([rm(request), rm(extensions)]);
  return pair;
}

function randomSerial(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}

/**
 * Writes ca.crt/ca.key, server.crt/server.key and client.crt/client.key into `dir`. The server
 * certificate carries both EKUs, as the operator's do; the client certificate has clientAuth.
 */
export async function writeCertificates(dir: string): Promise<CertificateSet> {
  const ca = await createCa(dir, 'ca');
  const server = await issueCertificate(ca, dir, 'server', {
    commonName: 'goldmane',
    dnsNames: GOLDMANE_SERVER_NAMES,
    ipAddresses: ['127.0.0.1'],
    usages: ['serverAuth', 'clientAuth'],
  });
  const client = await issueCertificate(ca, dir, 'client', {
    commonName: 'goldmane-edge-aggregator',
    usages: ['clientAuth'],
  });
  return { dir, ca, server, client };
}
