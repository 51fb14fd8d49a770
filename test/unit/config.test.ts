import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('a zoo.cfg with server lines describes an ensemble (test/unit/ensemble-config.test.ts has the details)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-config-'));
  try {
    writeFileSync(join(dir, 'myid'), '3\n');
    const cfg = ['tickTime=2000', `dataDir=${dir}`, 'clientPort=2181', 'initLimit=5', 'syncLimit=2',
      'server.1=10.0.0.1:2888:3888', 'server.2=10.0.0.2:2888:3888', 'server.3=10.0.0.3:2888:3888'].join('\n');
    const { config, warnings } = parseZooCfg(cfg, '/etc/ens/zoo.cfg');
    assert.equal(config.ensemble?.myid, 3);
    assert.deepEqual(config.ensemble?.members.map((m) => m.host), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.deepEqual(warnings, []);
    // One server with standalone mode disabled is a (one-member) ensemble too.
    assert.equal(parseZooCfg(`dataDir=${dir}\ninitLimit=5\nsyncLimit=2\nclientPort=2181\nserver.3=h:1:2\nstandaloneEnabled=false`).config.ensemble?.myid, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The lines that only an ensemble Ensemble does not support has, with or without the zookeeper. prefix.
  for (const line of ['group.1=1:2:3', 'weight.2=0', 'peerType=observer', 'peerType = Observer', 'zookeeper.dynamicConfigFile=/etc/ens/zoo.cfg.dynamic']) {
    assert.throws(() => parseZooCfg(`clientPort=2181\n${line}`), new RegExp(`^Error: zoo\\.cfg: line 2: .* not supported yet`), line);
  }
});

test('a zoo.cfg with a single server line runs standalone, as ZooKeeper does, with a warning', () => {
  for (const line of ['server.1=localhost:2888:3888;2181', 'zookeeper.server.7=h:1:2']) {
    const { config, warnings } = parseZooCfg(`clientPort=2182\n${line}`, '/conf/zoo.cfg');
    assert.equal(config.clientPort, 2182);
    assert.deepEqual(warnings, [`/conf/zoo.cfg: line 2: ${line} names a single server: running standalone, as ZooKeeper does`]);
  }
});

test('keys ZooKeeper reads but Ensemble does not act on are each a warning naming the key', () => {
  const keys = [
    'ssl.crl=true', 'netty.server.outstandingHandshake.limit=100', 'ssl.ocsp=true', 'ssl.quorum.crl=true',
    'admin.idleTimeout=30000', 'admin.portUnification=true', 'metricsProvider.numWorkerThreads=2',
    'metricsProvider.maxQueueSize=1000', 'letAnySaslUserDoX=bob',
    'initLimit=10', 'syncLimit=5', 'electionAlg=3', 'standaloneEnabled=false',
    'quorum.auth.enableSasl=true', 'quorum.cnxn.threads.size=20', 'localSessionsEnabled=true', 'flushDelay=10',
    'clientPortListenBacklog=100', 'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    'zookeeper.commitLogCount=500', 'audit.enable=true', 'skipACL=yes', 'connection_throttle_tokens=100',
  ];
  const { config, warnings } = parseZooCfg(['tickTime=500', ...keys, 'noSuchKey=1'].join('\n'));
  assert.deepEqual(config, { tickTimeMs: 500 });
  assert.equal(warnings.length, keys.length + 1);
  keys.forEach((line, i) => {
    const key = line.slice(0, line.indexOf('='));
    assert.equal(warnings[i].startsWith(`zoo.cfg: "${key}" is recognised but not acted upon (`), true, warnings[i]);
  });
  assert.match(warnings[0], /ssl\.crl.*checks no revocation list/);
  assert.match(warnings[1], /netty\.server\.outstandingHandshake\.limit.*no limit on TLS handshakes/);
  assert.match(warnings[4], /admin\.idleTimeout.*admin server has no TLS, idle timeout/);
  assert.match(warnings[9], /initLimit.*Ensemble replicates with Raft/);
  assert.equal(warnings[keys.length], 'zoo.cfg: unknown key "noSuchKey" ignored');
});

test('the admin server keys: off, on loopback port 8080 at /commands unless set', () => {
  const d = resolveConfig({});
  assert.deepEqual([d.adminEnableServer, d.adminServerAddress, d.adminServerPort, d.adminCommandUrl, d.adminConsole, d.adminConsoleEdits],
    [false, '127.0.0.1', 8080, '/commands', false, false]);
  const { config, warnings } = parseZooCfg(['admin.enableServer=true', 'admin.serverAddress=0.0.0.0', 'admin.serverPort=9090',
    'admin.commandURL=/cmds', 'admin.console.enable=true', 'admin.console.allowEdits=true'].join('\n'));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, { adminEnableServer: true, adminServerAddress: '0.0.0.0', adminServerPort: 9090,
    adminCommandUrl: '/cmds', adminConsole: true, adminConsoleEdits: true });
});

test('no warning for the keys Ensemble acts on, nor for a value that asks for what it does anyway', () => {
  const { warnings } = parseZooCfg([
    'tickTime=2000', 'clientPort=2181', 'clientPortAddress=127.0.0.1', 'dataDir=/d', 'dataLogDir=/l',
    'maxClientCnxns=0', 'minSessionTimeout=4000', 'maxSessionTimeout=40000', '4lw.commands.whitelist=*',
    'jute.maxbuffer=1048575', 'DigestAuthenticationProvider.superDigest=super:x', 'extendedTypesEnabled=true',
    'enforceQuota=true', 'reconfigEnabled=false', 'znode.container.checkIntervalMs=1000', 'forceSync=yes',
    'snapCount=1000', 'preAllocSize=1024', 'autopurge.snapRetainCount=3', 'autopurge.purgeInterval=1',
    'admin.enableServer=false', 'admin.portUnification=false', 'standaloneEnabled=true', 'sslQuorum=false', 'audit.enable=false',
    'localSessionsEnabled=false', 'peerType=participant',
  ].join('\n'));
  assert.deepEqual(warnings, []);
});
