/** Differential: ACLs, digest/super/ip auth, the `auth` scheme, getACL redaction, whoAmI. */
import assert from 'node:assert/strict';
import { Err, OpCode } from '../../src/protocol/constants.ts';
import type { ACL } from '../../src/protocol/records.ts';
import { SUPER_AUTH, SUPER_DIGEST } from '../support/servers.ts';
import { differential } from './harness.ts';

/** How long a server may take to close a connection it is due to close: generous, for a busy machine. */
const CLOSE_WAIT_MS = 15_000;

const ALICE_DIGEST = 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='; // base64(sha1("alice:secret")), checked below
const world = (perms: number): ACL => ({ perms, id: { scheme: 'world', id: 'anyone' } });

differential('acl', { superDigest: SUPER_DIGEST }, ({ scenario }) => {
  scenario('digest auth, the auth scheme, and NoAuth', async (t) => {
    const alice = await t.client();
    const anon = await t.client();
    const r = t.root;
    await t.op(alice, 'tryWhoAmI');
    await t.op(alice, 'tryAuth', 'digest', 'alice:secret');
    await t.op(alice, 'tryWhoAmI');
    await t.op(alice, 'tryCreate', r, 'x', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
    const acl = (await t.op(alice, 'tryGetACL', r)).value!;
    assert.equal(acl.acl[0].id.id, ALICE_DIGEST, 'auth expands to the digest identity');
    await t.op(anon, 'tryGetData', r);
    await t.op(anon, 'trySetData', r, 'y');
    await t.op(anon, 'tryCreate', `${r}/kid`, '');
    await t.op(anon, 'tryGetACL', r);
    await t.op(anon, 'tryExists', r);
    await t.op(anon, 'tryGetChildren', r);
    await t.op(anon, 'tryGetAllChildrenNumber', r);
    await t.op(alice, 'tryCreate', `${r}/kid`, '');
    await t.op(anon, 'tryDelete', `${r}/kid`);
    await t.op(anon, 'trySetACL', r, [world(31)]);
    await t.op(anon, 'tryAuth', 'digest', 'alice:wrong');
    await t.op(anon, 'tryGetData', r);
    await t.op(anon, 'tryAuth', 'digest', 'alice:secret');
    await t.op(anon, 'tryWhoAmI');
    await t.op(anon, 'tryGetData', r);
    await t.op(alice, 'tryCreate', `${r}/two`, '', { acl: [{ perms: 1, id: { scheme: 'auth', id: '' } }, { perms: 30, id: { scheme: 'digest', id: 'bob:xyz' } }] });
    await t.op(alice, 'tryGetACL', `${r}/two`);
    await t.op(anon, 'tryMultiRead', [{ type: 4, req: { path: r, watch: false } }]);
  });

  scenario('getACL redaction without ADMIN, setACL versions', async (t) => {
    const a = await t.client();
    const b = await t.client();
    const r = t.root;
    await t.op(a, 'tryAuth', 'digest', 'alice:secret');
    await t.op(a, 'tryCreate', r, '', { acl: [world(1), { perms: 31, id: { scheme: 'digest', id: ALICE_DIGEST } }] });
    await t.op(b, 'tryGetACL', r);
    await t.op(a, 'tryGetACL', r);
    await t.op(a, 'tryCreate', `${r}/noread`, '', { acl: [world(16), { perms: 31, id: { scheme: 'digest', id: ALICE_DIGEST } }] });
    await t.op(b, 'tryGetACL', `${r}/noread`);
    await t.op(a, 'tryCreate', `${r}/none`, '', { acl: [world(2), { perms: 31, id: { scheme: 'digest', id: ALICE_DIGEST } }] });
    await t.op(b, 'tryGetACL', `${r}/none`);
    await t.op(a, 'trySetACL', r, [world(31)], 1);
    await t.op(a, 'trySetACL', r, [world(31)], 0);
    await t.op(a, 'trySetACL', r, [world(31)], 0);
    await t.op(a, 'trySetACL', r, [world(31)], -1);
    const got = await t.op(b, 'tryGetACL', r);
    assert.equal(got.value!.stat.aversion, 2);
  });

  scenario('super user and ip ACLs', async (t) => {
    const a = await t.client();
    const s = await t.client();
    const r = t.root;
    await t.op(a, 'tryCreate', r, '');
    await t.op(a, 'tryCreate', `${r}/locked`, 'secret', { acl: [{ perms: 31, id: { scheme: 'digest', id: 'nobody:abc' } }] });
    await t.op(s, 'tryGetData', `${r}/locked`);
    await t.op(s, 'tryAuth', 'digest', SUPER_AUTH);
    await t.op(s, 'tryWhoAmI');
    const sup = await t.op(s, 'tryGetData', `${r}/locked`);
    assert.equal(sup.err, 0, 'super reads anything');
    await t.op(s, 'tryGetACL', `${r}/locked`);
    await t.op(s, 'trySetData', `${r}/locked`, 'x');
    await t.op(s, 'tryCreate', `${r}/locked/kid`, '');
    await t.op(s, 'tryCreate', `${r}/superauth`, '', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
    await t.op(s, 'tryGetACL', `${r}/superauth`);
    await t.op(a, 'tryCreate', `${r}/ip`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.1' } }] });
    await t.op(a, 'tryGetData', `${r}/ip`);
    await t.op(a, 'tryCreate', `${r}/net`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.0/8' } }] });
    await t.op(a, 'tryGetData', `${r}/net`);
    await t.op(a, 'tryCreate', `${r}/other`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '10.1.2.3' } }] });
    const denied = await t.op(a, 'tryGetData', `${r}/other`);
    assert.equal(denied.err, Err.NOAUTH);
    await t.op(a, 'tryCreate', `${r}/ipv6`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '::1' } }] });
    await t.op(a, 'tryCreate', `${r}/badbits`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.1/40' } }] });
    await t.op(a, 'tryAuth', 'ip', '');
    await t.op(a, 'tryWhoAmI');
  });

  scenario('the auth scheme expands to the identities in whoAmI order, skipping ip', async (t) => {
    const c = await t.client();
    const ipOnly = await t.client();
    const r = t.root;
    const auth = (perms: number): ACL => ({ perms, id: { scheme: 'auth', id: '' } });
    await t.op(c, 'tryCreate', r, '');
    // Only an ip identity: nothing to expand to.
    await t.op(ipOnly, 'tryCreate', `${r}/iponly`, '', { acl: [auth(31)] });
    // Added as cat, ann, bob; ZooKeeper's set lists them bob, ann, 127.0.0.1, cat.
    const users = ['cat', 'ann', 'bob'];
    for (const u of users) await t.op(c, 'tryAuth', 'digest', `${u}:pw`);
    const who = (await t.op(c, 'tryWhoAmI')).value!;
    const digestOrder = who.filter((i) => i.authScheme === 'digest').map((i) => i.user);
    assert.notDeepEqual(digestOrder, users, 'the scenario needs a whoAmI order unlike the addauth order');
    assert.ok(who.some((i) => i.authScheme === 'ip'), 'the ip identity is there too');
    await t.op(c, 'tryCreate', `${r}/a`, '', { acl: [auth(31)] });
    await t.op(c, 'tryGetACL', `${r}/a`);
    await t.op(c, 'tryCreate', `${r}/b`, '', { acl: [world(1), auth(31), auth(1), { perms: 3, id: { scheme: 'digest', id: 'ann:x' } }] });
    await t.op(c, 'tryGetACL', `${r}/b`);
    await t.op(c, 'trySetACL', `${r}/b`, [auth(7)]);
    await t.op(c, 'tryGetACL', `${r}/b`);
    await t.op(c, 'tryCreate', `${r}/e`, '', { flags: 1, acl: [auth(31)] });
    await t.op(c, 'tryGetACL', `${r}/e`);
    await t.op(c, 'tryMulti', [{ type: OpCode.create, req: { path: `${r}/m`, data: null, acl: [auth(31)], flags: 0, ttl: -1 } }]);
    await t.op(c, 'tryGetACL', `${r}/m`);
    // A fourth identity, added again (no change), and an ip addauth (the ip identity is already there).
    await t.op(c, 'tryAuth', 'digest', 'dan:pw');
    await t.op(c, 'tryAuth', 'digest', 'cat:pw');
    await t.op(c, 'tryAuth', 'ip', '');
    await t.op(c, 'tryWhoAmI');
    await t.op(c, 'tryCreate', `${r}/f`, '', { acl: [auth(31)] });
    await t.op(c, 'tryGetACL', `${r}/f`);
  });

  scenario('unknown auth scheme fails and closes', async (t) => {
    const a = await t.client();
    await t.op(a, 'tryCreate', t.root, '');
    await t.op(a, 'tryAuth', 'kerberos', 'x');
    await t.expectClose(a, CLOSE_WAIT_MS);
  });
});
