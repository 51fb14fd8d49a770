/**
 * The member-to-member transport with quorum TLS, two members in one process: they connect when
 * each trusts the other's certificate; a certificate from another CA is refused; a certificate
 * that does not name the member's address is refused while ssl.quorum.hostnameVerification is on
 * (the default, both directions) and accepted with it off.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseZooCfg } from '../../src/server/config.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { QuorumTls } from '../../src/server/net/tls-quorum.ts';
import { TcpTransport } from '../../src/server/quorum/tcp-transport.ts';
import { freePorts } from '../support/ports.ts';
import { issue, makeTestCerts, type CertFiles, type TestCerts } from './tls-certs.ts';

interface Record { msg?: string; obj: object }

describe('quorum TLS on the member transport', () => {
  let certs: TestCerts;
  let elsewhere: CertFiles;
  const open: Array<{ transport?: TcpTransport; tls: QuorumTls }> = [];
  before(() => {
    certs = makeTestCerts();
    elsewhere = issue(certs.dir, 'elsewhere', '/CN=elsewhere', 'ca', 'DNS:elsewhere.example');
  });
  after(async () => {
    for (const { transport, tls } of open) {
      await transport?.close();
      tls.close();
    }
    certs.remove();
  });

  /** Members 1 and 2 on loopback with the given key stores (member 2 dials member 1); resolves with their transports and logs. */
  async function pair(member2Key: string, hostnameVerification = true, member1Key = certs.server.pem) {
    const [p1, p2] = await freePorts(2);
    const members = [{ id: 1, host: '127.0.0.1', port: p1 }, { id: 2, host: '127.0.0.1', port: p2 }];
    const started = [];
    for (const [id, key] of [[1, member1Key], [2, member2Key]] as const) {
      const records: Record[] = [];
      const log = { info: (obj: object, msg?: string) => void records.push({ obj, msg }), warn: (obj: object, msg?: string) => void records.push({ obj, msg }), debug() {} };
      const settings = parseZooCfg(['sslQuorum=true', `ssl.quorum.keyStore.location=${key}`, `ssl.quorum.trustStore.location=${certs.ca}`,
        `ssl.quorum.hostnameVerification=${hostnameVerification}`].join('\n')).config.quorumTls!;
      const tls = new QuorumTls(settings, log);
      const transport = new TcpTransport({ myId: id, ensembleId: 'tls', members, env: realEnvironment, log, tls });
      open.push({ transport, tls });
      await transport.listen();
      started.push({ transport, records });
    }
    return started;
  }

  const connected = (t: TcpTransport) => t.status().every((p) => p.connected);
  async function settle(ms: number, done: () => boolean): Promise<void> {
    for (const deadline = Date.now() + ms; Date.now() < deadline && !done();) await new Promise((r) => setTimeout(r, 20));
  }
  const refusals = (records: Record[]) => records.filter((r) => r.msg?.startsWith('quorum connection refused')).map((r) => r.msg!);

  test('sslQuorumReloadCertFiles: a changed key store is read again; a broken one leaves the previous in use', async () => {
    const key = join(certs.dir, 'reloaded.pem');
    copyFileSync(certs.server.pem, key);
    const records: Record[] = [];
    const log = { info: (obj: object, msg?: string) => void records.push({ obj, msg }), warn: (obj: object, msg?: string) => void records.push({ obj, msg }) };
    const settings = parseZooCfg(['sslQuorum=true', `ssl.quorum.keyStore.location=${key}`, `ssl.quorum.trustStore.location=${certs.ca}`].join('\n')).config.quorumTls!;
    const tls = new QuorumTls(settings, log, true);
    open.push({ tls });
    const before = tls.serverOptions();
    const seen: unknown[] = [];
    tls.onReload((o) => seen.push(o));
    writeFileSync(key, 'not a key store\n');
    await settle(15_000, () => records.some((r) => r.msg?.includes('the previous ones stay in use')));
    assert.equal(tls.serverOptions(), before);
    assert.deepEqual(seen, []);
    copyFileSync(certs.stranger.pem, key);
    await settle(15_000, () => seen.length > 0);
    assert.equal(seen.length, 1);
    assert.notEqual(tls.serverOptions().cert, before.cert);
    assert.equal(tls.serverOptions().cert, readFileSync(certs.stranger.pem, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
  });

  test('both trusted: connected', async () => {
    const [m1, m2] = await pair(certs.server.pem);
    await settle(10_000, () => connected(m1.transport) && connected(m2.transport));
    assert.ok(connected(m1.transport) && connected(m2.transport));
  });

  test('a certificate from another CA: refused, never connected', async () => {
    const [m1, m2] = await pair(certs.stranger.pem);
    await settle(3000, () => false);
    assert.ok(!connected(m1.transport) && !connected(m2.transport));
    assert.ok(refusals(m1.records).length > 0, JSON.stringify(m1.records));
  });

  test('a certificate that does not name the member\'s address, dialling or dialled: refused with hostnameVerification, accepted without', async () => {
    const [m1, m2] = await pair(elsewhere.pem);
    await settle(3000, () => false);
    assert.ok(!connected(m1.transport) && !connected(m2.transport));
    assert.match(refusals(m1.records).join('\n'), /its certificate does not name 127\.0\.0\.1/);
    // The other direction: the member dialled shows a certificate that does not name the address dialled.
    const [d1, d2] = await pair(certs.server.pem, true, elsewhere.pem);
    await settle(3000, () => false);
    assert.ok(!connected(d1.transport) && !connected(d2.transport));
    const [n1, n2] = await pair(elsewhere.pem, false);
    await settle(10_000, () => connected(n1.transport) && connected(n2.transport));
    assert.ok(connected(n1.transport) && connected(n2.transport));
  });
});
