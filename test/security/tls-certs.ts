/**
 * Certificates for TLS tests, made with the openssl command into a temporary directory: a CA, a
 * server certificate for 127.0.0.1 and localhost, client certificates signed by that CA, and a
 * second CA that nobody trusts with a certificate of its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZooCfg } from '../../src/server/config.ts';
import { TestingServer } from '../../src/testing/index.ts';
import type { ServerName } from '../support/servers.ts';
import { startZooKeeper } from '../support/zookeeper.ts';

export interface CertFiles {
  /** PEM: the certificate. */
  cert: string;
  /** PEM: its private key. */
  key: string;
  /** PEM: key then certificate, as ZooKeeper's PEM key store reads them. */
  pem: string;
}

export interface TestCerts {
  dir: string;
  /** The CA's certificate (PEM): the trust store. */
  ca: string;
  server: CertFiles;
  /** Subject CN=alice,O=Acme\, Inc.,C=DE (RFC 2253): a comma to escape. */
  alice: CertFiles;
  /** Subject CN=admin: the super user when X509AuthenticationProvider.superUser names it. */
  admin: CertFiles;
  /** Signed by a CA no server trusts. */
  stranger: CertFiles;
  /** The server's key store as PKCS12, password "secret". */
  serverP12: string;
  remove(): void;
}

export const ALICE_DN = 'CN=alice,O=Acme\\, Inc.,C=DE';
export const ADMIN_DN = 'CN=admin';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A certificate signed by the CA named `ca` in `dir`; a subject in openssl's -subj form (/C=…/CN=…,
 * + joins a multi-valued RDN); `san` its subjectAltName (127.0.0.1 and localhost by default).
 */
export function issue(dir: string, name: string, subject: string, ca = 'ca', san = 'IP:127.0.0.1,DNS:localhost'): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), pem: join(dir, `${name}.pem`) };
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', `${name}.csr`, '-subj', subject, '-multivalue-rdn', '-utf8']);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', files.cert, '-days', '2', '-extfile', `${name}.ext`]);
  writeFileSync(files.pem, readFileSync(files.key, 'utf8') + readFileSync(files.cert, 'utf8'));
  return files;
}

function makeCa(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject]);
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'tls-test-'));
  makeCa(dir, 'ca', '/CN=Ensemble Test CA');
  makeCa(dir, 'other-ca', '/CN=Nobody Trusts This CA');
  const server = issue(dir, 'server', '/O=Ensemble/CN=server', 'ca');
  const serverP12 = join(dir, 'server.p12');
  openssl(dir, ['pkcs12', '-export', '-in', server.cert, '-inkey', server.key, '-out', serverP12, '-passout', 'pass:secret']);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    server,
    alice: issue(dir, 'alice', '/C=DE/O=Acme, Inc./CN=alice', 'ca'),
    admin: issue(dir, 'admin', '/CN=admin', 'ca'),
    stranger: issue(dir, 'stranger', '/CN=stranger', 'other-ca'),
    serverP12,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Apache ZooKeeper or Ensemble (a TestingServer, which adds a plain client port) started from the
 * same zoo.cfg lines; what stops it.
 */
export async function startFromZooCfg(name: ServerName, lines: string[]): Promise<() => Promise<void>> {
  if (name === 'zookeeper') {
    const zk = await startZooKeeper({ zooCfg: lines });
    return () => zk.stop();
  }
  const server = await TestingServer.start({ config: parseZooCfg(['clientPort=0', ...lines].join('\n')).config });
  return () => server.stop();
}
