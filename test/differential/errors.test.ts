/** Differential: error codes, invalid paths, system nodes, unknown opcodes. */
import assert from 'node:assert/strict';
import { CreateFlag, Err, OpCode } from '../../src/protocol/constants.ts';
import { differential } from './harness.ts';

const INVALID = ['//a', 'a', '', '/a/', '/a/./b', '/a/../b', '/.', '/a/.', '/a\u0000b', '/a//b', '/\u0001x', '/\uFFF5'];

differential('errors', {}, ({ scenario }) => {
  scenario('invalid paths on writes', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    for (const p of INVALID) {
      const path = p.startsWith('/') ? t.root + p : p;
      const r = await t.op(c, 'tryCreate', path, '');
      assert.notEqual(r.err, 0, `create ${JSON.stringify(path)}`);
      await t.op(c, 'tryCreate', path, '', { flags: CreateFlag.persistentSequential });
      await t.op(c, 'trySetData', path, 'x');
      await t.op(c, 'tryDelete', path);
      await t.op(c, 'trySetACL', path, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
    }
    const seq = await t.op(c, 'tryCreate', `${t.root}/`, '', { flags: CreateFlag.persistentSequential });
    assert.equal(seq.err, 0, 'a trailing slash is fine with a sequential create');
    const badArgs = await t.op(c, 'tryCreate', `${t.root}/`, '');
    assert.equal(badArgs.err, Err.BADARGUMENTS);
    // The parent is looked up before the path is validated.
    const noParent = await t.op(c, 'tryCreate', `${t.root}/a/`, '');
    assert.equal(noParent.err, Err.NONODE);
  });

  scenario('invalid paths on reads', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    for (const p of INVALID) {
      const path = p.startsWith('/') ? t.root + p : p;
      await t.op(c, 'tryExists', path);
      await t.op(c, 'tryGetData', path);
      await t.op(c, 'tryGetChildren', path);
      await t.op(c, 'tryGetChildren2', path);
      await t.op(c, 'tryGetACL', path);
      await t.op(c, 'tryGetAllChildrenNumber', path);
      await t.op(c, 'tryExists', path, true);
    }
    await t.op(c, 'tryCreate', t.root + '/after', '');
  });

  scenario('system nodes cannot be deleted; /zookeeper accepts children', async (t) => {
    const c = await t.client();
    for (const p of ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']) {
      const r = await t.op(c, 'tryDelete', p);
      assert.notEqual(r.err, 0, `delete ${p}`);
    }
    await t.op(c, 'tryCreate', '/zookeeper/config/x', '');
    await t.op(c, 'trySetData', '/zookeeper/config', 'x');
    const name = `/zookeeper${t.root}`;
    await t.op(c, 'tryCreate', name, '');
    await t.op(c, 'tryCreate', `/zookeeper/quota${t.root}`, '');
    await t.op(c, 'tryDelete', name);
    await t.op(c, 'tryDelete', `/zookeeper/quota${t.root}`);
    await t.op(c, 'tryCreate', '/', '');
    await t.op(c, 'tryCreate', '/zookeeper', '');
    // The root's own stat depends on the other scenarios: keep only what this one controls.
    for (const data of ['root', '']) {
      const r = await t.unrecorded(c, 'trySetData', '/', data);
      t.note('setData /', { err: r.err, dataLength: r.value?.dataLength, mzxid: r.value?.mzxid });
    }
  });

  scenario('TTL when extended types are off, bad ACLs, bad versions', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    const ttl = await t.op(c, 'tryCreate', `${t.root}/ttl`, '', { flags: CreateFlag.persistentWithTtl, ttl: 1000 });
    assert.equal(ttl.err, Err.UNIMPLEMENTED);
    await t.op(c, 'tryCreate', `${t.root}/ttl`, '', { flags: CreateFlag.persistentSequentialWithTtl, ttl: 1000 });
    await t.op(c, 'tryCreate', `${t.root}/ttl0`, '', { flags: CreateFlag.persistent, ttl: 1000, opcode: OpCode.createTTL });
    await t.op(c, 'tryCreate', `${t.root}/nullacl`, '', { acl: null });
    await t.op(c, 'tryCreate', `${t.root}/emptyacl`, '', { acl: [] });
    await t.op(c, 'tryCreate', `${t.root}/badscheme`, '', { acl: [{ perms: 31, id: { scheme: 'nope', id: 'x' } }] });
    await t.op(c, 'tryCreate', `${t.root}/baddigest`, '', { acl: [{ perms: 31, id: { scheme: 'digest', id: 'nocolon' } }] });
    await t.op(c, 'tryCreate', `${t.root}/badip`, '', { acl: [{ perms: 31, id: { scheme: 'ip', id: '300.1.1.1' } }] });
    await t.op(c, 'tryCreate', `${t.root}/auth`, '', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
    await t.op(c, 'tryCreate', `${t.root}/worldother`, '', { acl: [{ perms: 31, id: { scheme: 'world', id: 'other' } }] });
    await t.op(c, 'tryCreate', `${t.root}/perms0`, '', { acl: [{ perms: 0, id: { scheme: 'world', id: 'anyone' } }] });
    await t.op(c, 'tryCreate', `${t.root}/perms99`, '', { acl: [{ perms: 99, id: { scheme: 'world', id: 'anyone' } }] });
    await t.op(c, 'tryGetACL', `${t.root}/perms99`);
    await t.op(c, 'tryCreate', `${t.root}/dups`, '', { acl: [
      { perms: 31, id: { scheme: 'world', id: 'anyone' } }, { perms: 31, id: { scheme: 'world', id: 'anyone' } },
      { perms: 1, id: { scheme: 'ip', id: '10.0.0.0/8' } }] });
    await t.op(c, 'tryGetACL', `${t.root}/dups`);
    await t.op(c, 'trySetACL', t.root, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], 5);
    await t.op(c, 'trySetACL', t.root, [], 0);
    await t.op(c, 'trySetACL', t.root, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], 0);
    await t.op(c, 'trySetACL', t.root, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], 0);
    await t.op(c, 'tryGetACL', t.root);
    await t.op(c, 'tryDelete', `${t.root}/missing`, 3);
  });

  scenario('watch management errors', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    for (const type of [1, 2, 3, 4, 5, 0, 9]) {
      await t.op(c, 'tryCheckWatches', t.root, type);
      await t.op(c, 'tryRemoveWatches', t.root, type);
    }
    await t.op(c, 'tryAddWatch', t.root, 2);
    await t.op(c, 'tryAddWatch', t.root, -1);
    await t.op(c, 'tryAddWatch', `${t.root}/missing`, 0);
    await t.op(c, 'tryCheckWatches', `${t.root}/missing`, 1);
    await t.op(c, 'tryCheckWatches', `${t.root}/missing`, 2);
    await t.op(c, 'tryCheckWatches', `${t.root}/missing`, 3);
  });

  scenario('unknown opcode', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    // Nothing is pipelined behind it: whether ZooKeeper still answers a request that arrived with
    // the unknown one is a race inside ZooKeeper (seen both ways).
    const r = await t.op(c, 'tryRaw', 77, Buffer.alloc(0));
    t.note('unknown opcode answered', r);
    // Both servers close here: a generous wait, for a busy machine. (The waits below watch
    // connections that both servers keep open: they are windows, not limits.)
    await t.expectClose(c, 15_000);
    const d = await t.client();
    await t.pipelined(d, [['tryRaw', OpCode.reconfig, Buffer.alloc(0)], ['tryExists', t.root]]);
    await t.expectClose(d, 1000);
    const e = await t.client();
    await t.pipelined(e, [['tryRaw', OpCode.sasl, Buffer.alloc(4)], ['tryExists', t.root]]);
    await t.expectClose(e, 500);
  });

  scenario('deleteContainer sent by a client', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/con`, '', { flags: CreateFlag.container });
    const path = (p: string): Buffer => { const b = Buffer.alloc(4 + Buffer.byteLength(p)); b.writeInt32BE(b.length - 4); b.write(p, 4); return b; };
    await t.pipelined(c, [['tryRaw', OpCode.deleteContainer, path('/a')], ['tryExists', t.root]]);
    await t.pipelined(c, [['tryRaw', OpCode.deleteContainer, path(`${t.root}/con`)], ['tryExists', `${t.root}/con`]]);
    await t.expectClose(c, 500);
  });

  scenario('malformed request bodies', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.pipelined(c, [['tryRaw', OpCode.create, Buffer.from([0, 0, 0, 9, 0x2f])], ['tryExists', t.root]]);
    await t.expectClose(c, 1000);
    const d = await t.client();
    await t.pipelined(d, [['tryRaw', OpCode.getData, Buffer.from([0, 0])], ['tryExists', t.root]]);
    await t.expectClose(d, 1000);
  });
});
