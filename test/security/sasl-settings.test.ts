/**
 * Both servers with a JAAS file, no authProvider.N=...SASLAuthenticationProvider and
 * allowSaslFailedClients=true. Without the provider users authenticate, but ZooKeeper has no
 * provider for the sasl scheme, so sasl ACLs (and `auth` that only a sasl identity could expand)
 * are INVALIDACL. A failed exchange leaves the connection open, answered as a finished one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DigestMd5ClientExchange } from '../../src/client/sasl.ts';
import { OpCode } from '../../src/protocol/constants.ts';
import { errorName, RawClient } from '../support/raw-client.ts';
import { SERVER_NAMES, withBothServers } from '../support/servers.ts';
import { JAAS_FILE, saslConnect } from './sasl-support.ts';

const servers = withBothServers({ jaasFile: JAAS_FILE, zooCfg: ['allowSaslFailedClients=true'] });

test('without the SASL provider: authenticated, but sasl ACLs are InvalidACL', async () => {
  const results = await Promise.all(SERVER_NAMES.map(async (name) => {
    const bob = await saslConnect(servers.get(name), 'bob');
    const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: Error) => e.name);
    try {
      return {
        whoAmI: await bob.whoAmI(),
        saslAcl: await outcome(bob.create(`/np-${name}-1`, '', { acl: [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }] })),
        authAcl: await outcome(bob.create(`/np-${name}-2`, '', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] })),
        world: await outcome(bob.create(`/np-${name}-3`, '')),
      };
    } finally {
      await bob.close();
    }
  }));
  assert.deepEqual(results[1], results[0], 'Ensemble differs from ZooKeeper');
  assert.deepEqual(results[0], {
    // whoAmI names no user for a scheme without a provider.
    whoAmI: [{ authScheme: 'sasl', user: '' }, { authScheme: 'ip', user: '127.0.0.1' }],
    saslAcl: 'InvalidACLError', authAcl: 'InvalidACLError', world: 'ok',
  });
});

test('allowSaslFailedClients: a failed exchange is answered OK with no token, and the connection serves on unauthenticated', async () => {
  const results = await Promise.all(SERVER_NAMES.map(async (name) => {
    const server = servers.get(name);
    const c = await RawClient.connect(server.host, server.port, { timeoutMs: 30_000, handshakeTimeoutMs: 15_000 });
    try {
      const client = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'wrong' });
      const first = await c.request(OpCode.sasl, (w) => w.buffer(client.initial()));
      const second = await c.request(OpCode.sasl, (w) => w.buffer(client.evaluate(first.body.buffer()!)!));
      const again = await c.request(OpCode.sasl, (w) => w.buffer(Buffer.from('garbage')));
      const who = await c.tryWhoAmI();
      return {
        second: [errorName(second.header.err), second.body.remaining >= 4 ? second.body.buffer() : 'no body'],
        again: [errorName(again.header.err), again.body.remaining >= 4 ? again.body.buffer() : 'no body'],
        whoAmI: who.value,
      };
    } finally {
      c.destroy();
    }
  }));
  assert.deepEqual(results[1], results[0], 'Ensemble differs from ZooKeeper');
  assert.deepEqual(results[0], { second: ['OK', null], again: ['OK', null], whoAmI: [{ authScheme: 'ip', user: '127.0.0.1' }] });
});
