/**
 * Regressions the ACL matrix found. An ip ACL id is read as IPAuthenticationProvider reads it:
 * split("/", 2), so everything after the first slash is the mask bits, and each number with
 * Integer.parseInt. Ensemble split with JavaScript's limit, which drops the rest: it accepted
 * `127.0.0.1/8/8` (ZooKeeper: INVALIDACL) and granted it to 127.0.0.1 as if it were `/8`. And x509
 * ACLs on a server with no secure client port.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Perms } from '../../src/protocol/constants.ts';
import type { Id } from '../../src/protocol/records.ts';
import { mayAccess } from '../../src/server/auth/acl.ts';
import { differential } from './harness.ts';

const LOOPBACK: Id[] = [{ scheme: 'ip', id: '127.0.0.1' }];
const grantsLoopback = (id: string): boolean => mayAccess([{ perms: Perms.ALL, id: { scheme: 'ip', id } }], Perms.READ, LOOPBACK);

test('an ip ACL id with anything after a second slash grants nothing, even one stored before the fix', () => {
  for (const id of ['127.0.0.1/8/8', '127.0.0.0/8/', '127.0.0.1/32/0', '0.0.0.0/0/x']) assert.equal(grantsLoopback(id), false, id);
});

test('ip ACL ids that Integer.parseInt reads still match', () => {
  for (const id of ['127.0.0.1', '127.000.000.001', '127.0.0.+1', '127.0.0.1/+32', '127.0.0.1/08', '0.0.0.0/0', '-0.0.0.0/0']) {
    assert.equal(grantsLoopback(id), true, id);
  }
  for (const id of ['127.0.0.2', '127.0.0.2/32', '127.0.0.1/33', '127.0.0.1/-1', '127.0.0', '::ffff:127.0.0.1', '']) {
    assert.equal(grantsLoopback(id), false, id);
  }
});

differential('acl-matrix-regressions', {}, ({ scenario }) => {
  // Ensemble accepted x509 ACLs whatever its configuration; ZooKeeper refuses them with no secure
  // client port (no x509 provider). No session could hold an x509 identity there: it granted nothing.
  scenario('without a secure client port an x509 ACL is INVALIDACL, as it has no provider', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/x509`, '', { acl: [{ perms: Perms.ALL, id: { scheme: 'x509', id: 'CN=alice' } }] });
  });

  scenario('ip ACL ids are accepted and matched as ZooKeeper reads them', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    const ids = ['127.0.0.1/8/8', '127.0.0.0/8/', '10.0.0.0/8/8', '127.000.000.001', '127.0.0.+1', '127.0.0.1/+8', '-0.0.0.0/0', '127.0.0.1/ 8'];
    for (const [i, id] of ids.entries()) {
      await t.op(c, 'tryCreate', `${t.root}/${i}`, 'data', { acl: [{ perms: Perms.ALL, id: { scheme: 'ip', id } }] });
      await t.op(c, 'tryGetData', `${t.root}/${i}`);
    }
  });
});
