/** Differential: multi (all-or-nothing writes) and multiRead. */
import assert from 'node:assert/strict';
import { CreateFlag, Err, OpCode } from '../../src/protocol/constants.ts';
import type { MultiOp } from '../../src/protocol/records.ts';
import { OPEN_ACL_UNSAFE } from '../support/raw-client.ts';
import { differential } from './harness.ts';

const create = (path: string, data = '', flags = 0, type: 1 | 15 | 19 = OpCode.create): MultiOp =>
  ({ type, req: { path, data: Buffer.from(data), acl: OPEN_ACL_UNSAFE, flags, ttl: -1 } }) as MultiOp;
const del = (path: string, version = -1): MultiOp => ({ type: OpCode.delete, req: { path, version } });
const set = (path: string, data: string, version = -1): MultiOp => ({ type: OpCode.setData, req: { path, data: Buffer.from(data), version } });
const check = (path: string, version: number): MultiOp => ({ type: OpCode.check, req: { path, version } });
const getData = (path: string): MultiOp => ({ type: OpCode.getData, req: { path, watch: false } });
const getChildren = (path: string): MultiOp => ({ type: OpCode.getChildren, req: { path, watch: false } });

differential('multi', { extendedTypesEnabled: true }, ({ scenario }) => {
  scenario('successful multi with every write kind', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(w, 'tryGetChildren', r, true);
    const res = await t.op(c, 'tryMulti', [
      create(`${r}/a`, 'a'),
      create(`${r}/b`, 'b', 0, OpCode.create2),
      create(`${r}/c`, '', CreateFlag.container, OpCode.createContainer),
      create(`${r}/s-`, '', CreateFlag.persistentSequential, OpCode.create2),
      { type: OpCode.createTTL, req: { path: `${r}/ttl`, data: null, acl: OPEN_ACL_UNSAFE, flags: 5, ttl: 60_000 } },
      set(`${r}/a`, 'a2', 0),
      check(`${r}/a`, 1),
      del(`${r}/b`, 0),
      create(`${r}/e`, '', CreateFlag.ephemeral, OpCode.create2),
    ]);
    assert.equal(res.err, 0);
    assert.equal(res.value!.length, 9);
    const stats = res.value!.filter((x) => 'stat' in x).map((x) => (x as { stat: { czxid: number } }).stat.czxid);
    assert.ok(stats.every((z) => z === res.zxid), 'one zxid for the whole multi');
    // Result types: create and create2 ops both answer a CreateResult without stat (type 1);
    // createContainer and createTTL answer one with a stat (type 15).
    assert.deepEqual(res.value!.map((x) => x.type), [1, 1, 15, 1, 15, 5, 13, 2, 1]);
    await t.events(w, 1, 15_000); // due: the wait ends once it has come
    await t.op(c, 'tryGetChildren2', r);
    await t.op(c, 'tryMulti', []);
  });

  scenario('failed multi: per-op results, zxid consumed, nothing applied', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/x`, 'x');
    await t.op(c, 'tryExists', `${r}/x`, true);
    const res = await t.op(c, 'tryMulti', [
      create(`${r}/new`),
      set(`${r}/x`, 'changed'),
      check(`${r}/x`, 5),
      del(`${r}/x`),
      create(`${r}/other`),
    ]);
    // ZooKeeper 3.8 leaves ReplyHeader.err at 0 for a failed multi: the failure is in the results.
    assert.equal(res.err, 0);
    assert.deepEqual(res.value!.map((x) => [x.type, 'err' in x ? x.err : 'ok']), [[-1, 0], [-1, 0], [-1, Err.BADVERSION], [-1, Err.RUNTIMEINCONSISTENCY], [-1, Err.RUNTIMEINCONSISTENCY]]);
    await t.op(c, 'tryExists', `${r}/new`);
    await t.op(c, 'tryGetData', `${r}/x`);
    // each failure kind inside a multi
    await t.op(c, 'tryMulti', [create(`${r}/x`)]);
    await t.op(c, 'tryMulti', [del(`${r}/nope`)]);
    await t.op(c, 'tryMulti', [create(`${r}/y`), del(r)]);
    await t.op(c, 'tryMulti', [create(`${r}/bad/`)]);
    await t.op(c, 'tryMulti', [create('bad')]);
    await t.op(c, 'tryMulti', [set(`${r}/x`, 'v', 9), create(`${r}/z`)]);
    await t.op(c, 'tryMulti', [check(`${r}/nope`, -1)]);
    await t.op(c, 'tryMulti', [create(`${r}/eph`, '', CreateFlag.ephemeral), create(`${r}/eph/kid`)]);
    await t.op(c, 'tryMulti', [{ type: OpCode.createTTL, req: { path: `${r}/t`, data: null, acl: OPEN_ACL_UNSAFE, flags: 5, ttl: 0 } }]);
    await t.op(c, 'tryMulti', [create(`${r}/acl`, '', 0), { type: OpCode.create, req: { path: `${r}/acl2`, data: null, acl: [], flags: 0, ttl: -1 } }]);
    // ops depending on earlier ops of the same multi
    await t.op(c, 'tryMulti', [create(`${r}/p`), create(`${r}/p/q`), set(`${r}/p/q`, 'v', 0), check(`${r}/p/q`, 1), del(`${r}/p/q`, 1), del(`${r}/p`)]);
    await t.op(c, 'tryMulti', [create(`${r}/p`), create(`${r}/p/q`), del(`${r}/p`)]);
    await t.op(c, 'tryExists', `${r}/p`);
    await t.op(c, 'tryMulti', [del(`${r}/x`), create(`${r}/x`, 'again'), check(`${r}/x`, 0)]);
    await t.op(c, 'tryGetData', `${r}/x`);
  });

  // A failed multi must leave nothing behind in prep's in-flight state: a sequential create that a
  // later op rolled back once poisoned that name until restart (NODEEXISTS for every later create).
  scenario('a rolled-back sequential create leaves its name free, whatever op fails and where', async (t) => {
    const c = await t.client();
    const r = t.root;
    const seq = (name: string): MultiOp => create(`${r}/b/${name}`, '', CreateFlag.persistentSequential);
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/b`, '');
    await t.op(c, 'tryCreate', `${r}/b/c`, '');
    const failing: MultiOp[] = [
      check(`${r}/b`, 7), check(`${r}/a\u0000b`, -1), create(`${r}/b/c`), del(`${r}/nope`), del(`${r}/b`),
      set(`${r}/b`, 'x', 3), create(`${r}/b/x/y`), create('bad'),
    ];
    for (const bad of failing) {
      await t.op(c, 'tryMulti', [seq('c'), bad]);
      await t.op(c, 'tryMulti', [seq('c'), bad]);
      await t.op(c, 'tryMulti', [create(`${r}/b/d`), seq('c'), seq('c'), bad]);
      await t.op(c, 'tryMulti', [set(`${r}/b`, 'y'), seq('s'), bad, seq('s')]);
      await t.op(c, 'tryCreate', `${r}/b/c`, '', { flags: CreateFlag.persistentSequential });
    }
    await t.op(c, 'tryGetChildren2', `${r}/b`);
    await t.op(c, 'tryGetData', `${r}/b`);
  });

  scenario('pipelined writes behind a failed multi see the state before it', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.pipelined(c, [
      ['tryCreate', `${r}/q`, ''],
      ['tryMulti', [create(`${r}/q/n`, '', CreateFlag.persistentSequential), del(`${r}/q`), check(`${r}/q`, 9)]],
      ['tryCreate', `${r}/q/n`, '', { flags: CreateFlag.persistentSequential }],
      ['tryMulti', [set(`${r}/q`, 'a', 0), del(`${r}/q/n0000000001`), set(`${r}/q`, 'b', 0)]],
      ['trySetData', `${r}/q`, 'c', 0],
      ['tryMulti', [del(`${r}/q/n0000000001`), del(`${r}/q`), create(`${r}/q`, '', 0)]],
      ['tryDelete', `${r}/q/n0000000001`, 0],
      ['tryGetChildren2', `${r}/q`],
    ]);
  });

  scenario('multiRead with mixed successes and errors', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, 'root');
    await t.op(c, 'tryCreate', `${r}/a`, 'a');
    await t.op(c, 'tryCreate', `${r}/locked`, 'secret', { acl: [{ perms: 0, id: { scheme: 'world', id: 'anyone' } }] });
    const res = await t.op(c, 'tryMultiRead', [getData(r), getChildren(r), getData(`${r}/nope`), getChildren(`${r}/nope`), getData(`${r}/locked`), getData(`${r}/a`), getChildren('bad')]);
    assert.equal(res.err, 0);
    assert.equal(res.value!.length, 7);
    assert.deepEqual(res.value![2], { type: OpCode.error, err: Err.NONODE });
    await t.op(c, 'tryMultiRead', []);
    await t.op(c, 'tryMultiRead', [getData('/zookeeper/quota'), getChildren('/zookeeper')]);
  });
});
