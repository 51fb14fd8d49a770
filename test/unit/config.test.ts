import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZooCfg, resolveConfig } from '../../src/server/config.ts';

test('zoo.cfg keys map onto the server config, zookeeper.-prefixed properties included', () => {
  const { config, warnings } = parseZooCfg([
    '# a comment',
    'tickTime=500',
    'clientPort = 3181',
    'clientPortAddress=127.0.0.1',
    'dataDir=/var/lib/ens',
    'dataLogDir=/var/log/ens',
    'maxClientCnxns=0',
    'minSessionTimeout=1500',
    'maxSessionTimeout=9000',
    '4lw.commands.whitelist=ruok, srvr ,mntr',
    'jute.maxbuffer=2097152',
    'zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=',
    'extendedTypesEnabled=true',
    'initLimit=10',
    'server.1=localhost:2888:3888',
    'someFutureKey=1',
  ].join('\n'));
  assert.deepEqual(config, {
    tickTimeMs: 500, clientPort: 3181, clientPortAddress: '127.0.0.1', dataDir: '/var/lib/ens', dataLogDir: '/var/log/ens',
    maxClientCnxns: 0, minSessionTimeoutMs: 1500, maxSessionTimeoutMs: 9000, fourLetterWhitelist: ['ruok', 'srvr', 'mntr'],
    juteMaxBufferBytes: 2097152, superDigest: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=', extendedTypesEnabled: true,
  });
  assert.deepEqual(warnings, ['zoo.cfg: unknown key "someFutureKey" ignored']);
});

test('session timeout bounds default to 2 and 20 ticks', () => {
  const c = resolveConfig({ tickTimeMs: 300 });
  assert.equal(c.minSessionTimeoutMs, 600);
  assert.equal(c.maxSessionTimeoutMs, 6000);
  assert.deepEqual(c.fourLetterWhitelist, ['srvr']);
});

test('a non-integer value or inverted bounds are clear errors', () => {
  assert.throws(() => parseZooCfg('tickTime=fast'), /tickTime must be an integer/);
  assert.throws(() => resolveConfig({ minSessionTimeoutMs: 5000, maxSessionTimeoutMs: 4000 }), /must not be larger/);
});
