/**
 * The system znodes (/, /zookeeper, /zookeeper/config, /zookeeper/quota) and reconfig, for an
 * anonymous session, a digest user and the super user. Their ACLs are the server's own, so the
 * columns are callers. Rows run one after another, each for every caller, in the order listed:
 * the writes that could change what a later row reads come last.
 */
import { OpCode } from '../../../src/protocol/constants.ts';
import { JuteWriter } from '../../../src/protocol/jute.ts';
import type { RawClient } from '../../support/raw-client.ts';
import type { RunningServer } from '../../support/servers.ts';
import { ALICE_AUTH, SUPER, sessionWith, type AddAuth } from './accesses.ts';
import { aclText, code, list, outcome, quoted } from './outcome.ts';
import { cellKey, cellOutcome, type Outcomes, type Part } from './table.ts';

export const CALLERS: readonly { key: string; label: string; auths: readonly AddAuth[] }[] = [
  { key: 'anyone', label: 'no addauth', auths: [] },
  { key: 'digest', label: 'digest user', auths: [{ scheme: 'digest', credential: ALICE_AUTH }] },
  { key: 'super', label: 'super user', auths: SUPER },
];

interface SystemCell {
  caller: RawClient;
  owner: RawClient;
  /** Unique per caller: names what this caller creates. */
  tag: string;
  root: string;
}

interface SystemOp {
  key: string;
  label: string;
  run(c: SystemCell): Promise<string>;
}

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const CONFIG = '/zookeeper/config';
const QUOTA = '/zookeeper/quota';

function reconfigBody(): Buffer {
  const w = new JuteWriter(64);
  w.ustring('server.9=127.0.0.1:2888:3888;2181').ustring(null).ustring(null).long(-1);
  return Buffer.from(w.bytes());
}

const OPS: readonly SystemOp[] = [
  { key: 'root-getACL', label: 'getACL /', run: async (c) => outcome(await c.caller.tryGetACL('/'), (v) => aclText(v.acl)) },
  { key: 'zk-getChildren', label: 'getChildren /zookeeper', run: async (c) => outcome(await c.caller.tryGetChildren('/zookeeper'), list) },
  { key: 'zk-getACL', label: 'getACL /zookeeper', run: async (c) => outcome(await c.caller.tryGetACL('/zookeeper'), (v) => aclText(v.acl)) },
  {
    key: 'config-getData', label: 'getData /zookeeper/config (ports shown as <port>)',
    run: async (c) => outcome(await c.caller.tryGetData(CONFIG), (v) => quoted(v.data).replace(/:\d+/g, ':<port>')),
  },
  { key: 'config-getACL', label: 'getACL /zookeeper/config', run: async (c) => outcome(await c.caller.tryGetACL(CONFIG), (v) => aclText(v.acl)) },
  { key: 'config-getChildren', label: 'getChildren /zookeeper/config', run: async (c) => outcome(await c.caller.tryGetChildren(CONFIG), list) },
  { key: 'quota-getData', label: 'getData /zookeeper/quota', run: async (c) => outcome(await c.caller.tryGetData(QUOTA), (v) => quoted(v.data)) },
  { key: 'quota-getACL', label: 'getACL /zookeeper/quota', run: async (c) => outcome(await c.caller.tryGetACL(QUOTA), (v) => aclText(v.acl)) },
  { key: 'reconfig', label: 'reconfig (add a server)', run: async (c) => outcome(await c.caller.tryRaw(OpCode.reconfig, reconfigBody())) },
  { key: 'config-setData', label: 'setData /zookeeper/config (its own data)', run: async (c) => {
    const current = await c.owner.tryGetData(CONFIG);
    return outcome(await c.caller.trySetData(CONFIG, current.value?.data ?? null));
  } },
  { key: 'config-create', label: 'create /zookeeper/config/x', run: async (c) => outcome(await c.caller.tryCreate(`${CONFIG}/${c.tag}`, '')) },
  { key: 'config-delete', label: 'delete /zookeeper/config', run: async (c) => outcome(await c.caller.tryDelete(CONFIG)) },
  { key: 'quota-setData', label: 'setData /zookeeper/quota (its own data)', run: async (c) => {
    const current = await c.owner.tryGetData(QUOTA);
    return outcome(await c.caller.trySetData(QUOTA, current.value?.data ?? null));
  } },
  { key: 'quota-create', label: 'create /zookeeper/quota/x', run: async (c) => outcome(await c.caller.tryCreate(`${QUOTA}/${c.tag}`, '')) },
  {
    key: 'quota-setquota', label: 'setquota-style creates: /zookeeper/quota/<path>, then its zookeeper_limits and zookeeper_stats',
    run: async (c) => {
      const target = `${c.root}/q-${c.tag}`;
      await c.owner.tryCreate(target, '');
      const parent = await c.caller.tryCreate(`${QUOTA}${target}`, '');
      const limits = await c.caller.tryCreate(`${QUOTA}${target}/zookeeper_limits`, 'count=5,bytes=-1');
      const stats = await c.caller.tryCreate(`${QUOTA}${target}/zookeeper_stats`, 'count=1,bytes=0');
      return `${code(parent.err)}; ${code(limits.err)}; ${code(stats.err)}`;
    },
  },
  { key: 'quota-delete', label: 'delete /zookeeper/quota', run: async (c) => outcome(await c.caller.tryDelete(QUOTA)) },
  { key: 'zk-create', label: 'create /zookeeper/x', run: async (c) => outcome(await c.caller.tryCreate(`/zookeeper/${c.tag}`, '')) },
  { key: 'zk-delete', label: 'delete /zookeeper', run: async (c) => outcome(await c.caller.tryDelete('/zookeeper')) },
  { key: 'root-delete', label: 'delete /', run: async (c) => outcome(await c.caller.tryDelete('/')) },
  { key: 'quota-setACL', label: 'setACL /zookeeper/quota (to the ACL it has)', run: async (c) => outcome(await c.caller.trySetACL(QUOTA, OPEN)) },
  { key: 'config-setACL', label: 'setACL /zookeeper/config (to the ACL it has)', run: async (c) => {
    const current = await c.owner.tryGetACL(CONFIG);
    return outcome(await c.caller.trySetACL(CONFIG, current.value?.acl ?? OPEN));
  } },
];

async function run(server: RunningServer, owner: RawClient, root: string): Promise<Outcomes> {
  const out: Outcomes = new Map();
  await owner.tryCreate(root, '');
  // The quota tree's intermediate znodes, as setquota makes them, so that each caller only adds its own.
  let path = QUOTA;
  for (const part of root.split('/').slice(1)) await owner.tryCreate((path += `/${part}`), '');
  const callers = await Promise.all(CALLERS.map((k) => sessionWith(server, k.auths)));
  const slug = root.replace(/^\//, '').replace(/\W+/g, '-');
  try {
    for (const op of OPS) {
      for (const [i, k] of CALLERS.entries()) {
        const cell: SystemCell = { caller: callers[i], owner, tag: `${slug}-${k.key}`, root };
        out.set(cellKey('system', op.key, k.key), await cellOutcome(() => op.run(cell)));
      }
    }
  } finally {
    await Promise.all(callers.map((c) => c.close()));
  }
  return out;
}

export const system: Part = {
  tables: [{
    key: 'system',
    title: 'System znodes and reconfig',
    intro: 'The server\'s own znodes keep the server\'s ACLs, so the columns are callers. Rows ran in this order, each for every caller.',
    rowHeading: 'operation',
    rows: OPS.map((o) => ({ key: o.key, label: o.label })),
    columns: CALLERS,
  }],
  run,
};
