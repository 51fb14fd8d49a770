/**
 * SASL on a 3-member ensemble of `ensemble server` processes, which find the JAAS file as
 * zkServer.sh would pass it (-Djava.security.auth.login.config in SERVER_JVMFLAGS): a session's
 * sasl identity travels with the writes its member forwards to the leader, and every member checks
 * sasl ACLs on reads.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, NoAuthError, type ZooKeeperClient } from '../../src/client/index.ts';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import type { RunningServer } from '../support/servers.ts';
import { JAAS_FILE, saslConnect } from './sasl-support.ts';

describe('SASL on a 3-member ensemble', () => {
  const e = new ProcessEnsemble({ size: 3 });
  const clients: ZooKeeperClient[] = [];
  let leader = 0;
  let followers: number[] = [];
  const savedFlags = process.env.SERVER_JVMFLAGS;

  /** A RunningServer naming one member only, so that the client stays on it. */
  const only = (id: number): RunningServer => ({ connectString: e.connectString([id]) }) as RunningServer;
  const as = async (user: string, id: number): Promise<ZooKeeperClient> => {
    const c = await saslConnect(only(id), user);
    clients.push(c);
    return c;
  };

  before(async () => {
    process.env.SERVER_JVMFLAGS = `-Xmx256m -Djava.security.auth.login.config=${JAAS_FILE}`;
    await e.configure();
    for (const id of e.ids) appendFileSync(e.member(id).config, 'authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nsuperUser=super\n');
    for (const id of e.ids) e.start(id);
    leader = await e.leader();
    followers = e.ids.filter((id) => id !== leader);
  });

  after(async () => {
    for (const c of clients) await c.close();
    await e.close();
    if (savedFlags === undefined) delete process.env.SERVER_JVMFLAGS;
    else process.env.SERVER_JVMFLAGS = savedFlags;
  });

  test('writes forwarded by a follower carry the sasl identity; every member checks sasl ACLs', async () => {
    const [f1, f2] = followers;
    const bob = await as('bob', f1);
    assert.deepEqual(await bob.whoAmI(), [{ authScheme: 'sasl', user: 'bob' }, { authScheme: 'ip', user: '127.0.0.1' }]);
    await bob.create('/bobs', 'b', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
    assert.deepEqual((await bob.getACL('/bobs')).acl, [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }], 'auth expanded on the leader from the forwarded identity');
    await bob.setData('/bobs', 'b2');

    const bobElsewhere = await as('bob', f2);
    await bobElsewhere.sync('/bobs');
    assert.equal(String((await bobElsewhere.getData('/bobs')).data), 'b2');

    const alice = await as('alice', f2);
    await assert.rejects(alice.getData('/bobs'), NoAuthError);
    await assert.rejects(alice.setData('/bobs', 'a'), NoAuthError, 'a forwarded write checked against alice\'s identity');
    await assert.rejects(alice.create('/bobs/kid', ''), NoAuthError);

    const root = await as('super', leader);
    await root.setData('/bobs', 'root');
    const anon = await connect(e.connectString([f1]));
    clients.push(anon);
    await assert.rejects(anon.getData('/bobs'), NoAuthError);
  });

  test('a wrong password is refused by any member', async () => {
    for (const id of e.ids) {
      await assert.rejects(saslConnect(only(id), 'bob', 'wrong'), (err: Error) => err.name === 'AuthFailedError', `member ${id}`);
    }
  });
});
