/**
 * TLS between members (sslQuorum=true with ssl.quorum.* keys), with three `ensemble server`
 * processes: they elect a leader and replicate over TLS; a process started as member 3 with a
 * certificate from a CA the others do not trust is refused and takes no part; once its key store
 * file holds a trusted certificate (sslQuorumReloadCertFiles=true) it joins without a restart.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect, NoAuthError } from '../../src/client/index.ts';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import { eventually } from '../support/recipes.ts';
import { ALICE_DN, makeTestCerts, type TestCerts } from './tls-certs.ts';
import { freePorts } from '../support/ports.ts';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };
const TEST_TIMEOUT_MS = 180_000;
/** Generous for a busy machine: how long a refused member is watched not to join. */
const WATCH_MS = 8000;

describe('quorum TLS between ensemble server processes', { timeout: TEST_TIMEOUT_MS }, () => {
  let certs: TestCerts;
  const e = new ProcessEnsemble({ size: 3 });
  /** Member 3's key store: a file of its own, so that it can be replaced. */
  let member3Key: string;
  /** Each member's secure client port. */
  const securePorts = new Map<number, number>();

  before(async () => {
    certs = makeTestCerts();
    member3Key = join(certs.dir, 'member3.pem');
    copyFileSync(certs.server.pem, member3Key);
    await e.configure();
    const ports = await freePorts(e.ids.length);
    for (const id of e.ids) {
      securePorts.set(id, ports[id - 1]);
      appendFileSync(e.member(id).config, [
        `secureClientPort=${ports[id - 1]}`, 'secureClientPortAddress=127.0.0.1',
        `ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`,
        'sslQuorum=true', 'sslQuorumReloadCertFiles=true',
        `ssl.quorum.keyStore.location=${id === 3 ? member3Key : certs.server.pem}`,
        `ssl.quorum.trustStore.location=${certs.ca}`, '',
      ].join('\n'));
      e.start(id);
    }
  });
  after(async () => {
    await e.close();
    certs?.remove();
  });

  test('three members elect a leader and replicate over TLS', async () => {
    await e.leader();
    const writer = await connect(e.connectString([1]), { logger: SILENT });
    await writer.create('/quorum-tls', Buffer.from('replicated'));
    await writer.close();
    const reader = await connect(e.connectString([3]), { logger: SILENT });
    await reader.sync('/quorum-tls');
    assert.equal((await reader.getData('/quorum-tls')).data?.toString(), 'replicated');
    await reader.close();
    // The quorum port speaks TLS, and shows the members' certificate.
    const subject = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: e.member(1).quorumPort, ca: readFileSync(certs.ca), cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.equal(subject, 'server');
  });

  test('x509 identities on the members\' secure client ports: a write through one member, its ACL checked on the others', async () => {
    const alice = { ca: readFileSync(certs.ca), cert: readFileSync(certs.alice.cert), key: readFileSync(certs.alice.key) };
    const writer = await connect(`127.0.0.1:${securePorts.get(2)}`, { logger: SILENT, tls: alice });
    await writer.create('/alice-only', Buffer.from('hers'), { acl: [{ perms: 31, id: { scheme: 'x509', id: ALICE_DN } }] });
    await writer.close();
    const reader = await connect(`127.0.0.1:${securePorts.get(3)}`, { logger: SILENT, tls: alice });
    await reader.sync('/alice-only');
    assert.equal((await reader.getData('/alice-only')).data?.toString(), 'hers');
    // A write's ACL is checked by the leader, with the identity the member it came through forwarded.
    await reader.setData('/alice-only', Buffer.from('still hers'));
    await reader.close();
    const anonymous = await connect(e.connectString([1]), { logger: SILENT });
    await anonymous.sync('/alice-only');
    await assert.rejects(anonymous.getData('/alice-only'), NoAuthError);
    await assert.rejects(anonymous.setData('/alice-only', Buffer.from('mine')), NoAuthError);
    await anonymous.close();
  });

  test('member 3 with a certificate the others do not trust is refused; with a trusted one again it joins', async () => {
    await e.kill(3);
    copyFileSync(certs.stranger.pem, member3Key);
    e.start(3);
    const others = [1, 2];
    // Watched for a while: it never follows.
    const deadline = Date.now() + WATCH_MS;
    while (Date.now() < deadline) {
      assert.notEqual(await e.mode(3), 'follower');
      await new Promise((r) => setTimeout(r, 250));
    }
    await eventually(
      () => others.some((id) => /quorum connection refused: (TLS handshake failed|its certificate is not trusted)/.test(e.member(id).output)),
      () => `a refusal in the others' logs:\n${others.map((id) => e.member(id).output.slice(-1500)).join('\n')}`,
      60_000,
    );
    // The two others still serve writes.
    const writer = await connect(e.connectString([1, 2]), { logger: SILENT });
    await writer.create('/while-refused', Buffer.from('yes'));
    await writer.close();

    copyFileSync(certs.server.pem, member3Key);
    await eventually(async () => (await e.mode(3)) === 'follower', () => `member 3 to follow:\n${e.member(3).output.slice(-1500)}`, 60_000);
    const reader = await connect(e.connectString([3]), { logger: SILENT });
    await reader.sync('/while-refused');
    assert.equal((await reader.getData('/while-refused')).data?.toString(), 'yes');
    await reader.close();
    assert.match(e.member(3).output, /quorum TLS stores reloaded/);
  });
});
