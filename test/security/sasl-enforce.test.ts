/**
 * sessionRequireClientSASLAuth=true against Apache ZooKeeper and Ensemble: a connection must
 * authenticate with SASL before its first request; one that does not, or fails, is answered
 * SESSIONCLOSEDREQUIRESASLAUTH and closed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { DigestMd5ClientExchange } from '../../src/client/sasl.ts';
import { OpCode } from '../../src/protocol/constants.ts';
import { AuthEnforcement } from '../../src/server/auth/sasl.ts';
import { errorName, outcomeOf, RawClient } from '../support/raw-client.ts';
import { SERVER_NAMES, withBothServers, type RunningServer, type ServerName } from '../support/servers.ts';
import { JAAS_FILE, SASL_ZOO_CFG, saslConnect } from './sasl-support.ts';

const WAIT_MS = 15_000;

describe('sessionRequireClientSASLAuth=true', () => {
  const servers = withBothServers({ jaasFile: JAAS_FILE, zooCfg: [...SASL_ZOO_CFG, 'sessionRequireClientSASLAuth=true'] });

  async function same<T>(label: string, fn: (server: RunningServer, name: ServerName) => Promise<T>): Promise<T> {
    const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => fn(servers.get(n), n)));
    assert.deepEqual(ensemble, zookeeper, `${label}: Ensemble differs from ZooKeeper`);
    return zookeeper;
  }

  const raw = (server: RunningServer): Promise<RawClient> => RawClient.connect(server.host, server.port, { timeoutMs: 30_000, handshakeTimeoutMs: WAIT_MS });
  const closed = async (c: RawClient): Promise<boolean> => {
    await c.waitForClose(WAIT_MS).catch(() => {});
    return !c.isOpen;
  };

  test('a request before SASL: SESSIONCLOSEDREQUIRESASLAUTH, and the connection closes', async () => {
    const r = await same('unauthenticated', async (server) => {
      const c = await raw(server);
      try {
        const reply = await outcomeOf(c.tryExists('/'), WAIT_MS);
        return { reply: typeof reply === 'string' ? reply : errorName(reply.err), closed: await closed(c) };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(r, { reply: 'SESSIONCLOSEDREQUIRESASLAUTH', closed: true });
  });

  test('addauth digest does not count; a SASL user is served', async () => {
    const r = await same('digest, then sasl', async (server) => {
      const c = await raw(server);
      try {
        const auth = await c.tryAuth('digest', 'alice:secret');
        const reply = await outcomeOf(c.tryExists('/'), WAIT_MS);
        const bob = await saslConnect(server, 'bob');
        const served = await bob.exists('/').then(() => 'ok', (e: Error) => e.name);
        await bob.close();
        return { auth: errorName(auth.err), reply: typeof reply === 'string' ? reply : errorName(reply.err), served };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(r, { auth: 'OK', reply: 'SESSIONCLOSEDREQUIRESASLAUTH', served: 'ok' });
  });

  test('a failed SASL exchange is SESSIONCLOSEDREQUIRESASLAUTH rather than AUTHFAILED', async () => {
    const r = await same('wrong password', async (server) => {
      const c = await raw(server);
      try {
        const client = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'wrong' });
        const first = await c.request(OpCode.sasl, (w) => w.buffer(client.initial()));
        const second = await outcomeOf(c.request(OpCode.sasl, (w) => w.buffer(client.evaluate(first.body.buffer()!)!)), WAIT_MS);
        return { reply: typeof second === 'string' ? second : errorName(second.header.err), closed: await closed(c) };
      } finally {
        c.destroy();
      }
    });
    assert.deepEqual(r, { reply: 'SESSIONCLOSEDREQUIRESASLAUTH', closed: true });
  });

  test('our client without the sasl option: its first request fails', async () => {
    const r = await same('client without sasl', async (server) => {
      let c: ZooKeeperClient | undefined;
      try {
        c = await connect(server.connectString, { connectTimeoutMs: 30_000 });
        return await c.exists('/').then(() => 'ok', (e: Error) => e.name);
      } finally {
        await c?.close();
      }
    });
    assert.equal(r, 'SessionClosedRequireSaslError');
  });
});

describe('AuthEnforcement settings', () => {
  test('as AuthenticationHelper reads them, refusing what ZooKeeper refuses to start with', () => {
    assert.equal(AuthEnforcement.of(undefined), undefined);
    assert.equal(AuthEnforcement.of({ enforceAuth: false, enforceSchemes: ['digest'] }), undefined);
    const digest = AuthEnforcement.of({ enforceAuth: true, enforceSchemes: ['digest', 'ip'] })!;
    assert.equal(digest.saslRequired, false);
    assert.equal(digest.allows([{ scheme: 'ip', id: '127.0.0.1' }]), true);
    const sasl = AuthEnforcement.of({ requireSasl: true, provider: true, enforceAuth: true, enforceSchemes: ['digest'] })!;
    assert.equal(sasl.saslRequired, true, 'sessionRequireClientSASLAuth takes precedence');
    assert.equal(sasl.allows([{ scheme: 'ip', id: '127.0.0.1' }, { scheme: 'digest', id: 'a:b' }]), false);
    assert.equal(sasl.allows([{ scheme: 'ip', id: '127.0.0.1' }, { scheme: 'sasl', id: 'bob' }]), true);
    assert.throws(() => AuthEnforcement.of({ enforceAuth: true }), /enforce.auth.schemes must be configured/);
    assert.throws(() => AuthEnforcement.of({ requireSasl: true }), /authentication scheme sasl is not available \(zoo.cfg needs authProvider/);
    assert.throws(() => AuthEnforcement.of({ enforceAuth: true, enforceSchemes: ['kerberos'] }), /authentication scheme kerberos is not available/);
  });
});
