/**
 * Differential: quota enforcement (zookeeper.enforceQuota=true). A create or setData that would
 * take a quota'd subtree past a hard limit (countHardLimit, byteHardLimit in the limits node) fails
 * with QUOTAEXCEEDED; soft limits (count, bytes) are only logged. The check reads the applied tree.
 *
 * The shared test servers have no option for it, so this file starts its own pair: ZooKeeper with
 * the system property (through JAVA_TOOL_OPTIONS, which its JVM inherits), Ensemble with the
 * config key.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Err, OpCode } from '../../src/protocol/constants.ts';
import { JuteWriter } from '../../src/protocol/jute.ts';
import type { MultiOp } from '../../src/protocol/records.ts';
import { writeMultiRequest } from '../../src/protocol/requests.ts';
import { startServer } from '../../src/server/index.ts';
import { OPEN_ACL_UNSAFE, RawClient } from '../support/raw-client.ts';
import type { RunningServer } from '../support/servers.ts';
import { startZooKeeper } from '../support/zookeeper.ts';
import { Script, transcriptDiff } from './harness.ts';

process.env.JAVA_TOOL_OPTIONS = [process.env.JAVA_TOOL_OPTIONS, '-Dzookeeper.enforceQuota=true'].filter(Boolean).join(' ');

const QUOTA = '/zookeeper/quota';
const create = (path: string, data = ''): MultiOp =>
  ({ type: OpCode.create, req: { path, data: Buffer.from(data), acl: OPEN_ACL_UNSAFE, flags: 0, ttl: -1 } }) as MultiOp;
const set = (path: string, data: string): MultiOp => ({ type: OpCode.setData, req: { path, data: Buffer.from(data), version: -1 } });
const multiBody = (ops: MultiOp[]): Buffer => writeMultiRequest(new JuteWriter(256), ops).bytes();

async function startEnforcingEnsemble(): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ensemble-test-'));
  const server = await startServer({
    clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, fourLetterWhitelist: ['*'], maxClientCnxns: 0, enforceQuota: true,
  });
  return {
    name: 'ensemble',
    host: '127.0.0.1',
    port: server.port,
    connectString: `127.0.0.1:${server.port}`,
    async stop() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
    restart() {
      throw new Error('not used here');
    },
  };
}

/** The quota node of path (parents included, unrecorded) with its limits and stats. */
async function setQuota(t: Script, c: RawClient, path: string, limits: string): Promise<string> {
  let node = QUOTA;
  for (const part of path.split('/').filter((p) => p !== '')) {
    node += `/${part}`;
    await t.unrecorded(c, 'tryCreate', node, null, { opcode: OpCode.create });
  }
  await t.op(c, 'tryCreate', `${node}/zookeeper_limits`, limits);
  await t.op(c, 'tryCreate', `${node}/zookeeper_stats`, 'count=0,bytes=0');
  return node;
}

type Scenario = (t: Script) => Promise<void>;

describe('quota-enforce', () => {
  const servers = new Map<string, RunningServer>();
  before(async () => {
    const [zk, en] = await Promise.all([startZooKeeper(), startEnforcingEnsemble()]);
    servers.set('zookeeper', zk);
    servers.set('ensemble', en);
  });
  after(async () => {
    await Promise.allSettled([...servers.values()].map((s) => s.stop()));
  });

  const runOne = async (server: RunningServer, root: string, fn: Scenario): Promise<Script> => {
    const ctl = await RawClient.connect(server.host, server.port, { timeoutMs: 30_000 });
    const base = (await ctl.tryExists('/')).zxid;
    await ctl.close();
    const t = new Script(server, root, base);
    try {
      await fn(t);
    } finally {
      await t.finish();
    }
    return t;
  };

  const scenario = (name: string, fn: Scenario): void => {
    const root = `/quota-enforce-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60)}`;
    test(name, { timeout: 120_000 }, async () => {
      const zk = await runOne(servers.get('zookeeper')!, root, fn);
      const en = await runOne(servers.get('ensemble')!, root, fn);
      const diff = transcriptDiff(zk.transcript, en.transcript);
      if (diff !== null) assert.fail(`Ensemble's transcript differs from ZooKeeper's:\n${diff}`);
    });
  };

  scenario('hard count limit', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, 'a');
    // zkCli's setquota -N 3 writes this.
    await setQuota(t, c, r, 'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3');
    await t.op(c, 'tryCreate', `${r}/b`, 'b');
    const refused = await t.op(c, 'tryCreate', `${r}/c`, 'c');
    assert.equal(refused.err, Err.QUOTAEXCEEDED);
    await t.op(c, 'tryCreate', `${r}/s-`, 'c', { flags: 2 });
    await t.op(c, 'tryCreate', `${r}/b`, 'b'); // NodeExists comes first
    await t.op(c, 'tryCreate', `${r}/missing/x`, 'b'); // NoNode comes first
    await t.op(c, 'trySetData', `${r}/a`, 'a much longer value'); // no byte limit
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_stats`);
    await t.op(c, 'tryDelete', `${r}/b`); // deletes are never refused
    await t.op(c, 'tryCreate', `${r}/c`, 'c');
    // A multi is checked op by op against the applied tree: both creates pass.
    await t.op(c, 'tryDelete', `${r}/c`);
    await t.op(c, 'tryMulti', [create(`${r}/m1`), create(`${r}/m2`)]);
    await t.op(c, 'tryMulti', [set(`${r}/a`, 'x'), create(`${r}/m3`)]);
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_stats`);
    // A soft count limit only logs.
    await t.op(c, 'trySetData', `${QUOTA}${r}/zookeeper_limits`, 'count=2,bytes=-1');
    await t.op(c, 'tryCreate', `${r}/soft`, 'soft');
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_stats`);
  });

  scenario('hard byte limit', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, 'aaaa');
    await setQuota(t, c, r, 'count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1');
    await t.op(c, 'tryCreate', `${r}/b`, 'bbbbbb'); // 10: at the limit
    await t.op(c, 'tryCreate', `${r}/c`, 'c');
    await t.op(c, 'tryCreate', `${r}/empty`, ''); // no bytes, no count limit
    await t.op(c, 'tryCreate', `${r}/null`, null);
    await t.op(c, 'trySetData', `${r}/a`, 'aaaaa');
    await t.op(c, 'trySetData', `${r}/a`, 'aaaaa', 9); // QuotaExceeded before BadVersion
    await t.op(c, 'trySetData', `${r}/a`, 'aa', 9); // shrinking passes the quota, then BadVersion
    await t.op(c, 'trySetData', `${r}/a`, 'aa');
    await t.op(c, 'trySetData', `${r}/b`, 'bbbbbbbb');
    await t.op(c, 'trySetData', `${r}/b`, 'bbbbbbbbb');
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_stats`);
    // The deepest quota decides; one without a stats node checks nothing.
    await t.op(c, 'tryCreate', `${r}/deep`, null);
    const deep = await setQuota(t, c, `${r}/deep`, 'count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=-1');
    await t.op(c, 'tryCreate', `${r}/deep/x`, 'fits below the deeper quota only');
    await t.op(c, 'tryDelete', `${deep}/zookeeper_stats`);
    await t.op(c, 'tryCreate', `${r}/deep/y`, 'y'.repeat(200));
    await t.op(c, 'tryGetData', `${QUOTA}${r}/zookeeper_stats`);
    // Soft byte limit: logged only.
    await t.op(c, 'trySetData', `${QUOTA}${r}/zookeeper_limits`, 'count=-1,bytes=1');
    await t.op(c, 'tryCreate', `${r}/soft`, 'soft');
  });

  scenario('limits or stats that do not parse fail the request', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, 'a');
    const node = await setQuota(t, c, r, 'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=x');
    // ZooKeeper's prep throws NumberFormatException: MarshallingError, the whole request.
    await t.op(c, 'tryCreate', `${r}/b`, 'b');
    await t.op(c, 'trySetData', `${r}/a`, 'aa');
    // A multi fails as a whole, answered with the error and no body (sent raw: RawClient.tryMulti
    // expects a body).
    await t.op(c, 'tryRaw', OpCode.multi, multiBody([create(`${r}/m1`), create(`${r}/m2`)]));
    await t.op(c, 'tryRaw', OpCode.multi, multiBody([set(`${r}/a`, 'x')]));
    await t.op(c, 'tryGetChildren', r);
    await t.op(c, 'tryDelete', `${r}/a`); // deletes are not checked
    await t.op(c, 'tryGetData', `${node}/zookeeper_stats`);
    await t.op(c, 'trySetData', `${node}/zookeeper_limits`, null); // NullPointerException, the same
    await t.op(c, 'tryCreate', `${r}/b`, 'b');
    await t.op(c, 'trySetData', `${node}/zookeeper_limits`, 'count=-1,bytes=-1=;countHardLimit=5');
    await t.op(c, 'tryCreate', `${r}/b`, 'b');
    // The count limit needs the stats, which do not parse: refused before anything is applied
    // (applying it would make ZooKeeper's txn processor die on the same text).
    await t.op(c, 'trySetData', `${node}/zookeeper_stats`, 'count=1,bytes=oops');
    await t.op(c, 'tryCreate', `${r}/c`, 'c');
    await t.op(c, 'trySetData', `${node}/zookeeper_stats`, 'count=2,bytes=1');
    await t.op(c, 'tryCreate', `${r}/c`, 'c');
    await t.op(c, 'tryGetData', `${node}/zookeeper_stats`);
  });
});
