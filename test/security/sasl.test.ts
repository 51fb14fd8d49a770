/**
 * SASL DIGEST-MD5 against Apache ZooKeeper and Ensemble started with the same JAAS file and zoo.cfg
 * keys: our client (right and wrong passwords, a user not in the file, sasl ACLs, the super user,
 * a reconnect) and raw GetSASLRequests (ZooKeeper's challenge, malformed tokens).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthFailedError, connect, ConnectionLossError, ZooKeeperClient } from '../../src/client/index.ts';
import { DigestMd5ClientExchange } from '../../src/client/sasl.ts';
import { OpCode } from '../../src/protocol/constants.ts';
import { parseDirectives } from '../../src/protocol/sasl-digest-md5.ts';
import { RawClient, errorName, outcomeOf } from '../support/raw-client.ts';
import { SERVER_NAMES, withBothServers, type RunningServer, type ServerName } from '../support/servers.ts';
import { SASL_SERVER_OPTIONS, SASL_USERS, saslConnect } from './sasl-support.ts';

/** Generous, for a busy machine: how long a server may take to answer or close. */
const WAIT_MS = 15_000;

const servers = withBothServers(SASL_SERVER_OPTIONS);

/** Runs `fn` against both servers and checks they agree; returns the common outcome. */
async function same<T>(label: string, fn: (server: RunningServer, name: ServerName) => Promise<T>): Promise<T> {
  // Settled both: a failure on one server must not leave the other mid-way into the next test.
  const [zk, ens] = await Promise.allSettled(SERVER_NAMES.map((n) => fn(servers.get(n), n)));
  if (zk.status === 'rejected') throw zk.reason;
  if (ens.status === 'rejected') throw ens.reason;
  const [zookeeper, ensemble] = [zk.value, ens.value];
  assert.deepEqual(ensemble, zookeeper, `${label}: Ensemble differs from ZooKeeper`);
  return zookeeper;
}

/** What a connection attempt comes to: the session's identities, or the error's name. */
async function attempt(server: RunningServer, user: string, password?: string): Promise<unknown> {
  let client: ZooKeeperClient | undefined;
  try {
    client = await saslConnect(server, user, password);
    return { ok: await client.whoAmI() };
  } catch (e) {
    return { error: (e as Error).name, auth: e instanceof AuthFailedError };
  } finally {
    await client?.close();
  }
}

const outcome = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as Error).name;
  }
};

describe('SASL DIGEST-MD5 with our client', () => {
  test('the right password: the session is sasl:<user>, and sasl ACLs let it in', async () => {
    const result = await same('right password', async (server, name) => {
      const bob = await saslConnect(server, 'bob');
      const alice = await saslConnect(server, 'alice');
      const anon = await connect(server.connectString);
      try {
        const path = `/sasl-right-${name}`;
        await bob.create(path, 'x', { acl: [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }] });
        await bob.create(`${path}-auth`, 'y', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
        return {
          whoAmI: await bob.whoAmI(),
          bobReads: String((await bob.getData(path)).data),
          acl: (await bob.getACL(path)).acl,
          authExpands: (await bob.getACL(`${path}-auth`)).acl,
          aliceReads: await outcome(alice.getData(path)),
          aliceWrites: await outcome(alice.setData(path, 'z')),
          anonReads: await outcome(anon.getData(path)),
        };
      } finally {
        await Promise.all([bob.close(), alice.close(), anon.close()]);
      }
    });
    assert.deepEqual(result.whoAmI, [{ authScheme: 'sasl', user: 'bob' }, { authScheme: 'ip', user: '127.0.0.1' }]);
    assert.equal(result.bobReads, 'x');
    assert.deepEqual(result.acl, [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }]);
    assert.deepEqual(result.authExpands, [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }]);
    assert.equal(result.aliceReads, 'NoAuthError');
    assert.equal(result.aliceWrites, 'NoAuthError');
    assert.equal(result.anonReads, 'NoAuthError');
  });

  test('a password with quotes in the JAAS file works', async () => {
    const r = await same('quoted password', (server) => attempt(server, 'alice'));
    assert.deepEqual(r, { ok: [{ authScheme: 'sasl', user: 'alice' }, { authScheme: 'ip', user: '127.0.0.1' }] });
  });

  test('a user and password outside ASCII (hashed as ISO 8859-1 when they fit, else UTF-8)', async () => {
    const r = await same('non-ASCII', (server) => attempt(server, 'jörg'));
    assert.deepEqual(r, { ok: [{ authScheme: 'sasl', user: 'jörg' }, { authScheme: 'ip', user: '127.0.0.1' }] });
  });

  test('a wrong password and a user not in the file fail with AuthFailed', async () => {
    for (const [user, password] of [['bob', 'wrong'], ['mallory', 'whatever'], ['bob', '']]) {
      const r = await same(`${user}:${password}`, (server) => attempt(server, user, password));
      assert.deepEqual(r, { error: 'AuthFailedError', auth: true }, `${user}:${password}`);
    }
  });

  test('the failed session is over: its state is AuthFailed and requests fail', async () => {
    const r = await same('after a refusal', async (server) => {
      const client = new ZooKeeperClient(server.connectString, { sasl: { mechanism: 'DIGEST-MD5', username: 'bob', password: 'wrong' } });
      const state = new Promise((resolve) => client.on('state', resolve));
      const ready = await outcome(client.ready);
      const later = await outcome(client.exists('/'));
      await client.close();
      return { ready, later, state: await outcomeOf(state, WAIT_MS) };
    });
    assert.deepEqual(r, { ready: 'AuthFailedError', later: 'AuthFailedError', state: 'AuthFailed' });
  });

  test('ZooKeeper 3.8.0 lets a user not in the file in with the password of the user who authenticated last; Ensemble does not', async () => {
    await attempt(servers.zookeeper(), 'bob');
    assert.deepEqual(await attempt(servers.zookeeper(), 'mallory', SASL_USERS.bob), { ok: [{ authScheme: 'sasl', user: 'mallory' }, { authScheme: 'ip', user: '127.0.0.1' }] });
    await attempt(servers.ensemble(), 'bob');
    assert.deepEqual(await attempt(servers.ensemble(), 'mallory', SASL_USERS.bob), { error: 'AuthFailedError', auth: true });
  });

  test('superUser: the super user passes every ACL, and a sasl user named super matches every sasl entry', async () => {
    const r = await same('super', async (server, name) => {
      const bob = await saslConnect(server, 'bob');
      const root = await saslConnect(server, 'super');
      try {
        const path = `/sasl-super-${name}`;
        await bob.create(path, 's', { acl: [{ perms: 1, id: { scheme: 'sasl', id: 'bob' } }] });
        return {
          whoAmI: await root.whoAmI(),
          reads: String((await root.getData(path)).data),
          writes: await outcome(root.setData(path, 't')),
          bobWrites: await outcome(bob.setData(path, 'u')),
        };
      } finally {
        await Promise.all([bob.close(), root.close()]);
      }
    });
    assert.deepEqual(r.whoAmI, [{ authScheme: 'sasl', user: 'super' }, { authScheme: 'super', user: '' }, { authScheme: 'ip', user: '127.0.0.1' }]);
    assert.deepEqual([r.reads, r.writes, r.bobWrites], ['s', 'ok', 'NoAuthError']);
  });

  test('sasl ACL ids: KerberosName syntax is valid, an @ out of place is InvalidACL', async () => {
    const r = await same('acl ids', async (server, name) => {
      const bob = await saslConnect(server, 'bob');
      try {
        const out: Record<string, string> = {};
        for (const [i, id] of ['bob', 'zk/host@REALM', 'svc@REALM', 'a@b@c', 'a/b/c@R', ''].entries()) {
          out[id] = await outcome(bob.create(`/sasl-ids-${name}-${i}`, '', { acl: [{ perms: 31, id: { scheme: 'sasl', id } }] }));
        }
        return out;
      } finally {
        await bob.close();
      }
    });
    assert.deepEqual(r, { 'bob': 'ok', 'zk/host@REALM': 'ok', 'svc@REALM': 'ok', 'a@b@c': 'InvalidACLError', 'a/b/c@R': 'InvalidACLError', '': 'ok' });
  });

  test('authenticates again after a reconnect (a server restart), before anything else is sent', async () => {
    const r = await same('reconnect', async (server, name) => {
      const bob = await saslConnect(server, 'bob', undefined, { sessionTimeoutMs: 30_000 });
      try {
        const path = `/sasl-reconnect-${name}`;
        await bob.create(path, 'r', { acl: [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }] });
        await server.restart();
        // Requests sent before the client notices the restart fail with ConnectionLoss: try again.
        const deadline = Date.now() + WAIT_MS;
        for (;;) {
          try {
            return { reads: String((await bob.getData(path)).data), whoAmI: await bob.whoAmI() };
          } catch (e) {
            if (!(e instanceof ConnectionLossError) || Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        await bob.close();
      }
    });
    assert.deepEqual(r, { reads: 'r', whoAmI: [{ authScheme: 'sasl', user: 'bob' }, { authScheme: 'ip', user: '127.0.0.1' }] });
  });
});

/** A GetSASLRequest: its reply's error, the token (null, or text), and whether the connection then closes. */
async function saslPacket(c: RawClient, token: Buffer | null): Promise<{ err: string; token?: string | null } | string> {
  const reply = await outcomeOf(c.request(OpCode.sasl, (w) => w.buffer(token)), WAIT_MS);
  if (typeof reply === 'string') return reply;
  const { header, body } = reply;
  // The failure carries a null token too (ZooKeeperServer.processSasl).
  const t = body.remaining >= 4 ? body.buffer() : undefined;
  return { err: errorName(header.err), token: t === undefined ? undefined : t === null ? null : t.toString('utf8') };
}

const closesAfter = async (c: RawClient): Promise<boolean> => {
  await c.waitForClose(WAIT_MS).catch(() => {});
  return !c.isOpen;
};

describe('SASL packets from a raw socket', () => {
  const rawClient = (server: RunningServer): Promise<RawClient> => RawClient.connect(server.host, server.port, { timeoutMs: 30_000, handshakeTimeoutMs: WAIT_MS });

  test('the challenge is ZooKeeper\'s: realm zk-sasl-md5, a fresh 40-character nonce, utf-8, md5-sess', async () => {
    const challenges = await same('challenge', async (server) => {
      const c = await rawClient(server);
      try {
        const first = await saslPacket(c, Buffer.alloc(0));
        assert.ok(typeof first === 'object' && typeof first.token === 'string', JSON.stringify(first));
        const d = parseDirectives(first.token!);
        return { err: first.err, keys: [...d.keys()], realm: d.get('realm'), charset: d.get('charset'), algorithm: d.get('algorithm'), nonceLength: d.get('nonce')?.length };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(challenges, { err: 'OK', keys: ['realm', 'nonce', 'charset', 'algorithm'], realm: 'zk-sasl-md5', charset: 'utf-8', algorithm: 'md5-sess', nonceLength: 40 });
  });

  test('malformed responses are AUTHFAILED with a null token, then the connection closes; the server keeps serving', async () => {
    const tokens: Array<[string, Buffer]> = [
      ['garbage', Buffer.from('garbage')],
      ['empty', Buffer.alloc(0)],
      ['no response', Buffer.from('username="bob",realm="zk-sasl-md5"')],
      ['unterminated quote', Buffer.from('username="bob')],
      ['not utf-8', Buffer.from([0xff, 0xfe, 0xfd, 0x3d, 0x22])],
      ['64 KiB of commas', Buffer.alloc(64 * 1024, ',')],
      ['duplicate keys', Buffer.from('username="bob",username="bob",nonce=x,cnonce=y,nc=00000001,digest-uri="zookeeper/zk-sasl-md5",response=00,qop=auth,realm="zk-sasl-md5"')],
    ];
    for (const [label, token] of tokens) {
      const r = await same(label, async (server) => {
        const c = await rawClient(server);
        try {
          await saslPacket(c, Buffer.alloc(0));
          return { reply: await saslPacket(c, token), closed: await closesAfter(c) };
        } finally {
          c.destroy();
        }
      });
      assert.deepEqual(r, { reply: { err: 'AUTHFAILED', token: null }, closed: true }, label);
    }
    await same('still serving', async (server) => attempt(server, 'bob'));
  });

  test('a null token: the connection closes unanswered', async () => {
    const r = await same('null token', async (server) => {
      const c = await rawClient(server);
      try {
        return { reply: await saslPacket(c, null), closed: await closesAfter(c) };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(r, { reply: 'connectionClosed', closed: true });
  });

  test('the server itself refuses the response of a wrong password or an unknown user (whatever the client would make of it)', async () => {
    for (const [username, password] of [['bob', 'wrong'], ['mallory', 'whatever']]) {
      const r = await same(`${username}:${password}`, async (server) => {
        const c = await rawClient(server);
        try {
          const client = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username, password });
          const challenge = await saslPacket(c, client.initial());
          assert.ok(typeof challenge === 'object');
          return { reply: await saslPacket(c, client.evaluate(Buffer.from(challenge.token!))!), closed: await closesAfter(c) };
        } finally {
          c.destroy();
        }
      });
      assert.deepEqual(r, { reply: { err: 'AUTHFAILED', token: null }, closed: true }, `${username}:${password}`);
    }
  });

  test('a token after a completed exchange is AUTHFAILED', async () => {
    const r = await same('after completion', async (server) => {
      const c = await rawClient(server);
      try {
        const client = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'bobsecret' });
        const challenge = await saslPacket(c, client.initial());
        assert.ok(typeof challenge === 'object');
        const done = await saslPacket(c, client.evaluate(Buffer.from(challenge.token!))!);
        assert.ok(typeof done === 'object' && done.err === 'OK', JSON.stringify(done));
        assert.equal(client.evaluate(Buffer.from(done.token!)), null, 'rspauth checks');
        return { again: await saslPacket(c, Buffer.alloc(0)), closed: await closesAfter(c) };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(r, { again: { err: 'AUTHFAILED', token: null }, closed: true });
  });
});
