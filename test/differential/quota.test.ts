/**
 * Differential: quota statistics. zkCli's setquota is pure client work (it writes
 * /zookeeper/quota<path>/zookeeper_limits and …/zookeeper_stats); the server then keeps the stats
 * node's data up to date on every create, delete and setData below the path, without touching that
 * node's version or mzxid. The scenarios write the quota nodes as zkCli does and read the stats
 * node (data and Stat) after each step.
 */
import { CreateFlag, OpCode } from '../../src/protocol/constants.ts';
import type { MultiOp } from '../../src/protocol/records.ts';
import type { RawClient } from '../support/raw-client.ts';
import { OPEN_ACL_UNSAFE } from '../support/raw-client.ts';
import { differential, type Script } from './harness.ts';

const QUOTA = '/zookeeper/quota';
const create = (path: string, data = ''): MultiOp =>
  ({ type: OpCode.create, req: { path, data: Buffer.from(data), acl: OPEN_ACL_UNSAFE, flags: 0, ttl: -1 } }) as MultiOp;
const del = (path: string): MultiOp => ({ type: OpCode.delete, req: { path, version: -1 } });
const set = (path: string, data: string): MultiOp => ({ type: OpCode.setData, req: { path, data: Buffer.from(data), version: -1 } });

/** The quota node of path and its missing parents, as setquota creates them. */
async function quotaParents(t: Script, c: RawClient, path: string): Promise<string> {
  let node = QUOTA;
  for (const part of path.split('/').filter((p) => p !== '')) {
    node += `/${part}`;
    await t.unrecorded(c, 'tryCreate', node, null, { opcode: OpCode.create });
  }
  return node;
}

/** setquota: limits, then the stats node with a placeholder the server replaces. */
async function setQuota(t: Script, c: RawClient, path: string, limits = 'count=5,bytes=-1'): Promise<void> {
  const node = await quotaParents(t, c, path);
  await t.op(c, 'tryCreate', `${node}/zookeeper_limits`, limits);
  // create2: the reply's Stat is the node as created, before the server counted the subtree.
  await t.op(c, 'tryCreate', `${node}/zookeeper_stats`, 'count=0,bytes=0');
}

const stats = (t: Script, c: RawClient, path: string): Promise<unknown> => t.op(c, 'tryGetData', `${QUOTA}${path}/zookeeper_stats`);

differential('quota', {}, ({ scenario }) => {
  scenario('stats follow creates, sets and deletes below a quota', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, 'root');
    await t.op(c, 'tryCreate', `${r}/a`, 'one');
    await t.op(c, 'tryCreate', `${r}/a/b`, 'two');
    await setQuota(t, c, r);
    await stats(t, c, r);
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_limits`);
    await t.op(c, 'tryCreate', `${r}/c`, 'three');
    await stats(t, c, r);
    await t.op(c, 'trySetData', `${r}/a`, 'longer data');
    await stats(t, c, r);
    await t.op(c, 'trySetData', `${r}/a`, null);
    await stats(t, c, r);
    await t.op(c, 'trySetData', r, '');
    await stats(t, c, r);
    await t.op(c, 'trySetData', `${r}/c`, 'x', 7); // BadVersion: nothing changes
    await t.op(c, 'tryDelete', `${r}/a/b`);
    await stats(t, c, r);
    await t.op(c, 'tryCreate', `${r}/s-`, 'seq', { flags: CreateFlag.persistentSequential });
    await t.op(c, 'tryCreate', `${r}/con`, 'container', { flags: CreateFlag.container });
    await t.op(c, 'tryCreate', `${r}/plain`, null, { opcode: OpCode.create });
    await stats(t, c, r);
    // An ephemeral goes with its session: closeSession's delete counts too.
    const e = await t.client();
    await t.op(e, 'tryCreate', `${r}/eph`, 'ephemeral', { flags: CreateFlag.ephemeral });
    await stats(t, c, r);
    await t.close(e);
    await stats(t, c, r);
    await t.op(c, 'tryMulti', [create(`${r}/m1`, 'mm'), set(`${r}/c`, 'xy'), create(`${r}/m2`), del(`${r}/m2`)]);
    await stats(t, c, r);
    await t.op(c, 'tryMulti', [create(`${r}/m3`, 'never'), del(`${r}/missing`)]); // fails: nothing applied
    await stats(t, c, r);
    // A sibling whose name merely starts with the quota'd one is not below it.
    await t.op(c, 'tryCreate', `${r}-sibling`, 'zzz');
    await t.op(c, 'tryCreate', `${r}-sibling/x`, 'zzz');
    await stats(t, c, r);
    await t.op(c, 'tryExists', `${QUOTA}${r}/zookeeper_stats`);
    // Emptying the subtree, the quota'd node itself included.
    for (const child of (await t.op(c, 'tryGetChildren', r)).value!) {
      for (const grandchild of (await t.op(c, 'tryGetChildren', `${r}/${child}`)).value ?? []) {
        await t.op(c, 'tryDelete', `${r}/${child}/${grandchild}`);
      }
      await t.op(c, 'tryDelete', `${r}/${child}`);
    }
    await stats(t, c, r);
    await t.op(c, 'tryDelete', r);
    await stats(t, c, r);
    await t.op(c, 'tryCreate', r, 'back');
    await stats(t, c, r);
    await t.op(c, 'tryGetData', `${QUOTA}${r}`);
  });

  scenario('nested quotas: the deepest one takes the updates', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, 'a');
    await t.op(c, 'tryCreate', `${r}/a/b`, 'bb');
    await t.op(c, 'tryCreate', `${r}/ab`, 'x');
    await setQuota(t, c, r);
    await setQuota(t, c, `${r}/a`, 'count=3,bytes=-1');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    await t.op(c, 'tryCreate', `${r}/a/c`, 'ccc');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    await t.op(c, 'tryCreate', `${r}/ab/d`, 'dddd');
    await t.op(c, 'trySetData', `${r}/a/b`, 'bbbb');
    await t.op(c, 'trySetData', `${r}/a`, '12345');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // Without its limits node, r/a is no longer a quota: its changes go to r's stats.
    await t.op(c, 'tryDelete', `${QUOTA}${r}/a/zookeeper_limits`);
    await t.op(c, 'tryDelete', `${r}/a/c`);
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // A new limits node marks it again; its stats are not recounted, only updated from then on.
    await t.op(c, 'tryCreate', `${QUOTA}${r}/a/zookeeper_limits`, 'count=10,bytes=-1');
    await t.op(c, 'tryCreate', `${r}/a/e`, 'eeeee');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // Unmarking r keeps r/a below it in the trie.
    await t.op(c, 'tryDelete', `${QUOTA}${r}/zookeeper_limits`);
    await t.op(c, 'tryCreate', `${r}/f`, 'f');
    await t.op(c, 'tryCreate', `${r}/a/g`, 'g');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // A missing stats node: nothing is kept; a new one is counted afresh.
    await t.op(c, 'tryDelete', `${QUOTA}${r}/a/zookeeper_stats`);
    await t.op(c, 'tryCreate', `${r}/a/h`, 'h');
    await t.op(c, 'tryCreate', `${QUOTA}${r}/a/zookeeper_stats`, 'placeholder', { opcode: OpCode.create });
    await stats(t, c, `${r}/a`);
    // Stats text the client wrote is parsed and written back in StatsTrack's form.
    await t.op(c, 'trySetData', `${QUOTA}${r}/a/zookeeper_stats`, 'count=1,bytes=2,zeta=3;alpha=4,,;=5,empty==1');
    await t.op(c, 'tryCreate', `${r}/a/i`, 'iii');
    await stats(t, c, `${r}/a`);
    await t.op(c, 'trySetData', `${QUOTA}${r}/a/zookeeper_stats`, 'count=7,bytes=9=;countHardLimit=4');
    await t.op(c, 'tryDelete', `${r}/a/i`);
    await stats(t, c, `${r}/a`);
    await t.op(c, 'trySetData', `${QUOTA}${r}/a/zookeeper_stats`, '');
    await t.op(c, 'tryCreate', `${r}/a/j`, 'jj');
    await stats(t, c, `${r}/a`);
    await t.op(c, 'trySetData', `${r}/a/j`, 'jjjj');
    await stats(t, c, `${r}/a`);
    await t.op(c, 'trySetData', `${QUOTA}${r}/a/zookeeper_stats`, 'count=9223372036854775807,bytes=-9223372036854775808');
    await t.op(c, 'tryCreate', `${r}/a/k`, '');
    await t.op(c, 'trySetData', `${r}/a/k`, 'k');
    await t.op(c, 'tryDelete', `${r}/a/k`);
    await stats(t, c, `${r}/a`);
    await stats(t, c, r);
  });

  scenario('quotas on paths yet to exist, stats before limits, limits without stats', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    // Quota'd before the node exists: counted from nothing.
    await setQuota(t, c, `${r}/later`);
    await stats(t, c, `${r}/later`);
    await t.op(c, 'tryCreate', `${r}/later`, 'abc');
    await t.op(c, 'tryCreate', `${r}/later/x`, 'x');
    await stats(t, c, `${r}/later`);
    // Limits without stats: nothing to update until the stats node appears.
    await t.op(c, 'tryCreate', `${r}/nostats`, 'n');
    const node = await quotaParents(t, c, `${r}/nostats`);
    await t.op(c, 'tryCreate', `${node}/zookeeper_limits`, 'count=1,bytes=-1');
    await t.op(c, 'tryCreate', `${r}/nostats/y`, 'yy');
    await t.op(c, 'tryCreate', `${node}/zookeeper_stats`, 'whatever', { opcode: OpCode.create2 });
    await stats(t, c, `${r}/nostats`);
    await t.op(c, 'tryCreate', `${r}/nostats/z`, 'zzz');
    await stats(t, c, `${r}/nostats`);
    // Stats before limits: counted once when created, then only once limits mark the path.
    await t.op(c, 'tryCreate', `${r}/sf`, 's');
    const sf = await quotaParents(t, c, `${r}/sf`);
    await t.op(c, 'tryCreate', `${sf}/zookeeper_stats`, null);
    await stats(t, c, `${r}/sf`);
    await t.op(c, 'tryCreate', `${r}/sf/unseen`, 'unseen');
    await t.op(c, 'tryCreate', `${sf}/zookeeper_limits`, 'count=-1,bytes=100');
    await t.op(c, 'tryCreate', `${r}/sf/seen`, 'seen');
    await stats(t, c, `${r}/sf`);
    // Setting the stats node by hand: its own write is not counted anywhere, later ones add to it.
    await t.op(c, 'trySetData', `${sf}/zookeeper_stats`, 'count=100,bytes=100');
    await t.op(c, 'tryDelete', `${r}/sf/seen`);
    await stats(t, c, `${r}/sf`);
    // Limits anywhere else (not below /zookeeper/quota) mean nothing.
    await t.op(c, 'tryCreate', `${r}/zookeeper_limits`, 'count=1,bytes=1');
    await t.op(c, 'tryCreate', `${r}/zookeeper_stats`, 'count=0,bytes=0');
    await t.op(c, 'tryGetData', `${r}/zookeeper_stats`);
    await t.op(c, 'tryDelete', `${r}/zookeeper_limits`);
  });

  scenario('stats survive restarts: the log replays them, a snapshot recounts them', async (t) => {
    let c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, 'xyz');
    await setQuota(t, c, r);
    await setQuota(t, c, `${r}/a`);
    await t.op(c, 'tryCreate', `${r}/b`, 'bb');
    await t.op(c, 'tryCreate', `${r}/a/c`, 'c');
    // Stats a client overwrote drift from the truth: a replayed log keeps the drift.
    await t.op(c, 'trySetData', `${QUOTA}${r}/zookeeper_stats`, 'count=100,bytes=100');
    await t.op(c, 'tryCreate', `${r}/d`, 'dddd');
    await t.op(c, 'trySetData', `${r}/a/c`, 'cc');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    await t.server.restart();
    c = await t.client();
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // Only changes that the nested quota r/a does not see: Ensemble's snapshot after the replay is
    // written while clients are served, and whether it catches these does not change the outcome.
    await t.op(c, 'tryCreate', `${r}/e`, 'eeeee');
    await t.op(c, 'trySetData', `${r}/b`, 'b');
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    // Both servers wrote a snapshot after that replay: this start loads it and recounts every
    // quota whose limits node it holds (r's count takes in r/a's subtree, whose changes went to
    // r/a's stats only), then replays what came after.
    await t.server.restart();
    c = await t.client();
    await stats(t, c, r);
    await stats(t, c, `${r}/a`);
    await t.op(c, 'tryDelete', `${r}/b`);
    await stats(t, c, r);
    await t.op(c, 'tryExists', `${QUOTA}${r}/zookeeper_stats`);
  }, { timeoutMs: 90_000 });
});
