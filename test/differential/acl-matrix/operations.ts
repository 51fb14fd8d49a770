/**
 * The columns' operations of the permission matrix. Each runs against its own target znode
 * `node`, which carries the ACL under test, holds the data "secret" and one child `k` (open ACL).
 * Operations that check the parent (create, delete) work on children of `node`. Reads record what
 * came back; watch operations record which events reached the caller after the owner (the super
 * user) changed the node.
 */
import { AddWatchMode, CreateFlag, OpCode, Perms, WatcherType } from '../../../src/protocol/constants.ts';
import type { ACL, MultiOp } from '../../../src/protocol/records.ts';
import type { CreateOpts, RawClient } from '../../support/raw-client.ts';
import { aclText, code, eventsAbout, list, multiOutcome, outcome, quoted } from './outcome.ts';

export interface Cell {
  /** The session under test. */
  caller: RawClient;
  /** The super user's session: builds fixtures and makes the changes watches should see. */
  owner: RawClient;
  /** The target znode, with the ACL under test. */
  node: string;
  /** A path under an open parent that does not exist yet. */
  free: string;
  /** The zxid of the last write that made `node` and its child (no change to either after it). */
  setupZxid: number;
  /** The ACL under test, as given to setACL. */
  acl: ACL[];
  /** A new session authenticated as the caller is. */
  newCaller(): Promise<RawClient>;
  /** A new connection to the session of `c`, with no addauth (as a reconnection before it re-authenticates). */
  reconnect(c: RawClient): Promise<RawClient>;
}

export interface Operation {
  key: string;
  /** What the operation is, as a heading. */
  label: string;
  /** The permission ZooKeeper checks, and on which znode. */
  checks: string;
  run(cell: Cell): Promise<string>;
}

/** Lets the events of writes already answered reach the caller: one round trip behind them. */
async function settle(c: Cell): Promise<void> {
  await c.caller.tryExists('/');
}

/** The owner changes the node (and its children when asked); then the events the caller saw. */
async function afterChange(c: Cell, change: (owner: RawClient) => Promise<unknown>): Promise<string> {
  await change(c.owner);
  await settle(c);
  return eventsAbout(c.caller, c.node);
}

const TTL_MS = 3_600_000;

function createOp(key: string, label: string, opts: CreateOpts, child = 'new'): Operation {
  return {
    key, label, checks: 'CREATE on the parent',
    run: async (c) => outcome(await c.caller.tryCreate(`${c.node}/${child}`, 'v', opts)),
  };
}

const OPEN_ACL: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
/** ALL for the caller's own authenticated identities (fixupACL expands it). */
const AUTH_ACL: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }];

/** A create inside a multi (create, create2, createContainer or createTTL). */
function createReq(path: string, acl = OPEN_ACL, type: number = OpCode.create, flags: number = CreateFlag.persistent, ttl = -1): MultiOp {
  return { type, req: { path, data: null, acl, flags, ttl } } as MultiOp;
}

function multiOp(key: string, label: string, checks: string, ops: (c: Cell) => MultiOp[], readOnly = false): Operation {
  return {
    key, label, checks,
    run: async (c) => multiOutcome(await (readOnly ? c.caller.tryMultiRead(ops(c)) : c.caller.tryMulti(ops(c)))),
  };
}

/** A getData/exists/getChildren watch set by the caller, then a change by the owner. */
function watchOp(key: string, label: string, checks: string, set: (c: Cell) => Promise<string>, change: (c: Cell, owner: RawClient) => Promise<unknown>): Operation {
  return {
    key, label, checks,
    run: async (c) => `${await set(c)}; ${await afterChange(c, (o) => change(c, o))}`,
  };
}

const setDataBy = (c: Cell, o: RawClient): Promise<unknown> => o.trySetData(c.node, 'changed');

export const OPERATIONS: readonly Operation[] = [
  // ---- CREATE on the parent ----
  createOp('create', 'create (opcode create), persistent', { opcode: OpCode.create }),
  createOp('create2', 'create2, persistent', {}),
  createOp('create-ephemeral', 'create2, ephemeral', { flags: CreateFlag.ephemeral }),
  createOp('create-sequential', 'create2, persistent sequential', { flags: CreateFlag.persistentSequential }),
  createOp('create-ephemeral-sequential', 'create2, ephemeral sequential', { flags: CreateFlag.ephemeralSequential }),
  createOp('create-container', 'createContainer', { flags: CreateFlag.container }),
  createOp('create-ttl', 'createTTL, persistent with TTL', { flags: CreateFlag.persistentWithTtl, ttl: TTL_MS }),
  createOp('create-ttl-sequential', 'createTTL, persistent sequential with TTL', { flags: CreateFlag.persistentSequentialWithTtl, ttl: TTL_MS }),
  createOp('create-existing', 'create2 of a child that exists (which comes first: NodeExists or NoAuth)', {}, 'k'),
  createOp('create-auth-acl', 'create2 with ACL auth:ALL (the ACL is fixed up before the check)', { acl: AUTH_ACL }),
  {
    key: 'create-ephemeral-list', label: 'create2 ephemeral, then getEphemerals under the node', checks: 'CREATE on the parent; getEphemerals checks none',
    run: async (c) => {
      const created = code((await c.caller.tryCreate(`${c.node}/e`, '', { flags: CreateFlag.ephemeral })).err);
      const listed = outcome(await c.caller.tryGetEphemerals(c.node), (ps) => list(ps.map((p) => p.slice(c.node.length + 1))));
      return `${created}; ${listed}`;
    },
  },
  // ---- DELETE on the parent ----
  { key: 'delete', label: 'delete of the child k', checks: 'DELETE on the parent', run: async (c) => outcome(await c.caller.tryDelete(`${c.node}/k`)) },
  { key: 'delete-bad-version', label: 'delete of k with a wrong version', checks: 'DELETE on the parent, then the version', run: async (c) => outcome(await c.caller.tryDelete(`${c.node}/k`, 7)) },
  { key: 'delete-missing', label: 'delete of a child that does not exist', checks: 'DELETE on the parent, then existence', run: async (c) => outcome(await c.caller.tryDelete(`${c.node}/missing`)) },
  // ---- reads of the node ----
  { key: 'getData', label: 'getData', checks: 'READ on the node', run: async (c) => outcome(await c.caller.tryGetData(c.node), (v) => quoted(v.data)) },
  { key: 'exists', label: 'exists', checks: 'none', run: async (c) => outcome(await c.caller.tryExists(c.node), (s) => `numChildren=${s.numChildren}`) },
  { key: 'getChildren', label: 'getChildren', checks: 'READ on the node', run: async (c) => outcome(await c.caller.tryGetChildren(c.node), list) },
  { key: 'getChildren2', label: 'getChildren2', checks: 'READ on the node', run: async (c) => outcome(await c.caller.tryGetChildren2(c.node), (v) => `${list(v.children)} numChildren=${v.stat.numChildren}`) },
  { key: 'getAllChildrenNumber', label: 'getAllChildrenNumber', checks: 'READ on the node', run: async (c) => outcome(await c.caller.tryGetAllChildrenNumber(c.node), String) },
  {
    key: 'getACL', label: 'getACL (digest hashes masked without ADMIN)', checks: 'READ or ADMIN on the node',
    run: async (c) => outcome(await c.caller.tryGetACL(c.node), (v) => aclText(v.acl).replace(/(digest:alice:)(?!x:)\S+(?=:)/, '$1<hash>')),
  },
  { key: 'sync', label: 'sync', checks: 'none', run: async (c) => outcome(await c.caller.trySync(c.node)) },
  multiOp('multiRead', 'multiRead [getData, getChildren]', 'READ on the node, per op', (c) => [
    { type: OpCode.getData, req: { path: c.node, watch: false } }, { type: OpCode.getChildren, req: { path: c.node, watch: false } },
  ], true),
  // ---- writes of the node ----
  { key: 'setData', label: 'setData', checks: 'WRITE on the node', run: async (c) => outcome(await c.caller.trySetData(c.node, 'new')) },
  { key: 'setData-bad-version', label: 'setData with a wrong version', checks: 'WRITE on the node, then the version', run: async (c) => outcome(await c.caller.trySetData(c.node, 'new', 9)) },
  {
    key: 'setACL', label: 'setACL to world:anyone:ALL', checks: 'ADMIN on the node',
    run: async (c) => outcome(await c.caller.trySetACL(c.node, OPEN_ACL)),
  },
  {
    key: 'setACL-bad-version', label: 'setACL with a wrong version', checks: 'ADMIN on the node, then the version',
    run: async (c) => outcome(await c.caller.trySetACL(c.node, OPEN_ACL, 9)),
  },
  {
    key: 'setACL-auth', label: 'setACL to auth:ALL (the ACL is fixed up before the check)', checks: 'ADMIN on the node',
    run: async (c) => outcome(await c.caller.trySetACL(c.node, AUTH_ACL)),
  },
  // ---- multi ----
  multiOp('multi-create', 'multi [create a child]', 'CREATE on the parent', (c) => [createReq(`${c.node}/new`)]),
  multiOp('multi-create2', 'multi [create2 a child]', 'CREATE on the parent', (c) => [createReq(`${c.node}/new`, OPEN_ACL, OpCode.create2)]),
  multiOp('multi-create-container', 'multi [createContainer a child]', 'CREATE on the parent', (c) => [
    createReq(`${c.node}/new`, OPEN_ACL, OpCode.createContainer, CreateFlag.container),
  ]),
  multiOp('multi-create-ttl', 'multi [createTTL a child]', 'CREATE on the parent', (c) => [
    createReq(`${c.node}/new`, OPEN_ACL, OpCode.createTTL, CreateFlag.persistentWithTtl, TTL_MS),
  ]),
  multiOp('multi-delete', 'multi [delete k]', 'DELETE on the parent', (c) => [{ type: OpCode.delete, req: { path: `${c.node}/k`, version: -1 } }]),
  multiOp('multi-setData', 'multi [setData]', 'WRITE on the node', (c) => [{ type: OpCode.setData, req: { path: c.node, data: Buffer.from('new'), version: -1 } }]),
  multiOp('multi-check', 'multi [check version]', 'READ on the node', (c) => [{ type: OpCode.check, req: { path: c.node, version: -1 } }]),
  multiOp('multi-inflight-setData', 'multi [create elsewhere with the ACL under test, setData it]', 'WRITE on the znode the multi created', (c) => [
    createReq(c.free, c.acl), { type: OpCode.setData, req: { path: c.free, data: Buffer.from('new'), version: -1 } },
  ]),
  multiOp('multi-inflight-create', 'multi [create elsewhere with the ACL under test, create a child of it]', 'CREATE on the znode the multi created', (c) => [
    createReq(c.free, c.acl), createReq(`${c.free}/child`),
  ]),
  multiOp('multi-one-denied', 'multi [create elsewhere (allowed), setData the node, create elsewhere]', 'each op its own', (c) => [
    createReq(c.free), { type: OpCode.setData, req: { path: c.node, data: Buffer.from('new'), version: -1 } }, createReq(`${c.free}2`),
  ]),
  // ---- watches ----
  watchOp('getData-watch', 'getData with a watch, then setData by another session', 'READ on the node (to set the watch and to be told)',
    async (c) => outcome(await c.caller.tryGetData(c.node, true)), setDataBy),
  watchOp('exists-watch', 'exists with a watch, then setData by another session', 'none to set it; READ to be told',
    async (c) => outcome(await c.caller.tryExists(c.node, true)), setDataBy),
  watchOp('exists-watch-delete', 'exists with a watch, then the node deleted', 'READ on the deleted znode to be told',
    async (c) => outcome(await c.caller.tryExists(c.node, true)), async (c, o) => { await o.tryDelete(`${c.node}/k`); await o.tryDelete(c.node); }),
  watchOp('getChildren-watch-delete', 'getChildren with a watch, then the node deleted', 'READ on the node (to set the watch and to be told)',
    async (c) => outcome(await c.caller.tryGetChildren(c.node, true)), async (c, o) => { await o.tryDelete(`${c.node}/k`); await o.tryDelete(c.node); }),
  watchOp('getChildren-watch', 'getChildren with a watch, then a child created', 'READ on the node (to set the watch and to be told)',
    async (c) => outcome(await c.caller.tryGetChildren(c.node, true)), (c, o) => o.tryCreate(`${c.node}/c`, '')),
  watchOp('addWatch-persistent', 'addWatch persistent, then setData and a child created', 'none to set it; READ to be told',
    async (c) => outcome(await c.caller.tryAddWatch(c.node, AddWatchMode.persistent)),
    async (c, o) => { await o.trySetData(c.node, 'changed'); await o.tryCreate(`${c.node}/c`, ''); }),
  watchOp('addWatch-recursive', 'addWatch persistent recursive, then setData of the node and of k (open)', 'none to set it; READ on the changed znode to be told',
    async (c) => outcome(await c.caller.tryAddWatch(c.node, AddWatchMode.persistentRecursive)),
    async (c, o) => { await o.trySetData(c.node, 'changed'); await o.trySetData(`${c.node}/k`, 'changed'); }),
  watchOp('setWatches-current', 'setWatches (as on reconnect) with the current zxid, then setData', 'none to set it; READ to be told',
    async (c) => outcome(await c.caller.trySetWatches({ relativeZxid: c.setupZxid, dataWatches: [c.node], childWatches: [c.node] })), setDataBy),
  {
    key: 'reconnect-setWatches', label: 'reconnect without addauth, getData, setWatches with the current zxid, then setData', checks: 'the reconnected connection\'s own identities',
    run: async (c) => {
      const session = await c.newCaller();
      const again = await c.reconnect(session);
      try {
        const read = code((await again.tryGetData(c.node)).err);
        const set = code((await again.trySetWatches({ relativeZxid: c.setupZxid, dataWatches: [c.node] })).err);
        await c.owner.trySetData(c.node, 'changed');
        await again.tryExists('/');
        return `${read}; ${set}; ${eventsAbout(again, c.node)}`;
      } finally {
        await again.close();
        session.destroy();
      }
    },
  },
  watchOp('setWatches2-recursive', 'setWatches2 with a persistent recursive watch, then setData of the node and of k (open)', 'none to set it; READ on the changed znode to be told',
    async (c) => outcome(await c.caller.trySetWatches({ relativeZxid: c.setupZxid, persistentRecursiveWatches: [c.node] }, true)),
    async (c, o) => { await o.trySetData(c.node, 'changed'); await o.trySetData(`${c.node}/k`, 'changed'); }),
  {
    key: 'setWatches-stale', label: 'setWatches (as on reconnect) from before the node existed', checks: 'none: the events are sent at once',
    run: async (c) => {
      const set = outcome(await c.caller.trySetWatches({ relativeZxid: 1, dataWatches: [c.node], childWatches: [c.node] }));
      await settle(c);
      return `${set}; ${eventsAbout(c.caller, c.node)}`;
    },
  },
  {
    key: 'removeWatches', label: 'getData with a watch, then removeWatches (data)', checks: 'READ to set the watch; none to remove it',
    run: async (c) => `${code((await c.caller.tryGetData(c.node, true)).err)}; ${code((await c.caller.tryRemoveWatches(c.node, WatcherType.Data)).err)}`,
  },
  {
    key: 'checkWatches', label: 'getData with a watch, then checkWatches (data)', checks: 'READ to set the watch; none to check it',
    run: async (c) => `${code((await c.caller.tryGetData(c.node, true)).err)}; ${code((await c.caller.tryCheckWatches(c.node, WatcherType.Data)).err)}`,
  },
  {
    key: 'checkWatches-other', label: 'checkWatches (data) when only another session watches the node', checks: 'none',
    run: async (c) => {
      await c.owner.tryGetData(c.node, true);
      return code((await c.caller.tryCheckWatches(c.node, WatcherType.Data)).err);
    },
  },
];
