/**
 * Quotas: ZooKeeper's StatsTrack and PathTrie as Ensemble reproduces them, and the tree's quota
 * bookkeeping in the cases a differential test cannot reach (ZooKeeper 3.8's txn processor dies on
 * them: stats text that does not parse, a limits node right under /zookeeper/quota).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { parseZooCfg, resolveConfig } from '../../src/server/config.ts';
import { readSnapshot, writeSnapshot } from '../../src/server/storage/snapshot.ts';
import { DataTree, OPEN_ACL } from '../../src/server/tree/data-tree.ts';
import { PathTrie } from '../../src/server/tree/quota.ts';
import { QuotaError, StatsTrack } from '../../src/protocol/stats-track.ts';
import type { Txn } from '../../src/server/tree/txn.ts';

test('StatsTrack parses and prints as ZooKeeper 3.8 does', () => {
  // Each text parsed, count += 1 and bytes += 2, printed: as Java 17 printed it with the 3.8 jar
  // (null: the constructor throws).
  const cases: Array<[string, string | null]> = [
    ['', 'count=0,bytes=1'],
    ['count=1,bytes=2', 'count=2,bytes=4'],
    [',', 'count=0,bytes=1'],
    [',,;', 'count=0,bytes=1'],
    [',count=1', null], // ArrayIndexOutOfBoundsException
    ['count=1,', 'count=2,bytes=1'],
    ['count=', null],
    ['count==', null],
    ['count==3', 'count=0,bytes=1'],
    ['=5', 'count=0,bytes=1=;=5'],
    ['=', null],
    ['a=b', null], // NumberFormatException
    ['count=1,bytes=2,zeta=3;alpha=4,,;=5,empty==1', 'count=2,bytes=4=;=5;alpha=4;empty=-1;zeta=3'],
    ['count=+7,bytes=-0', 'count=8,bytes=2'],
    ['count=9223372036854775807', 'count=-9223372036854775808,bytes=1'],
    ['count=9223372036854775808', null],
    ['count=1=2=3', 'count=2,bytes=1'],
    ['count= 1', null],
    ['countHardLimit=4;byteHardLimit=', null],
    ['Z=1,a=2,B=3', 'count=0,bytes=1=;B=3;Z=1;a=2'],
    ['count=-', null],
    ['count=+', null],
    ['count=\u0661\u0662', 'count=13,bytes=1'], // Long.parseLong takes any decimal digit
  ];
  for (const [text, expected] of cases) {
    if (expected === null) {
      assert.throws(() => new StatsTrack(Buffer.from(text)), QuotaError, text);
      continue;
    }
    const t = new StatsTrack(Buffer.from(text));
    t.count += 1n;
    t.bytes += 2n;
    assert.equal(t.toString(), expected, text);
  }
  assert.throws(() => new StatsTrack(null), QuotaError);
  const limits = new StatsTrack(Buffer.from('count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3'));
  assert.deepEqual([limits.count, limits.bytes, limits.countHardLimit, limits.byteHardLimit], [-1n, -1n, 3n, 10n]);
  assert.equal(new StatsTrack().toString(), 'count=-1,bytes=-1');
});

test('PathTrie: component-wise prefixes, unmarked nodes that stay, the root never matches', () => {
  // Expected values printed by the 3.8 jar's PathTrie.
  const p = new PathTrie();
  assert.equal(p.size, 0);
  p.add('/a/b');
  p.add('/a');
  p.add('X');
  p.add('/ /c');
  assert.equal(p.size, 4);
  const find: Array<[string, string]> = [
    ['/a/b/c', '/a/b'], ['/a/bc', '/a'], ['/a', '/a'], ['/X/y', '/X'], ['/c/d', '/c'], ['/', '/'], ['/zookeeper', '/'], ['a//b', '/a/b'],
  ];
  for (const [path, prefix] of find) assert.equal(p.findMaxPrefix(path), prefix, path);
  p.delete('/a'); // has a child: kept, unmarked
  assert.equal(p.findMaxPrefix('/a/x'), '/');
  assert.equal(p.findMaxPrefix('/a/b/x'), '/a/b');
  p.delete('/a/b');
  assert.equal(p.findMaxPrefix('/a/b/x'), '/');
  p.delete('/not/there');
  p.add('/a');
  assert.equal(p.findMaxPrefix('/a/b/x'), '/a');
  assert.throws(() => p.delete('/'), QuotaError); // NullPointerException in Java
  assert.throws(() => p.add(''), QuotaError); // IllegalArgumentException
  assert.equal(p.size, 3);
  p.add('/'); // marks the root, which findMaxPrefix never reports
  assert.equal(p.findMaxPrefix('/q'), '/');
  assert.equal(p.size, 3);
  p.clear();
  assert.equal(p.size, 0);
  assert.equal(p.findMaxPrefix('/a'), '/');
});

/** A tree and a way to apply txns to it, one zxid each. */
function treeWithTxns(): { tree: DataTree; apply: (txn: Txn) => ReturnType<DataTree['apply']>; errors: string[] } {
  const tree = new DataTree();
  const errors: string[] = [];
  tree.onQuotaError = (err, path) => errors.push(`${path}: ${err.message.split(':')[0]}`);
  let zxid = 0;
  const apply = (txn: Txn): ReturnType<DataTree['apply']> => {
    zxid++;
    return tree.apply({ header: { sessionId: 1n, cxid: zxid, zxid, timeMs: 1000 + zxid, type: OpCode.create }, txn });
  };
  return { tree, apply, errors };
}

const mk = (path: string, data: string | null = ''): Txn => ({
  kind: 'create', path, data: data === null ? null : Buffer.from(data), acl: OPEN_ACL, ephemeralOwner: 0n, parentCVersion: -1,
});
const setData = (path: string, data: string | null, version = 1): Txn => ({ kind: 'setData', path, data: data === null ? null : Buffer.from(data), version });
const rm = (path: string): Txn => ({ kind: 'delete', path });
const text = (tree: DataTree, path: string): string | null | undefined => {
  const n = tree.get(path);
  return n === undefined ? undefined : n.data === null ? null : n.data.toString();
};

test('the tree keeps stats below a quota; the reply Stat of the stats node is the one created', () => {
  const { tree, apply, errors } = treeWithTxns();
  apply(mk('/q', 'root'));
  apply(mk('/q/a', 'one'));
  assert.equal(tree.maxPrefixWithQuota('/q/a'), null);
  apply(mk('/zookeeper/quota/q'));
  apply(mk('/zookeeper/quota/q/zookeeper_limits', 'count=5,bytes=-1'));
  const created = apply(mk('/zookeeper/quota/q/zookeeper_stats', 'count=0,bytes=0'));
  assert.equal(created.stat?.dataLength, 15, 'the Stat of the placeholder');
  assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), 'count=2,bytes=7');
  assert.equal(tree.maxPrefixWithQuota('/q/a/b'), '/q');
  assert.equal(tree.maxPrefixWithQuota('/qq'), null);
  const stats = tree.get('/zookeeper/quota/q/zookeeper_stats')!;
  const { mzxid, version } = stats;
  apply(mk('/q/a/b', null));
  apply(setData('/q/a', 'longer'));
  apply(rm('/q/a/b'));
  assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), 'count=2,bytes=10');
  assert.deepEqual([stats.mzxid, stats.version], [mzxid, version], 'the server writes the data only');
  apply(rm('/zookeeper/quota/q/zookeeper_limits'));
  assert.equal(tree.quotaTrie.size, 0);
  apply(mk('/q/c', 'c'));
  assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), 'count=2,bytes=10');
  assert.deepEqual(errors, []);
});

test('where ZooKeeper would die, the change is applied and the quota left as it was', () => {
  const { tree, apply, errors } = treeWithTxns();
  apply(mk('/q', ''));
  apply(mk('/zookeeper/quota/q'));
  apply(mk('/zookeeper/quota/q/zookeeper_limits', 'count=5,bytes=-1'));
  apply(mk('/zookeeper/quota/q/zookeeper_stats', ''));
  apply(setData('/zookeeper/quota/q/zookeeper_stats', 'garbage'));
  assert.equal(apply(mk('/q/a', 'a')).err, 0);
  assert.equal(text(tree, '/q/a'), 'a');
  assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), 'garbage');
  apply(setData('/zookeeper/quota/q/zookeeper_stats', null, 2));
  assert.equal(apply(rm('/q/a')).err, 0);
  assert.equal(tree.get('/q/a'), undefined);
  assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), null);
  assert.deepEqual(errors, ['/q/a: ArrayIndexOutOfBoundsException', '/q/a: NullPointerException']);
  errors.length = 0;
  // A limits node right under /zookeeper/quota: addPath("") throws; so does deletePath("") on its
  // delete, and trimQuotaPath of a parent shorter than /zookeeper/quota.
  assert.equal(apply(mk('/zookeeper/quota/zookeeper_limits', 'count=1')).err, 0);
  assert.equal(apply(rm('/zookeeper/quota/zookeeper_limits')).err, 0);
  assert.equal(apply(mk('/zookeeper/zookeeper_limits', 'count=1')).err, 0);
  assert.equal(apply(rm('/zookeeper/zookeeper_limits')).err, 0);
  assert.deepEqual(errors, [
    '/zookeeper/quota/zookeeper_limits: IllegalArgumentException',
    '/zookeeper/quota/zookeeper_limits: IllegalArgumentException',
    '/zookeeper/zookeeper_limits: StringIndexOutOfBoundsException',
  ]);
  assert.equal(tree.quotaTrie.size, 1);
  // A stats node right under /zookeeper/quota counts the whole tree ("" is the root's alias).
  const count = tree.nodeCount + 1;
  const bytes = [...tree.nodes.values()].reduce((n, x) => n + (x.data?.length ?? 0), 0) + 1;
  apply(mk('/zookeeper/quota/zookeeper_stats', 'x'));
  assert.equal(text(tree, '/zookeeper/quota/zookeeper_stats'), `count=${count},bytes=${bytes}`);
});

test('a snapshot loads with its quotas recounted from the limits nodes that are leaves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-quota-unit-'));
  try {
    const { tree, apply } = treeWithTxns();
    for (const p of ['/q', '/q/a', '/q/a/b', '/r', '/r/x']) apply(mk(p, p));
    for (const q of ['/q', '/q/a', '/r']) {
      apply(mk(`/zookeeper/quota${q}`));
      apply(mk(`/zookeeper/quota${q}/zookeeper_limits`, 'count=9,bytes=-1'));
      apply(mk(`/zookeeper/quota${q}/zookeeper_stats`, ''));
    }
    // Drift the live stats; and give /r's limits node a child: no longer a leaf, not a quota on load.
    apply(setData('/zookeeper/quota/q/zookeeper_stats', 'count=100,bytes=100'));
    apply(mk('/q/a/c', 'cc'));
    apply(mk('/zookeeper/quota/r/zookeeper_limits/child'));
    apply(mk('/r/y', 'yy'));
    assert.equal(text(tree, '/zookeeper/quota/q/zookeeper_stats'), 'count=100,bytes=100');
    assert.equal(text(tree, '/zookeeper/quota/q/a/zookeeper_stats'), 'count=3,bytes=12');
    assert.equal(text(tree, '/zookeeper/quota/r/zookeeper_stats'), 'count=3,bytes=8');
    const info = await writeSnapshot(tree, dir);
    const loaded = readSnapshot(info.path, false).tree;
    assert.equal(text(loaded, '/zookeeper/quota/q/zookeeper_stats'), 'count=4,bytes=14', 'recounted, /q/a included');
    assert.equal(text(loaded, '/zookeeper/quota/q/a/zookeeper_stats'), 'count=3,bytes=12');
    assert.equal(loaded.maxPrefixWithQuota('/q/a/z'), '/q/a');
    assert.equal(loaded.maxPrefixWithQuota('/r/z'), null);
    assert.equal(text(loaded, '/zookeeper/quota/r/zookeeper_stats'), 'count=3,bytes=8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('enforceQuota: off by default, read from zoo.cfg or a property with or without its zookeeper. prefix', () => {
  assert.equal(resolveConfig({}).enforceQuota, false);
  assert.equal(parseZooCfg('enforceQuota=true').config.enforceQuota, true);
  assert.equal(parseZooCfg('zookeeper.enforceQuota=TRUE').config.enforceQuota, true);
  assert.equal(parseZooCfg('enforceQuota=yes').config.enforceQuota, false);
  assert.deepEqual(parseZooCfg('enforceQuota=false').warnings, []);
});
