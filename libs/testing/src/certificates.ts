import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a throwaway certificate authority and what it signed, for real TLS handshakes in tests. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  /** For localhost and 127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /** A client certificate (mutual TLS). */
  clientCert: string;
  clientKey: string;
  read(file: string): Buffer;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/**
 * A CA (named `caName`, so two sets are told apart), and a server and a client certificate it signs, made
 * with the openssl CLI. EC P-256: fast.
 */
export function makeTestCertificates(
  caName = 'Tern test CA',
  dir = mkdtempSync(join(tmpdir(), 'tern-tls-')),
): TestCertificates {
  const key = (name: string) =>
    openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`],
      dir,
    );
  key('ca');
  openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-subj', `/CN=${caName}`, '-days', '2', '-out', 'ca.crt'],
    dir,
  );
  const issue = (name: string, subject: string, extensions: string) => {
    key(name);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    const sign = [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
    ];
    openssl([...sign, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
  };
  issue(
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  issue('client', '/CN=tern-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    read: (file) => readFileSync(file),
  };
}
