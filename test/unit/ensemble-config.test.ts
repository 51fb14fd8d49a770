import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZooCfg, resolveConfig } from '../../src/server/config.ts';
import { formatServerLine, parseServerLine } from '../../src/server/ensemble-config.ts';
import { zooKeeperClasspath } from '../support/zookeeper.ts';

/** A data dir whose myid file holds `myid` (verbatim when a string), removed after `body`. */
function withDataDir<T>(myid: number | string | undefined, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-config-'));
  try {
    if (myid !== undefined) writeFileSync(join(dir, 'myid'), typeof myid === 'number' ? `${myid}\n` : myid);
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE = ['tickTime=2000', 'initLimit=10', 'syncLimit=5'];
const THREE = ['server.1=zk1.example.com:2888:3888', 'server.2=zk2.example.com:2888:3888', 'server.3=zk3.example.com:2888:3888'];
const cfg = (dir: string, ...lines: string[]) => [...BASE, `dataDir=${dir}`, ...lines].join('\n');

test('a 3-member zoo.cfg: members by id, myid from dataDir/myid, limits in ticks, this member on clientPort', () => {
  withDataDir(2, (dir) => {
    const { config, warnings } = parseZooCfg(cfg(dir, 'clientPort=2181', '# the ensemble', ...THREE.slice().reverse()), '/etc/zk/zoo.cfg');
    assert.deepEqual(config.ensemble, {
      myid: 2,
      initLimit: 10,
      syncLimit: 5,
      members: [1, 2, 3].map((id) => ({ id, host: `zk${id}.example.com`, quorumPort: 2888, electionPort: 3888, role: 'participant' })),
    });
    assert.equal(config.clientPort, 2181);
    assert.equal('clientPortAddress' in config, false);
    assert.equal(config.tickTimeMs, 2000);
    assert.deepEqual(warnings, []);
    const resolved = resolveConfig(config);
    assert.equal(resolved.ensemble?.myid, 2);
    assert.equal(resolved.minSessionTimeoutMs, 4000);
  });
});

test('a 5-member zoo.cfg on one host, with ;clientPort and ;clientHost:clientPort forms and roles spelled out', () => {
  withDataDir(4, (dir) => {
    const { config, warnings } = parseZooCfg(cfg(dir,
      'server.1=127.0.0.1:2888:3888;2181',
      'server.2=127.0.0.1:2889:3889:participant;2182',
      'server.3=127.0.0.1:2890:3890:PARTICIPANT;127.0.0.1:2183',
      'zookeeper.server.4=127.0.0.1:2891:3891;127.0.0.1:2184',
      'server.5 = 127.0.0.1:2892:3892;0.0.0.0:2185',
    ));
    assert.deepEqual(config.ensemble?.members, [
      { id: 1, host: '127.0.0.1', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: 2181 },
      { id: 2, host: '127.0.0.1', quorumPort: 2889, electionPort: 3889, role: 'participant', clientPort: 2182 },
      { id: 3, host: '127.0.0.1', quorumPort: 2890, electionPort: 3890, role: 'participant', clientHost: '127.0.0.1', clientPort: 2183 },
      { id: 4, host: '127.0.0.1', quorumPort: 2891, electionPort: 3891, role: 'participant', clientHost: '127.0.0.1', clientPort: 2184 },
      // 0.0.0.0 is every interface, as a port alone.
      { id: 5, host: '127.0.0.1', quorumPort: 2892, electionPort: 3892, role: 'participant', clientPort: 2185 },
    ]);
    // No clientPort: this member's comes from its own line.
    assert.equal(config.clientPort, 2184);
    assert.equal(config.clientPortAddress, '127.0.0.1');
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.ensemble?.members.map(formatServerLine), [
      'server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181',
      'server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182',
      'server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2183',
      'server.4=127.0.0.1:2891:3891:participant;127.0.0.1:2184',
      'server.5=127.0.0.1:2892:3892:participant;0.0.0.0:2185',
    ]);
  });
});

test('IPv6 addresses in brackets, for the quorum and the client', () => {
  withDataDir(1, (dir) => {
    const { config } = parseZooCfg(cfg(dir,
      'server.1=[::1]:2888:3888;[::1]:2181',
      'server.2=[fd00::2]:2888:3888:participant;2181',
      'server.3=[fd00::3]:2888:3888;[::]:2181',
    ));
    assert.deepEqual(config.ensemble?.members.map((m) => [m.host, m.clientHost, m.clientPort]), [
      ['::1', '::1', 2181], ['fd00::2', undefined, 2181], ['fd00::3', undefined, 2181],
    ]);
    assert.equal(config.clientPortAddress, '::1');
    assert.equal(formatServerLine(config.ensemble!.members[0]), 'server.1=[::1]:2888:3888:participant;[::1]:2181');
  });
});

test('this member\'s client address: its own line wins, and must agree with clientPort and clientPortAddress when both are set', () => {
  withDataDir(1, (dir) => {
    const three = (first: string) => [first, 'server.2=127.0.0.1:2889:3889;2182', 'server.3=127.0.0.1:2890:3890;2183'];
    const parse = (...lines: string[]) => parseZooCfg(cfg(dir, ...lines));
    // Agreeing: the same port with no clientPortAddress (or a wildcard one), or the same address.
    assert.equal(parse('clientPort=2181', ...three('server.1=127.0.0.1:2888:3888;2181')).config.clientPort, 2181);
    assert.equal(parse('clientPort=2181', ...three('server.1=127.0.0.1:2888:3888;127.0.0.1:2181')).config.clientPortAddress, '127.0.0.1');
    assert.equal(parse('clientPort=2181', 'clientPortAddress=0.0.0.0', ...three('server.1=127.0.0.1:2888:3888;2181')).config.clientPort, 2181);
    assert.equal(parse('clientPort=2181', 'clientPortAddress=127.0.0.1', ...three('server.1=127.0.0.1:2888:3888;127.0.0.1:2181')).config.clientPort, 2181);
    // Without a client part of its own, the member uses clientPort and clientPortAddress.
    const { config } = parse('clientPort=2281', 'clientPortAddress=127.0.0.1', ...three('server.1=127.0.0.1:2888:3888'));
    assert.deepEqual([config.clientPort, config.clientPortAddress], [2281, '127.0.0.1']);
    // Disagreeing, as ZooKeeper's setupClientPort refuses.
    assert.throws(() => parse('clientPort=2180', ...three('server.1=127.0.0.1:2888:3888;2181')),
      { message: 'zoo.cfg: the client address of member 1 (this member) is 0.0.0.0:2181 on its server.1 line but 0.0.0.0:2180 from clientPort: they must agree, as in ZooKeeper (or leave one of them out)' });
    assert.throws(() => parse('clientPort=2181', 'clientPortAddress=127.0.0.1', ...three('server.1=127.0.0.1:2888:3888;2181')),
      /is 0\.0\.0\.0:2181 on its server\.1 line but 127\.0\.0\.1:2181 from clientPort and clientPortAddress: they must agree/);
    assert.throws(() => parse('clientPort=2181', 'clientPortAddress=127.0.0.2', ...three('server.1=127.0.0.1:2888:3888;127.0.0.1:2181')),
      /is 127\.0\.0\.1:2181 on its server\.1 line but 127\.0\.0\.2:2181 from clientPort and clientPortAddress/);
    // Only this member's line is compared: member 2's differs from clientPort, as it should.
    assert.equal(parse('clientPort=2181', ...three('server.1=127.0.0.1:2888:3888')).config.clientPort, 2181);
    assert.throws(() => parse(...three('server.1=127.0.0.1:2888:3888')),
      { message: 'zoo.cfg: member 1 has no client port: set clientPort, or end its server line with ;clientPort' });
    assert.throws(() => parse('clientPortAddress=127.0.0.1', ...three('server.1=127.0.0.1:2888:3888;2181')),
      { message: 'zoo.cfg: clientPortAddress is set but clientPort is not' });
  });
});

test('the myid file: a number on its first line, as ZooKeeper reads it; missing or anything else is an error naming the file', () => {
  const three = ['clientPort=2181', ...THREE];
  for (const [content, id] of [['3', 3], ['3\n', 3], ['3\r\n', 3], ['03\nanything after', 3]] as const) {
    withDataDir(content, (dir) => assert.equal(parseZooCfg(cfg(dir, ...three)).config.ensemble?.myid, id, JSON.stringify(content)));
  }
  for (const content of ['', ' 3', '3 ', 'three', '-3', '\n3']) {
    withDataDir(content, (dir) => {
      assert.throws(() => parseZooCfg(cfg(dir, ...three)), {
        message: `myid file ${join(dir, 'myid')} must hold this member's id, a number, on its first line; it holds ${JSON.stringify(content.split('\n')[0])}`,
      }, JSON.stringify(content));
    });
  }
  withDataDir(undefined, (dir) => {
    assert.throws(() => parseZooCfg(cfg(dir, ...three)), {
      message: `myid file ${join(dir, 'myid')} is missing: each member of an ensemble needs one, holding its id (the N of its server.N line)`,
    });
    mkdirSync(join(dir, 'myid'));
    assert.throws(() => parseZooCfg(cfg(dir, ...three)), new RegExp(`^Error: myid file ${join(dir, 'myid')} cannot be read: EISDIR`));
  });
  withDataDir(4, (dir) => {
    assert.throws(() => parseZooCfg(cfg(dir, ...three), '/etc/zk/zoo.cfg'), {
      message: `myid file ${join(dir, 'myid')} says 4, but /etc/zk/zoo.cfg has no server.4 line (its members are 1, 2, 3)`,
    });
  });
  // A standalone server does not read it.
  withDataDir('nonsense', (dir) => assert.equal(parseZooCfg(`dataDir=${dir}\nserver.1=h:1:2`).config.ensemble, undefined));
});

test('what an ensemble needs besides its server lines: initLimit, syncLimit, dataDir; tickTime defaults to ZooKeeper\'s', () => {
  withDataDir(1, (dir) => {
    const all = ['tickTime=2000', 'initLimit=10', 'syncLimit=5', `dataDir=${dir}`, 'clientPort=2181', ...THREE];
    const without = (key: string) => parseZooCfg(all.filter((l) => !l.startsWith(`${key}=`)).join('\n'));
    assert.equal(without('tickTime').config.tickTimeMs, 3000);
    assert.throws(() => without('initLimit'), { message: 'zoo.cfg: initLimit is not set (an ensemble needs it, in ticks)' });
    assert.throws(() => without('syncLimit'), { message: 'zoo.cfg: syncLimit is not set (an ensemble needs it, in ticks)' });
    assert.throws(() => without('dataDir'), { message: 'zoo.cfg: dataDir is not set (an ensemble member reads its id from dataDir/myid)' });
    for (const bad of ['0', '-1', 'ten', '2.5']) {
      assert.throws(() => parseZooCfg([...all, `initLimit=${bad}`].join('\n')),
        { message: `zoo.cfg: initLimit must be a whole number of ticks, at least 1, got "${bad}"` });
    }
    // initLimit and syncLimit are acted upon now: no "not acted upon" warning for them, nor for standaloneEnabled=false.
    assert.deepEqual(parseZooCfg([...all, 'standaloneEnabled=false', 'zookeeper.syncLimit=3'].join('\n')).warnings, []);
    assert.equal(parseZooCfg([...all, 'zookeeper.syncLimit=3'].join('\n')).config.ensemble?.syncLimit, 3);
  });
});

test('one server line: standalone as before unless standaloneEnabled=false, which makes a one-member ensemble', () => {
  withDataDir(1, (dir) => {
    const { config, warnings } = parseZooCfg(cfg(dir, 'clientPort=2181', 'server.1=127.0.0.1:2888:3888'));
    assert.equal(config.ensemble, undefined);
    assert.deepEqual(warnings, [
      `zoo.cfg: "initLimit" is recognised but not acted upon (only ZooKeeper's replication protocol has it: Ensemble replicates with Raft, see docs/ensemble.md): ignored`,
      `zoo.cfg: "syncLimit" is recognised but not acted upon (only ZooKeeper's replication protocol has it: Ensemble replicates with Raft, see docs/ensemble.md): ignored`,
      'zoo.cfg: line 6: server.1=127.0.0.1:2888:3888 names a single server: running standalone, as ZooKeeper does',
    ]);
    // The single line is still read as ZooKeeper reads it.
    assert.throws(() => parseZooCfg('server.1=127.0.0.1:2888'), /line 1: server\.1=127\.0\.0\.1:2888: expected host:quorumPort:electionPort/);
    const one = parseZooCfg(cfg(dir, 'clientPort=2181', 'standaloneEnabled=false', 'server.1=127.0.0.1:2888:3888'));
    assert.equal(one.config.ensemble?.members.length, 1);
    assert.deepEqual(one.warnings, ['zoo.cfg: an ensemble of 1 member tolerates no failure (a quorum is all of them); use at least 3']);
  });
});

test('an even number of members is allowed, with a warning that says why it buys nothing', () => {
  withDataDir(1, (dir) => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => `server.${i + 1}=127.0.0.1:${2888 + i}:${3888 + i};${2181 + i}`);
    assert.deepEqual(parseZooCfg(cfg(dir, ...members(2))).warnings,
      ['zoo.cfg: an ensemble of 2 members tolerates no failure (a quorum is all of them); use at least 3']);
    assert.deepEqual(parseZooCfg(cfg(dir, ...members(4))).warnings,
      ['zoo.cfg: an ensemble of 4 members tolerates no more failures (1) than one of 3, and needs 3 for a quorum instead of 2; consider an odd number']);
    assert.deepEqual(parseZooCfg(cfg(dir, ...members(6))).warnings,
      ['zoo.cfg: an ensemble of 6 members tolerates no more failures (2) than one of 5, and needs 4 for a quorum instead of 3; consider an odd number']);
    assert.deepEqual(parseZooCfg(cfg(dir, ...members(7))).warnings, []);
  });
});

test('member ids: 1 to 255, each once; 254 at most with extendedTypesEnabled', () => {
  withDataDir(1, (dir) => {
    const parse = (...lines: string[]) => parseZooCfg(cfg(dir, 'clientPort=2181', 'server.1=127.0.0.1:2888:3888', ...lines));
    for (const id of ['0', '256', '1000']) {
      assert.throws(() => parse(`server.${id}=127.0.0.1:2889:3889`), {
        message: `zoo.cfg: line 7: server.${id}=127.0.0.1:2889:3889: member ids must be 1 to 255: Ensemble's session ids carry the member id in one byte`,
      });
    }
    assert.throws(() => parse('server.x=127.0.0.1:2889:3889'), /line 7: server\.x=127\.0\.0\.1:2889:3889: "x" is not a member id \(server\.N wants a number N\)/);
    assert.throws(() => parse('server.01=127.0.0.1:2889:3889'), {
      message: 'zoo.cfg: member 1 appears twice: line 6: server.1=127.0.0.1:2888:3888; line 7: server.01=127.0.0.1:2889:3889',
    });
    assert.equal(parse('server.255=127.0.0.1:2889:3889').config.ensemble?.members[1].id, 255);
    assert.throws(() => parse('server.255=127.0.0.1:2889:3889', 'extendedTypesEnabled=true'),
      /zoo\.cfg: line 7: server\.255=127\.0\.0\.1:2889:3889: with extendedTypesEnabled=true member ids must be 1 to 254/);
  });
});

test('every quorum, election and client address differs', () => {
  withDataDir(1, (dir) => {
    const parse = (...lines: string[]) => parseZooCfg(cfg(dir, 'clientPort=2181', ...lines));
    assert.throws(() => parse('server.1=127.0.0.1:2888:3888', 'server.2=127.0.0.1:2888:3889'),
      { message: 'zoo.cfg: 127.0.0.1:2888 is both the quorum port of member 1 and the quorum port of member 2' });
    assert.throws(() => parse('server.1=127.0.0.1:2888:2888', 'server.2=127.0.0.1:2889:3889'),
      { message: 'zoo.cfg: 127.0.0.1:2888 is both the quorum port of member 1 and the election port of member 1' });
    assert.throws(() => parse('server.1=127.0.0.1:2888:3888', 'server.2=127.0.0.1:2889:3889;3888'),
      { message: 'zoo.cfg: 127.0.0.1:3888 is both the election port of member 1 and the client port of member 2' });
    assert.throws(() => parse('server.1=[::1]:2888:3888', 'server.2=[::1]:2889:3889;[::1]:2888'),
      { message: 'zoo.cfg: [::1]:2888 is both the quorum port of member 1 and the client port of member 2' });
    assert.throws(() => parse('server.1=Zk1:2888:3888', 'server.2=zk1:2888:3889'), /Zk1:2888 is both|zk1:2888 is both/);
    // The same ports on different hosts are the usual layout.
    assert.equal(parse(...THREE).config.ensemble?.members.length, 3);
  });
});

test('malformed server lines are refused, naming the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1', /expected host:quorumPort:electionPort\[:participant\]\[;\[clientHost:\]clientPort\]/],
    ['127.0.0.1:2888', /expected host:quorumPort/],
    ['127.0.0.1:2888:3888:participant:extra', /expected host:quorumPort/],
    [':2888:3888', /expected host:quorumPort/],
    ['::1:2888:3888', /expected host:quorumPort/],
    ['[::1:2888:3888', /expected host:quorumPort/],
    ['127.0.0.1:http:3888', /ports must be numbers from 1 to 65535/],
    ['127.0.0.1:0:3888', /ports must be numbers from 1 to 65535/],
    ['127.0.0.1:2888:65536', /ports must be numbers from 1 to 65535/],
    ['127.0.0.1:2888:3888:leader', /unrecognised member type "leader" \(participant or observer\)/],
    ['127.0.0.1:2888:3888;2181;2182', /more than one ";"/],
    ['127.0.0.1:2888:3888;a:b:2181', /the client part "a:b:2181" must be clientPort or clientHost:clientPort/],
    ['127.0.0.1:2888:3888;[::1]', /the client part "\[::1\]" must be/],
    ['127.0.0.1:2888:3888;host:', /the client part "host:" must be/],
  ];
  for (const [value, expected] of cases) {
    assert.throws(() => parseServerLine({ key: 'server.1', value, where: `line 3: server.1=${value}` }, 'zoo.cfg'), (e: Error) => {
      assert.ok(e.message.startsWith(`zoo.cfg: line 3: server.1=${value}: `), e.message);
      assert.match(e.message, expected);
      return true;
    }, value);
  }
  // As Java's split: a trailing ";" is no client part.
  assert.equal(parseServerLine({ key: 'server.1', value: 'h:1:2;', where: '' }, 'zoo.cfg').clientPort, undefined);
});

test('refused by name: observers, hierarchical quorums, dynamic configuration, multiple addresses', () => {
  withDataDir(1, (dir) => {
    const parse = (...lines: string[]) => parseZooCfg(cfg(dir, 'clientPort=2181', ...THREE, ...lines), '/etc/zk/zoo.cfg');
    assert.throws(() => parse('server.4=zk4.example.com:2888:3888:observer'), {
      message: '/etc/zk/zoo.cfg: line 9: server.4=zk4.example.com:2888:3888:observer: observers are not supported yet: every member must be a participant',
    });
    assert.throws(() => parse('server.4=zk4.example.com:2888:3888:Observer;2181'), /observers are not supported yet/);
    assert.throws(() => parse('peerType=observer'), {
      message: '/etc/zk/zoo.cfg: line 9: peerType=observer: observers are not supported yet: every member must be a participant',
    });
    for (const line of ['group.1=1:2:3', 'weight.1=2', 'zookeeper.group.1=1:2:3']) {
      assert.throws(() => parse(line), {
        message: `/etc/zk/zoo.cfg: line 9: ${line}: hierarchical quorums (group.N, weight.N) are not supported yet: every member has one vote`,
      });
    }
    assert.throws(() => parse('dynamicConfigFile=/etc/zk/zoo.cfg.dynamic'), {
      message: '/etc/zk/zoo.cfg: line 9: dynamicConfigFile=/etc/zk/zoo.cfg.dynamic: a dynamic config file is not supported yet: put the server.N lines in this file',
    });
    assert.throws(() => parse('reconfigEnabled=true'), {
      message: '/etc/zk/zoo.cfg: reconfigEnabled=true: dynamic reconfiguration of an ensemble is not supported yet; the server.N lines are the fixed membership',
    });
    assert.equal(parse('reconfigEnabled=false', 'peerType=participant').config.ensemble?.members.length, 3);
    assert.throws(() => parse('server.4=zk4a:2888:3888|zk4b:2889:3889'),
      /line 9: server\.4=zk4a:2888:3888\|zk4b:2889:3889: multiple addresses per member \("\|"\) are not supported yet/);
  });
  // Without server lines too, as before; and reconfigEnabled=true stays a standalone setting.
  assert.throws(() => parseZooCfg('clientPort=2181\npeerType = Observer'), /line 2: peerType = Observer: observers are not supported yet/);
  assert.throws(() => parseZooCfg('weight.2=0'), /line 1: weight\.2=0: hierarchical quorums/);
  assert.throws(() => parseZooCfg('dynamicConfigFile=/x'), /line 1: dynamicConfigFile=\/x: a dynamic config file is not supported yet/);
  assert.equal(parseZooCfg('reconfigEnabled=true\nserver.1=h:1:2').config.reconfigEnabled, true);
});

/**
 * The same files through Apache ZooKeeper's own QuorumPeerConfig (Debian's 3.8 jars, one JVM
 * running a single-file Java program): what it accepts we accept with the same members, myid,
 * client port and limits, or refuse as not supported yet; what it refuses we refuse. Skipped without
 * java and the jars.
 */
const JAVA_CHECK = `
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;
import org.apache.zookeeper.server.quorum.QuorumPeer.QuorumServer;
public class ZkParse {
  public static void main(String[] args) {
    for (String path : args) {
      QuorumPeerConfig.setStandaloneEnabled(true);
      QuorumPeerConfig.setReconfigEnabled(false);
      try {
        QuorumPeerConfig c = new QuorumPeerConfig();
        c.parse(path);
        // QuorumPeer.start's check, which parse leaves out.
        if (!c.getServers().containsKey(c.getServerId())) throw new RuntimeException("My id " + c.getServerId() + " not in the peer list");
        StringBuilder sb = new StringBuilder("OK " + c.getServerId() + " " + c.getClientPortAddress().getPort()
          + " " + c.getTickTime() + "/" + c.getInitLimit() + "/" + c.getSyncLimit());
        for (QuorumServer s : c.getServers().values()) sb.append(" " + s.id + "=" + s.addr.getOne().getPort() + ":" + s.electionAddr.getOne().getPort()
          + (s.clientAddr == null || s.isClientAddrFromStatic ? "" : ";" + s.clientAddr.getPort()));
        System.out.println(sb);
      } catch (Throwable e) {
        System.out.println("ERR " + e.getMessage());
      }
    }
  }
}
`;

const haveZooKeeper = existsSync('/usr/bin/java') && existsSync('/usr/share/java/zookeeper.jar');
test('Apache ZooKeeper\'s QuorumPeerConfig reads the same files the same way', { skip: haveZooKeeper ? false : 'needs java and /usr/share/java/zookeeper.jar', timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'ensemble-zkparse-'));
  try {
    const three = ['server.1=127.0.0.1:2888:3888;2181', 'server.2=127.0.0.1:2889:3889;2182', 'server.3=127.0.0.1:2890:3890;2183'];
    // ours: 'ok', or the refusal we share with ZooKeeper, or { unsupported } which ZooKeeper accepts.
    const cases: Array<{ myid: string | undefined; lines: string[]; ours: RegExp | 'ok' | { unsupported: RegExp } }> = [
      { myid: '1', lines: [...BASE, ...three], ours: 'ok' },
      { myid: '2', lines: [...BASE, 'clientPort=2182', ...three], ours: 'ok' },
      { myid: '3', lines: [...BASE, 'clientPort=2181', 'server.1=127.0.0.1:2888:3888', 'server.2=127.0.0.2:2888:3888', 'server.3=127.0.0.3:2888:3888'], ours: 'ok' },
      { myid: '1', lines: [...BASE, 'clientPort=2181', 'server.1=[::1]:2888:3888', 'server.2=[::1]:2889:3889:participant;[::1]:2182', 'server.3=[::1]:2890:3890;2183'], ours: 'ok' },
      { myid: '2', lines: [...BASE, 'clientPort=2182', ...three.slice(0, 2)], ours: 'ok' },
      { myid: '2', lines: [...BASE, 'clientPort=2181', ...three.slice(0, 2)], ours: /they must agree/ },
      { myid: '1', lines: [...BASE, 'clientPort=2180', ...three], ours: /they must agree/ },
      { myid: '1', lines: [...BASE, 'clientPort=2181', 'clientPortAddress=127.0.0.1', ...three], ours: /they must agree/ },
      { myid: undefined, lines: [...BASE, ...three], ours: /is missing/ },
      { myid: 'x', lines: [...BASE, ...three], ours: /must hold this member's id/ },
      { myid: '1 ', lines: [...BASE, ...three], ours: /must hold this member's id/ },
      { myid: '4', lines: [...BASE, ...three], ours: /has no server\.4 line/ },
      { myid: '1', lines: ['tickTime=2000', 'initLimit=10', ...three], ours: /syncLimit is not set/ },
      { myid: '1', lines: ['initLimit=10', 'syncLimit=5', ...three], ours: 'ok' },
      { myid: '1', lines: [...BASE, 'server.1=127.0.0.1:2888;2181', ...three.slice(1)], ours: /expected host:quorumPort/ },
      { myid: '1', lines: [...BASE, 'server.1=127.0.0.1:2888:3888:leader;2181', ...three.slice(1)], ours: /unrecognised member type/ },
      { myid: '1', lines: [...BASE, 'server.1=127.0.0.1:2888:2888;2181', ...three.slice(1)], ours: /is both the quorum port of member 1 and the election port of member 1/ },
      { myid: '1', lines: [...BASE, ...three, 'server.4=127.0.0.1:2891:3891:observer;2184'], ours: { unsupported: /observers are not supported yet/ } },
      { myid: '1', lines: [...BASE, ...three, 'reconfigEnabled=true'], ours: { unsupported: /dynamic reconfiguration of an ensemble is not supported yet/ } },
      { myid: '1', lines: [...BASE, ...three, 'server.256=127.0.0.1:2891:3891;2184'], ours: { unsupported: /member ids must be 1 to 255/ } },
      { myid: '1', lines: [...BASE, ...three, 'server.4=127.0.0.1:2888:3891;2184'], ours: { unsupported: /127\.0\.0\.1:2888 is both/ } },
    ];
    const files = cases.map((c, i) => {
      const dir = join(root, `case${i}`);
      mkdirSync(dir);
      if (c.myid !== undefined) writeFileSync(join(dir, 'myid'), `${c.myid}\n`);
      const file = join(dir, 'zoo.cfg');
      writeFileSync(file, [...c.lines, `dataDir=${dir}`, ''].join('\n'));
      return file;
    });
    writeFileSync(join(root, 'ZkParse.java'), JAVA_CHECK);
    const out = execFileSync('/usr/bin/java', ['-cp', zooKeeperClasspath(), join(root, 'ZkParse.java'), ...files], { encoding: 'utf8' });
    const answers = out.trim().split('\n').filter((l) => /^(OK|ERR) /.test(l));
    assert.equal(answers.length, cases.length, out);
    cases.forEach((c, i) => {
      const theirs = answers[i];
      const what = `case ${i}: ${c.lines.join(' ')}, myid ${c.myid}: ZooKeeper says ${theirs}`;
      if (c.ours instanceof RegExp) {
        assert.ok(theirs.startsWith('ERR '), what);
        assert.throws(() => parseZooCfg(readFileSync(files[i], 'utf8')), c.ours, what);
        return;
      }
      assert.ok(theirs.startsWith('OK '), what);
      if (c.ours !== 'ok') {
        assert.throws(() => parseZooCfg(readFileSync(files[i], 'utf8')), c.ours.unsupported, what);
        return;
      }
      const { config } = parseZooCfg(readFileSync(files[i], 'utf8'));
      const e = config.ensemble!;
      const ours = `OK ${e.myid} ${config.clientPort} ${config.tickTimeMs}/${e.initLimit}/${e.syncLimit} ${e.members.map((m) => `${m.id}=${m.quorumPort}:${m.electionPort}${m.clientPort === undefined ? '' : `;${m.clientPort}`}`).join(' ')}`;
      assert.equal(ours, theirs, what);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
