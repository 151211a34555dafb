/**
 * Test certificates made with the openssl command line: a throwaway CA, and a node certificate for
 * 127.0.0.1 usable both as a TLS server and as a TLS client (for mutual TLS between nodes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM material for a test cluster. */
export interface TestCertificates {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Generates a CA and a node certificate in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...curve, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=troupe-test-ca');
  run('req', ...curve, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=troupe-node');
  writeFileSync(join(dir, 'node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '1', '-extfile', 'node.ext');
  return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), cert: readFileSync(join(dir, 'node.crt'), 'utf8'), key: readFileSync(join(dir, 'node.key'), 'utf8') };
}
