/**
 * A JAAS file but no authProvider.N=...SASLAuthenticationProvider in zoo.cfg: users authenticate,
 * but ZooKeeper has no provider for the sasl scheme, so sasl ACLs (and `auth` that only a sasl
 * identity could expand) are INVALIDACL. Ensemble must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVER_NAMES, withBothServers } from '../support/servers.ts';
import { JAAS_FILE, saslConnect } from './sasl-support.ts';

const servers = withBothServers({ jaasFile: JAAS_FILE });

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
