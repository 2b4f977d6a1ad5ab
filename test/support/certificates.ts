import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCertificates, type CertificateSet } from '../../src/simulate/certificates.js';

/** A fresh CA, server and client certificate in a temporary folder. */
export function testCertificates(): Promise<CertificateSet> {
  return writeCertificates(mkdtempSync(join(tmpdir(), 'gea-certs-')));
}
