/**
 * Loads and checks the client certificate, its key and the CA bundle before anything dials
 * Goldmane. A wrong file otherwise surfaces only as a generic "UNAVAILABLE" from grpc, often with
 * no hint at all (a foreign CA gives just "Failed to connect"), so the checks name the file and the
 * problem. Messages name files, never their contents.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TlsPaths {
  readonly certPath: string;
  readonly keyPath: string;
  /** null when the server is not verified (GOLDMANE_TLS_INSECURE). */
  readonly caPath: string | null;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** null when the server is not verified. */
  readonly ca: Buffer | null;
  readonly certSubject: string;
  readonly certNotAfter: Date;
  /** Certificates of the CA bundle that are not valid now, beside at least one that is. */
  readonly caWarnings: readonly string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

function readFile(label: string, path: string, problems: string[]): Buffer | null {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read (${code ?? 'unknown error'})`;
    problems.push(`${label}: ${path} ${why}`);
    return null;
  }
}

function parseCertificates(label: string, path: string, pem: Buffer, problems: string[]): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    problems.push(`${label}: ${path} contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
    return [];
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      problems.push(`${label}: ${path} certificate #${index + 1} does not parse as X.509`);
    }
  }
  return certificates;
}

/** Why a certificate is not valid at `now` ("expired on ..."), or null if it is. */
function validityProblem(cert: X509Certificate, now: Date): string | null {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() < now.getTime()) return `expired on ${notAfter.toISOString()}`;
  if (notBefore.getTime() > now.getTime()) return `is not valid before ${notBefore.toISOString()}`;
  return null;
}

// PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and traditional OpenSSL ("Proc-Type: 4,ENCRYPTED") forms.
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;

function parseKey(path: string, pem: Buffer, problems: string[]): KeyObject | null {
  if (ENCRYPTED_KEY.test(pem.toString('utf8'))) {
    problems.push(
      `TLS_KEY_PATH: ${path} is encrypted; provide the key unencrypted (as in a Kubernetes TLS secret)`,
    );
    return null;
  }
  try {
    return createPrivateKey(pem);
  } catch {
    problems.push(`TLS_KEY_PATH: ${path} does not parse as a PEM private key`);
    return null;
  }
}

/** Reads and checks the three files; appends one line per problem to `problems`. */
export function loadTlsMaterial(paths: TlsPaths, now: Date, problems: string[]): TlsMaterial | null {
  const before = problems.length;
  const certPem = readFile('TLS_CERT_PATH', paths.certPath, problems);
  const keyPem = readFile('TLS_KEY_PATH', paths.keyPath, problems);
  const caPem = paths.caPath === null ? null : readFile('CA_CERT_PATH', paths.caPath, problems);

  let cert: X509Certificate | undefined;
  if (certPem !== null) {
    cert = parseCertificates('TLS_CERT_PATH', paths.certPath, certPem, problems)[0];
    if (cert !== undefined) {
      const invalid = validityProblem(cert, now);
      if (invalid !== null) {
        problems.push(
          `TLS_CERT_PATH: ${paths.certPath} ${invalid}; ${invalid.startsWith('expired') ? 'renew it (see docs/operations.md, "Certificates")' : 'check the clock or the certificate'}`,
        );
      }
      // Go's TLS server (Goldmane) refuses a client certificate whose extended key usage lacks clientAuth.
      const usages = cert.keyUsage;
      if (usages !== undefined && usages.length > 0 && !usages.includes(CLIENT_AUTH_EKU)) {
        problems.push(
          `TLS_CERT_PATH: ${paths.certPath} is not usable as a client certificate (its extended key usage lacks clientAuth)`,
        );
      }
    }
  }
  const key = keyPem === null ? null : parseKey(paths.keyPath, keyPem, problems);
  if (cert !== undefined && key !== null && !cert.checkPrivateKey(key)) {
    problems.push(
      `TLS_KEY_PATH: ${paths.keyPath} does not match the certificate in TLS_CERT_PATH (${paths.certPath})`,
    );
  }
  const caWarnings: string[] = [];
  if (caPem !== null && paths.caPath !== null) {
    // A bundle may keep an expired or not-yet-valid CA beside the current one (operators keep the
    // old one across a rotation): that is worth a warning, not a refusal. Only a bundle with no
    // usable certificate at all cannot verify Goldmane.
    const checks = parseCertificates('CA_CERT_PATH', paths.caPath, caPem, problems).map((ca) => ({
      subject: ca.subject,
      problem: validityProblem(ca, now),
    }));
    const invalid = checks
      .filter((check) => check.problem !== null)
      .map((check) => `${check.subject} ${check.problem}`);
    if (checks.length > 0 && invalid.length === checks.length) {
      problems.push(`CA_CERT_PATH: ${paths.caPath} has no certificate valid now (${invalid.join('; ')})`);
    } else {
      caWarnings.push(...invalid);
    }
  }
  if (problems.length > before || certPem === null || keyPem === null || cert === undefined) return null;
  return {
    cert: certPem,
    key: keyPem,
    ca: caPem,
    certSubject: cert.subject,
    certNotAfter: new Date(cert.validTo),
    caWarnings,
  };
}
