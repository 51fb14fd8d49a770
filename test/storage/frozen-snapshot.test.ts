/**
 * A loaded snapshot's nodes stay frozen until first used. Whatever is thawed when, the tree must
 * read, change, iterate and write its next snapshot exactly as if every node had been decoded at
 * load: these tests hold a lazily loaded tree against one thawed whole right after the load (what
 * loading every node into a Map did), and against the tree the snapshot was written from.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { CONTAINER_EPHEMERAL_OWNER, OpCode, TTL_OWNER_MARK } from '../../src/protocol/constants.ts';
import { JuteWriter } from '../../src/protocol/jute.ts';
import { writeACLs, type ACL } from '../../src/protocol/records.ts';
import { readSnapshot, SNAP_MAGIC, writeSnapshot } from '../../src/server/storage/snapshot.ts';
import { DataTree, OPEN_ACL, statOf } from '../../src/server/tree/data-tree.ts';
import type { Txn } from '../../src/server/tree/txn.ts';
import { prng } from '../support/prng.ts';

const dir = mkdtempSync(join(tmpdir(), 'ensemble-frozen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SESSION = 0x100000001n;
const TTL_OWNER = BigInt.asIntN(64, TTL_OWNER_MARK | 5000n);
const DIGEST_ACL: ACL[] = [{ perms: 31, id: { scheme: 'digest', id: 'u:x' } }, { perms: 1, id: { scheme: 'world', id: 'anyone' } }];
const IP_ACL: ACL[] = [{ perms: 3, id: { scheme: 'ip', id: '10.0.0.0/8' } }];

function apply(tree: DataTree, txn: Txn, sessionId = SESSION): number {
  const zxid = tree.lastProcessedZxid + 1;
  return tree.apply({ header: { sessionId, cxid: 0, zxid, timeMs: 1_000 + zxid, type: OpCode.create }, txn }).err;
}

function create(tree: DataTree, path: string, data: Buffer | null = Buffer.from(path), acl: ACL[] = OPEN_ACL, owner = 0n): number {
  return apply(tree, { kind: 'create', path, data, acl, ephemeralOwner: owner, parentCVersion: -1 });
}

/**
 * Everything the tree keeps, nodes in iteration order, children and ephemerals in insertion order
 * and (unless `listed` is false) in the order clients see, which also depends on the size their
 * table has grown to: a reload sizes it afresh.
 */
function dump(tree: DataTree, listed = true): string {
  const nodes = [...tree.nodes.entries()].map(([path, n]) => [
    path, n.data === null ? null : n.data.toString('hex'), JSON.stringify(n.acl), n.czxid, n.mzxid, n.ctime, n.mtime,
    n.version, n.cversion, n.aversion, n.ephemeralOwner.toString(), n.pzxid, [...n.children].join(','), listed ? n.children.list().join(',') : '',
    JSON.stringify(statOf(n, tree.extendedTypes), (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
  ]);
  const ephemerals = [...tree.ephemerals].map(([s, set]) => [s.toString(), [...set].join(','), listed ? set.inZooKeeperOrder().join(',') : '']);
  return JSON.stringify({
    size: tree.nodeCount, nodes, ephemerals, containers: [...tree.containers], ttls: [...tree.ttls],
    sessions: [...tree.sessions].map(([s, t]) => `${s}:${t}`), zxid: tree.lastProcessedZxid,
  });
}

let files = 0;
async function snapshotOf(tree: DataTree): Promise<string> {
  const sub = join(dir, `s${files++}`);
  mkdirSync(sub);
  return (await writeSnapshot(tree, sub, { meta: { timeMs: 42 } })).path;
}

async function snapshotBytes(tree: DataTree): Promise<Buffer> {
  return readFileSync(await snapshotOf(tree));
}

async function reload(tree: DataTree): Promise<DataTree> {
  return readSnapshot(await snapshotOf(tree), tree.extendedTypes).tree;
}

function thawAll(tree: DataTree): DataTree {
  for (const path of [...tree.nodes.keys()]) tree.get(path);
  return tree;
}

/** A tree with every kind of node and field. */
function everyKind(): DataTree {
  const tree = new DataTree({ extendedTypes: true });
  apply(tree, { kind: 'createSession', timeoutMs: 30_000 });
  create(tree, '/a');
  create(tree, '/a/null', null);
  create(tree, '/a/empty', Buffer.alloc(0));
  create(tree, '/a/eph', Buffer.from('e'), OPEN_ACL, SESSION);
  create(tree, '/a/eph2', null, OPEN_ACL, SESSION);
  create(tree, '/cont', null, OPEN_ACL, CONTAINER_EPHEMERAL_OWNER);
  create(tree, '/cont/x');
  create(tree, '/ttl', Buffer.from('t'), OPEN_ACL, TTL_OWNER);
  create(tree, '/acl', Buffer.from('d'), DIGEST_ACL);
  create(tree, '/acl/ip', Buffer.from('i'), IP_ACL);
  create(tree, '/acl/none', Buffer.from('n'), []);
  create(tree, '/seq', null);
  for (let i = 0; i < 6; i++) create(tree, `/seq/s${i}`);
  for (let i = 0; i < 6; i += 3) apply(tree, { kind: 'delete', path: `/seq/s${i}` });
  for (let i = 0; i < 40; i++) create(tree, `/a/n${i}`);
  for (let i = 0; i < 30; i += 2) apply(tree, { kind: 'delete', path: `/a/n${i}` });
  create(tree, '/a/n0');
  apply(tree, { kind: 'setData', path: '/a', data: Buffer.from('v2'), version: 1 });
  apply(tree, { kind: 'setACL', path: '/ttl', acl: IP_ACL, version: 3 });
  create(tree, '/é');
  create(tree, '/é/ü😀', Buffer.from([0, 255]));
  create(tree, '/é/ü😀/x');
  create(tree, '/a/nested');
  create(tree, '/a/nested/deep');
  create(tree, '/zookeeper/quota/a');
  create(tree, '/zookeeper/quota/a/zookeeper_limits', Buffer.from('count=10,bytes=-1'));
  create(tree, '/zookeeper/quota/a/zookeeper_stats', Buffer.from('count=0,bytes=0'));
  return tree;
}

test('every kind of node and field loads as it was written', async () => {
  const written = everyKind();
  const loaded = await reload(written);
  assert.equal(dump(loaded), dump(thawAll(await reload(written))));
  assert.equal(dump(loaded, false), dump(written, false));
  assert.deepEqual(await snapshotBytes(loaded), await snapshotBytes(written));
  assert.equal(loaded.get('/a/null')!.data, null);
  assert.deepEqual(loaded.get('/a/empty')!.data, Buffer.alloc(0));
  assert.deepEqual(loaded.get('/acl')!.acl, DIGEST_ACL);
  assert.equal(loaded.get('/ttl')!.ephemeralOwner, TTL_OWNER);
  assert.deepEqual([...loaded.ttls], ['/ttl']);
  assert.deepEqual([...loaded.containers], ['/cont']);
  assert.deepEqual([...loaded.ephemeralsOf(SESSION)], ['/a/eph', '/a/eph2']);
  assert.equal(loaded.get('/é/ü😀')!.children.list().join(), 'x');
  assert.equal(loaded.allChildrenNumber('/a'), written.allChildrenNumber('/a'));
  assert.equal(loaded.get('/zookeeper/quota/a/zookeeper_stats')!.data!.toString(), written.get('/zookeeper/quota/a/zookeeper_stats')!.data!.toString());
  assert.equal(loaded.get('/nope'), undefined);
  assert.equal(loaded.nodes.has('/é/ü'), false);
});

test('whatever is thawed when, a loaded tree changes, iterates and snapshots as one decoded whole at load, and as the tree it came from', async () => {
  const random = prng(7);
  const base = everyKind();
  for (let p = 0; p < 20; p++) create(base, `/b${p}`);
  for (let i = 0; i < 400; i++) create(base, `/b${Math.floor(random() * 20)}/c${i}`, random() < 0.1 ? null : Buffer.from(`d${i}`));
  const lazy = await reload(base);
  const eager = thawAll(await reload(base));
  const paths = (): string[] => [...eager.nodes.keys()];
  const deleted: string[] = [];
  for (let step = 0; step < 3000; step++) {
    const r = random();
    const all = paths();
    const path = all[Math.floor(random() * all.length)];
    let txn: Txn | null = null;
    if (r < 0.3) lazy.get(path);
    else if (r < 0.35) assert.equal(lazy.allChildrenNumber(path), eager.allChildrenNumber(path));
    else if (r < 0.5) txn = { kind: 'create', path: `${path === '/' ? '' : path}/k${step % 7}`, data: Buffer.from(`s${step}`), acl: OPEN_ACL, ephemeralOwner: random() < 0.2 ? SESSION : 0n, parentCVersion: -1 };
    else if (r < 0.6) txn = { kind: 'create', path: deleted[Math.floor(random() * deleted.length)] ?? '/x', data: null, acl: IP_ACL, ephemeralOwner: 0n, parentCVersion: -1 };
    else if (r < 0.8) {
      txn = { kind: 'delete', path };
      deleted.push(path);
    }
    else if (r < 0.9) txn = { kind: 'setData', path, data: random() < 0.5 ? null : Buffer.from(`u${step}`), version: step };
    else if (r < 0.95) txn = { kind: 'setACL', path, acl: DIGEST_ACL, version: step };
    else if (r < 0.97) txn = { kind: 'closeSession', paths: [] };
    else txn = { kind: 'createSession', timeoutMs: step };
    if (txn !== null) {
      const err = apply(base, txn);
      assert.equal(apply(lazy, txn), err, `step ${step}: ${JSON.stringify(txn, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      assert.equal(apply(eager, txn), err);
    }
    if (step % 500 === 499) {
      assert.equal(dump(lazy), dump(eager), `step ${step}`);
      assert.equal(dump(lazy, false), dump(base, false), `step ${step}`);
      assert.deepEqual(await snapshotBytes(lazy), await snapshotBytes(base), `step ${step}`);
    }
  }
  assert.equal(dump(await reload(lazy)), dump(await reload(eager)));
});

/** A snapshot file made by hand in format 2 (its 24-byte header has no settings): one chunk of items. */
function handMadeSnapshot(nodes: Array<[string, string | null]>): string {
  const w = new JuteWriter();
  w.raw(Uint8Array.of(2)).int(0);
  writeACLs(w, OPEN_ACL);
  for (const [path, data] of nodes) {
    w.raw(Uint8Array.of(3)).ustring(path).buffer(data === null ? null : Buffer.from(data)).int(0)
      .long(1).long(2).long(3).long(4).int(0).int(0).int(0).bigLong(0n).long(5);
  }
  w.raw(Uint8Array.of(9)).long(nodes.length).int(0).long(9);
  const items = w.bytes();
  const file = Buffer.alloc(24 + 8 + items.length);
  file.writeUInt32BE(SNAP_MAGIC, 0);
  file.writeUInt32BE(2, 4);
  file.writeBigInt64BE(9n, 8);
  file.writeUInt32BE(items.length, 24);
  file.writeUInt32BE(crc32(items), 28);
  items.copy(file, 32);
  const path = join(dir, `snapshot.${(files++).toString(16)}`);
  writeFileSync(path, file);
  return path;
}

test('a path written twice keeps its first place with its last record; orphans go with their subtree', () => {
  const path = handMadeSnapshot([
    ['/', ''], ['/zookeeper', ''], ['/zookeeper/quota', ''],
    ['/p/c1', 'before its parent'], ['/p', 'first'], ['/p/c2', 'c2'], ['/gone/o', 'orphan'], ['/gone/o/x', 'its child'],
    ['/p', 'second'], ['/p/c1/g', 'grandchild'], ['/ö', 'ö'], ['/ö/ä', 'ä'], ['/ghost/ö', 'orphan too'], ['/ö', 'ö again'],
  ]);
  const loaded = readSnapshot(path, false);
  assert.equal(loaded.orphans, 3);
  const tree = loaded.tree;
  assert.deepEqual([...tree.nodes.keys()], ['/', '/zookeeper', '/zookeeper/quota', '/p/c1', '/p', '/p/c2', '/p/c1/g', '/ö', '/ö/ä', '/zookeeper/config']);
  assert.equal(tree.nodeCount, 10);
  assert.equal(tree.get('/p')!.data!.toString(), 'second');
  assert.deepEqual([...tree.get('/p')!.children], ['c1', 'c2']);
  assert.deepEqual([...tree.get('/')!.children], ['zookeeper', 'p', 'ö']);
  assert.deepEqual([...tree.get('/zookeeper')!.children], ['quota', 'config']);
  assert.equal(tree.get('/gone/o'), undefined);
  assert.equal(tree.allChildrenNumber('/'), 9);
  assert.deepEqual([...tree.get('/ö')!.children], ['ä']);
  assert.equal(tree.get('/ö')!.data!.toString(), 'ö again');
});
