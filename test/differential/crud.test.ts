/** Differential: create / read / update / delete, Stat fields, child order, sync, standalone check. */
import assert from 'node:assert/strict';
import { OpCode } from '../../src/protocol/constants.ts';
import { differential } from './harness.ts';

differential('crud', {}, ({ scenario }) => {
  scenario('stat fields through create, set and delete of children', async (t) => {
    const c = await t.client();
    const r = t.root;
    const created = await t.op(c, 'tryCreate', r, 'root-data');
    assert.equal(created.err, 0);
    const s0 = (await t.op(c, 'tryExists', r)).value!;
    assert.equal(s0.czxid, s0.mzxid);
    assert.equal(s0.pzxid, s0.czxid);
    assert.equal(s0.dataLength, 9);
    assert.equal(s0.version, 0);
    assert.equal(s0.ctime, s0.mtime);
    await t.op(c, 'tryCreate', `${r}/a`, 'x');
    await t.op(c, 'tryCreate', `${r}/b`, null);
    await t.op(c, 'tryCreate', `${r}/c`, '');
    const s1 = (await t.op(c, 'tryExists', r)).value!;
    assert.equal(s1.numChildren, 3);
    assert.equal(s1.cversion, 3);
    assert.equal(s1.mzxid, s0.mzxid, 'children do not change mzxid');
    assert.ok(s1.pzxid > s0.pzxid);
    await t.sleep(5);
    const set = (await t.op(c, 'trySetData', r, 'changed', 0)).value!;
    assert.equal(set.version, 1);
    assert.ok(set.mzxid > set.czxid);
    assert.ok(set.mtime > set.ctime, 'mtime moves on setData');
    await t.op(c, 'trySetData', r, 'again', 0); // BadVersion
    await t.op(c, 'trySetData', `${r}/missing`, 'x', -1); // NoNode
    await t.op(c, 'tryGetData', `${r}/b`);
    await t.op(c, 'tryGetData', `${r}/c`);
    await t.op(c, 'tryDelete', `${r}/a`, 5); // BadVersion
    await t.op(c, 'tryDelete', `${r}/a`, 0);
    await t.op(c, 'tryDelete', `${r}/a`); // NoNode
    const s2 = (await t.op(c, 'tryGetChildren2', r)).value!;
    assert.equal(s2.stat.cversion, 4, 'delete bumps cversion');
    assert.equal(s2.stat.numChildren, 2);
    await t.op(c, 'tryDelete', r); // NotEmpty
    await t.op(c, 'tryCreate', `${r}/b`, 'dup'); // NodeExists
    await t.op(c, 'tryCreate', `${r}/nope/x`, 'x'); // NoNode
    await t.op(c, 'tryCreate', `${r}/plain`, 'p', { opcode: OpCode.create });
    await t.op(c, 'tryExists', `${r}/absent`);
  });

  scenario('set data with null, empty and large values', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, null);
    await t.op(c, 'tryGetData', t.root);
    await t.op(c, 'trySetData', t.root, Buffer.alloc(1000, 0x61));
    await t.op(c, 'trySetData', t.root, null);
    await t.op(c, 'tryGetData', t.root);
    await t.op(c, 'trySetData', t.root, '');
    await t.op(c, 'tryGetData', t.root);
    await t.op(c, 'trySetData', t.root, 'v', 3);
    await t.op(c, 'trySetData', t.root, 'v', 3);
  });

  scenario('children order is the HashSet order', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    const names = ['zeta', 'alpha', 'm1', 'm10', 'm2', 'node-0000000001', 'b', 'a', 'Z', 'longer-name-here', 'x9', 'q', '07', 'é'];
    for (const n of names) await t.op(c, 'tryCreate', `${t.root}/${n}`, '');
    const list = (await t.op(c, 'tryGetChildren', t.root)).value!;
    assert.equal(list.length, names.length);
    assert.notDeepEqual(list, names, 'not insertion order');
    assert.notDeepEqual(list, [...names].sort(), 'not sorted');
    for (const n of ['m1', 'b', 'x9']) await t.op(c, 'tryDelete', `${t.root}/${n}`);
    await t.op(c, 'tryGetChildren2', t.root);
    for (let i = 0; i < 20; i++) await t.op(c, 'tryCreate', `${t.root}/grow${i}`, '');
    await t.op(c, 'tryGetChildren', t.root);
  });

  scenario('sequential suffixes, including after deletes', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    const first = (await t.op(c, 'tryCreate', `${t.root}/seq-`, '', { flags: 2 })).value!;
    assert.equal(first.path, `${t.root}/seq-0000000000`);
    await t.op(c, 'tryCreate', `${t.root}/plain`, '');
    await t.op(c, 'tryCreate', `${t.root}/seq-`, '', { flags: 2 });
    await t.op(c, 'tryDelete', `${t.root}/plain`);
    const after = (await t.op(c, 'tryCreate', `${t.root}/seq-`, '', { flags: 2 })).value!;
    // The counter counts creates only (the stored cversion); the Stat's cversion also counts deletes.
    assert.equal(after.path, `${t.root}/seq-0000000003`);
    const parent = (await t.op(c, 'tryExists', t.root)).value!;
    assert.equal(parent.cversion, 5);
    await t.op(c, 'tryCreate', `${t.root}/`, '', { flags: 2 }); // trailing slash allowed with sequential
    await t.op(c, 'tryCreate', `${t.root}/e-`, '', { flags: 3 });
    await t.op(c, 'tryCreate', `${t.root}/seq-0000000006`, '');
    await t.op(c, 'tryCreate', `${t.root}/seq-`, '', { flags: 2 }); // collides: NodeExists
    await t.op(c, 'tryGetChildren', t.root);
    await t.op(c, 'tryCreate', `${t.root}/sub`, '');
    await t.op(c, 'tryCreate', `${t.root}/sub/`, '', { flags: 2, opcode: OpCode.create });
  });

  scenario('sync and standalone check', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, 'd');
    await t.op(c, 'trySync', t.root);
    await t.op(c, 'trySync', `${t.root}/missing`);
    await t.op(c, 'trySync', 'not-a-path');
    // ZooKeeper 3.8 never answers a successful standalone check (its zxid is consumed all the same).
    const [ok] = await t.pipelined(c, [['tryCheck', t.root, 0], ['tryExists', t.root]]);
    assert.ok((ok as { noReply?: boolean }).noReply);
    await t.op(c, 'tryCheck', t.root, 7);
    await t.op(c, 'tryCheck', t.root, -1);
    await t.op(c, 'tryCheck', `${t.root}/missing`, -1);
    await t.op(c, 'tryCheck', 'bad', -1);
    await t.op(c, 'tryExists', t.root);
  });

  scenario('getAllChildrenNumber and getEphemerals', async (t) => {
    const c = await t.client();
    const d = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/a`, '');
    await t.op(c, 'tryCreate', `${t.root}/a/b`, '');
    await t.op(c, 'tryCreate', `${t.root}/a/b/c`, '');
    await t.op(c, 'tryCreate', `${t.root}/e1`, '', { flags: 1 });
    await t.op(c, 'tryCreate', `${t.root}/a/e2`, '', { flags: 1 });
    await t.op(d, 'tryCreate', `${t.root}/e3`, '', { flags: 1 });
    await t.op(c, 'tryCreate', `${t.root}/e-`, '', { flags: 3 });
    const n = (await t.op(c, 'tryGetAllChildrenNumber', t.root)).value!;
    assert.equal(n, 7);
    await t.op(c, 'tryGetAllChildrenNumber', `${t.root}/a`);
    await t.op(c, 'tryGetAllChildrenNumber', `${t.root}/a/b/c`);
    await t.op(c, 'tryGetAllChildrenNumber', `${t.root}/missing`);
    await t.op(c, 'tryGetAllChildrenNumber', '/zookeeper');
    const all = (await t.op(c, 'tryGetEphemerals', '/')).value!;
    assert.equal(all.length, 3);
    await t.op(c, 'tryGetEphemerals', `${t.root}/a`);
    await t.op(c, 'tryGetEphemerals', `${t.root}/e`);
    await t.op(c, 'tryGetEphemerals', `${t.root}/zz`);
    await t.op(c, 'tryGetEphemerals', '');
    await t.op(d, 'tryGetEphemerals', t.root);
  });

  scenario('getEphemerals lists in the order of ZooKeeper\'s hash set', async (t) => {
    const c = await t.client();
    const d = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    for (const p of ['p1', 'p2', 'p3', 'p1/q']) await t.op(c, 'tryCreate', `${r}/${p}`, '');
    const parents = ['p1', 'p2', 'p3', 'p1/q'];
    const queries = async (): Promise<void> => {
      await t.pipelined(c, [
        ['tryGetEphemerals', '/'], ['tryGetEphemerals', ''], ['tryGetEphemerals', `${r}/p1`],
        ['tryGetEphemerals', `${r}/p2/`], ['tryGetEphemerals', `${r}/p3/e1`], ['tryGetEphemerals', r],
      ]);
    };
    await queries();
    // 30 ephemerals (some sequential) in bursts, listing between them: the session's table grows
    // 16 -> 32 at the 13th and -> 64 at the 25th.
    const names: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `${r}/${parents[i % parents.length]}/e${i}`;
      const sequential = i % 7 === 3;
      const res = await t.op(c, 'tryCreate', sequential ? `${name}-` : name, '', { flags: sequential ? 3 : 1 });
      names.push((res.value as { path: string }).path);
      if (i === 2 || i === 11 || i === 12 || i === 23 || i === 24 || i === 29) await queries();
    }
    await t.op(d, 'tryCreate', `${r}/p2/other`, '', { flags: 1 });
    await t.op(d, 'tryGetEphemerals', '/');
    // Deleting leaves the table as large as it was; the copy getEphemerals answers with is sized
    // for what is left.
    for (let i = 0; i < 30; i += 2) await t.op(c, 'tryDelete', names[i]);
    await queries();
    for (let i = 0; i < 12; i += 4) await t.op(c, 'tryCreate', names[i], '', { flags: 1 });
    await queries();
    for (let i = 1; i < 30; i += 2) await t.op(c, 'tryDelete', names[i]);
    await queries();
    for (let i = 0; i < 12; i += 4) await t.op(c, 'tryDelete', names[i]);
    await queries();
    for (let i = 29; i >= 0; i -= 3) await t.op(c, 'tryCreate', names[i], '', { flags: 1 });
    await queries();
    const all = (await t.op(c, 'tryGetEphemerals', '/')).value!;
    assert.equal(all.length, 10);
    await t.op(d, 'tryGetEphemerals', r);
  });

  scenario('system nodes', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryGetChildren', '/zookeeper');
    await t.op(c, 'tryGetData', '/zookeeper/quota');
    await t.op(c, 'tryExists', '/zookeeper');
    await t.op(c, 'tryGetACL', '/zookeeper/config');
    await t.op(c, 'tryGetACL', '/zookeeper');
    await t.op(c, 'tryGetData', '/zookeeper/config');
  });
});
