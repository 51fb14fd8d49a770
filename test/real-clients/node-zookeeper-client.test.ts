import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import zookeeper from 'node-zookeeper-client';
import type { Client, Event, Stat, TransactionResult } from 'node-zookeeper-client';
import { SERVER_NAMES, SUPER_DIGEST, withBothServers, type RunningServer } from '../support/servers.ts';

const { ACL, CreateMode, Id, Permission } = zookeeper;
/** How long any one wait may take: far beyond what it needs, for a busy machine. */
const WAIT_MS = 30_000;
const ROOT = '/nzk';

function withTimeout<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Error name ("NO_NODE", …) of a failed call, or "ok". */
function errName(err: unknown): string {
  if (err === null || err === undefined) return 'ok';
  const e = err as { name?: string; code?: number; message?: string };
  return typeof e.code === 'number' ? `${e.name}[${e.code}]` : `error: ${e.message}`;
}

/** Promisified node-zookeeper-client calls: each resolves to [errorName, result]. */
function call<T>(what: string, fn: (cb: (err: unknown, result?: T) => void) => void): Promise<[string, T | undefined]> {
  return withTimeout(
    new Promise((resolve) => fn((err, result) => resolve([errName(err), err ? undefined : result]))),
    what,
  );
}

async function connect(server: RunningServer, auth?: string): Promise<Client> {
  const client = zookeeper.createClient(server.connectString, { sessionTimeout: 10_000, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  await withTimeout(connected, `connect to ${server.name}`);
  if (auth) client.addAuthInfo('digest', Buffer.from(auth));
  return client;
}

function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

/** Queue of watch events with a timed `next`. */
class Events {
  private queue: string[] = [];
  private waiters: (() => void)[] = [];
  watcher(tag: string): (e: Event) => void {
    return (e) => {
      this.queue.push(`${tag}: ${e.getName()}@${e.getPath()}`);
      for (const w of this.waiters.splice(0)) w();
    };
  }
  async next(n: number, what: string): Promise<string[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.queue.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) return [...this.queue.splice(0), `TIMEOUT waiting for ${what}`];
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.queue.splice(0);
  }
  take(): string[] {
    return this.queue.splice(0);
  }
}

/** A transcript with zxids (64-bit big-endian buffers) labelled by first appearance. */
class Transcript {
  lines: string[] = [];
  private zxids = new Map<bigint, string>();
  constructor(private readonly sessions: Map<string, string>) {}
  log(...parts: unknown[]): void {
    this.lines.push(
      parts
        .filter((p) => p !== undefined)
        .map((p) => (typeof p === 'string' ? p : JSON.stringify(p)))
        .join(' '),
    );
  }
  zx(buf: Buffer): string {
    const v = buf.readBigInt64BE(0);
    if (v === 0n) return 'Z0';
    let label = this.zxids.get(v);
    if (!label) {
      label = `Z${this.zxids.size + 1}`;
      this.zxids.set(v, label);
    }
    return label;
  }
  stat(s: Stat | null | undefined): string {
    if (!s) return String(s);
    const owner = s.ephemeralOwner.readBigInt64BE(0);
    const ownerName = owner === 0n ? 'none' : (this.sessions.get(s.ephemeralOwner.toString('hex')) ?? 'unknown');
    const ctime = Number(s.ctime.readBigInt64BE(0));
    const mtime = Number(s.mtime.readBigInt64BE(0));
    const rel = ctime === mtime ? 'ctime==mtime' : ctime < mtime ? 'ctime<mtime' : 'ctime>mtime';
    const recent = Math.abs(ctime - Date.now()) < 600_000;
    return (
      `czxid=${this.zx(s.czxid)} mzxid=${this.zx(s.mzxid)} pzxid=${this.zx(s.pzxid)} version=${s.version} ` +
      `cversion=${s.cversion} aversion=${s.aversion} owner=${ownerName} dataLength=${s.dataLength} ` +
      `numChildren=${s.numChildren} ${rel} recent=${recent}`
    );
  }
  results(rs: TransactionResult[] | undefined): string {
    if (!rs) return 'undefined';
    return rs
      .map((r) => `{type=${r.type}${r.path !== undefined ? ` path=${r.path}` : ''}${r.stat ? ` stat=(${this.stat(r.stat)})` : ''}${r.err !== undefined ? ` err=${r.err}` : ''}}`)
      .join(' ');
  }
}

async function scenario(server: RunningServer): Promise<string> {
  const sessions = new Map<string, string>();
  const t = new Transcript(sessions);
  const events = new Events();
  const clients: Client[] = [];
  const open = async (label: string, auth?: string): Promise<Client> => {
    const c = await connect(server, auth);
    clients.push(c);
    sessions.set(c.getSessionId().toString('hex'), label);
    return c;
  };
  try {
    const a = await open('a');
    const b = await open('b');
    const data = (s: string): Buffer => Buffer.from(s);
    const open_acl = ACL.OPEN_ACL_UNSAFE;

    // CRUD
    t.log('create root', ...(await call<string>('create', (cb) => a.create(ROOT, data('root'), open_acl, CreateMode.PERSISTENT, cb))));
    t.log('create a', ...(await call<string>('create', (cb) => a.create(`${ROOT}/a`, data('alpha'), open_acl, CreateMode.PERSISTENT, cb))));
    t.log('create a again', ...(await call<string>('create', (cb) => a.create(`${ROOT}/a`, data('x'), open_acl, CreateMode.PERSISTENT, cb))));
    t.log('create no parent', ...(await call<string>('create', (cb) => a.create(`${ROOT}/x/y`, null, open_acl, CreateMode.PERSISTENT, cb))));
    t.log('create seq', ...(await call<string>('create', (cb) => a.create(`${ROOT}/seq-`, data('s'), open_acl, CreateMode.PERSISTENT_SEQUENTIAL, cb))));
    const [, ephPath] = await call<string>('create', (cb) => b.create(`${ROOT}/eph-`, data('e'), open_acl, CreateMode.EPHEMERAL_SEQUENTIAL, cb));
    t.log('create ephemeral seq by b', ephPath ?? 'failed');
    t.log('create under ephemeral', (await call<string>('create', (cb) => a.create(`${ephPath}/c`, null, open_acl, CreateMode.PERSISTENT, cb)))[0]);
    t.log('mkdirp', ...(await call<string>('mkdirp', (cb) => a.mkdirp(`${ROOT}/p/q/r`, data('deep'), open_acl, CreateMode.PERSISTENT, cb))));

    const getData = (c: Client, path: string, w?: (e: Event) => void): Promise<string> =>
      withTimeout(
        new Promise((resolve) => c.getData(path, w, (err, d, s) => resolve(err ? errName(err) : `${JSON.stringify(d?.toString('utf8') ?? null)} ${t.stat(s)}`))),
        `getData ${path}`,
      );
    const exists = async (c: Client, path: string, w?: (e: Event) => void): Promise<string> => {
      const [err, s] = await call<Stat | null>('exists', (cb) => c.exists(path, w, cb));
      return err === 'ok' ? t.stat(s) : err;
    };
    const children = (c: Client, path: string, w?: (e: Event) => void): Promise<string> =>
      withTimeout(
        new Promise((resolve) => c.getChildren(path, w, (err, ch, s) => resolve(err ? errName(err) : `${JSON.stringify([...ch].sort())} ${t.stat(s)}`))),
        `getChildren ${path}`,
      );
    /** A round trip on `c`: notifications sent before its reply have been delivered. */
    const drain = async (c: Client): Promise<void> => {
      await call<Stat | null>('exists /', (cb) => c.exists('/', undefined, cb));
    };

    t.log('getData a', await getData(a, `${ROOT}/a`));
    t.log('getData ephemeral', await getData(a, ephPath ?? `${ROOT}/none`));
    t.log('getData missing', await getData(a, `${ROOT}/missing`));
    t.log('exists root', await exists(a, ROOT));
    t.log('exists missing', await exists(a, `${ROOT}/missing`));
    t.log('children root', await children(a, ROOT));
    t.log('children missing', await children(a, `${ROOT}/missing`));

    // setData with versions
    const setData = async (c: Client, path: string, d: string, version: number): Promise<string> => {
      const [err, s] = await call<Stat>('setData', (cb) => c.setData(path, data(d), version, cb));
      return err === 'ok' ? t.stat(s) : err;
    };
    t.log('setData a v0', await setData(a, `${ROOT}/a`, 'alpha-1', 0));
    t.log('setData a v0 again', await setData(a, `${ROOT}/a`, 'alpha-2', 0));
    t.log('setData a any', await setData(a, `${ROOT}/a`, 'alpha-2', -1));
    t.log('setData missing', await setData(a, `${ROOT}/missing`, 'x', -1));

    // Watchers: data, exists (missing node), children; fired by the other session.
    t.log('getData+watch a', await getData(a, `${ROOT}/a`, events.watcher('data')));
    t.log('setData a by b', await setData(b, `${ROOT}/a`, 'from-b', -1));
    t.log('events', await events.next(1, 'data watch'));
    t.log('setData a by b again', await setData(b, `${ROOT}/a`, 'from-b-2', -1));
    await drain(a);
    t.log('events after second set (one-shot)', events.take());
    t.log('exists+watch later', await exists(a, `${ROOT}/later`, events.watcher('exists')));
    t.log('create later by b', ...(await call<string>('create', (cb) => b.create(`${ROOT}/later`, null, open_acl, CreateMode.PERSISTENT, cb))));
    t.log('events', await events.next(1, 'exists watch'));
    t.log('getChildren+watch root', await children(a, ROOT, events.watcher('children')));
    t.log('setData child a by b', await setData(b, `${ROOT}/a`, 'child-data', -1));
    await drain(a);
    t.log('events after child data change', events.take());
    t.log('create c1 by b', ...(await call<string>('create', (cb) => b.create(`${ROOT}/c1`, null, open_acl, CreateMode.PERSISTENT, cb))));
    t.log('events', await events.next(1, 'child watch'));
    t.log('getData+watch c1', await getData(a, `${ROOT}/c1`, events.watcher('data-c1')));
    t.log('getChildren+watch root', await children(a, ROOT, events.watcher('children')));
    t.log('remove c1 by b', (await call<void>('remove', (cb) => b.remove(`${ROOT}/c1`, -1, cb)))[0]);
    t.log('events', await events.next(2, 'delete watches'));

    // Removal
    t.log('remove non-empty', (await call<void>('remove', (cb) => a.remove(`${ROOT}/p`, -1, cb)))[0]);
    t.log('remove a bad version', (await call<void>('remove', (cb) => a.remove(`${ROOT}/a`, 0, cb)))[0]);
    t.log('remove a version 4', (await call<void>('remove', (cb) => a.remove(`${ROOT}/a`, 4, cb)))[0]);
    t.log('remove a again', (await call<void>('remove', (cb) => a.remove(`${ROOT}/a`, -1, cb)))[0]);

    // Transactions
    const commit = (build: (tx: ReturnType<Client['transaction']>) => void): Promise<[string, TransactionResult[] | undefined]> => {
      const tx = a.transaction();
      build(tx);
      return withTimeout(
        new Promise((resolve) => tx.commit((err, results) => resolve([errName(err), results]))),
        'transaction',
      );
    };
    const [txErr, txRes] = await commit((tx) =>
      tx.create(`${ROOT}/tx`, data('t0')).setData(`${ROOT}/tx`, data('t1'), 0).check(`${ROOT}/tx`, 1).create(`${ROOT}/tx2`).remove(`${ROOT}/tx2`, 0),
    );
    t.log('transaction ok', txErr, t.results(txRes));
    const [txErr2, txRes2] = await commit((tx) => tx.create(`${ROOT}/tx3`).check(`${ROOT}/tx`, 7).remove(`${ROOT}/tx`));
    t.log('transaction failing', txErr2, t.results(txRes2));
    t.log('tx3 after rollback', await exists(a, `${ROOT}/tx3`));
    t.log('getData tx', await getData(a, `${ROOT}/tx`));

    // ACLs with digest auth, and the super user.
    const aliceAcl = [new ACL(Permission.ALL, new Id('digest', digestId('alice', 'secret')))];
    const readOnly = [new ACL(Permission.READ, new Id('world', 'anyone'))];
    t.log('create secret', ...(await call<string>('create', (cb) => a.create(`${ROOT}/secret`, data('hidden'), aliceAcl, CreateMode.PERSISTENT, cb))));
    t.log('create read-only', ...(await call<string>('create', (cb) => a.create(`${ROOT}/ro`, data('ro'), readOnly, CreateMode.PERSISTENT, cb))));
    t.log('getData secret no auth', await getData(a, `${ROOT}/secret`));
    t.log('setData secret no auth', await setData(a, `${ROOT}/secret`, 'x', -1));
    t.log('exists secret no auth', await exists(a, `${ROOT}/secret`));
    t.log('getData ro', await getData(a, `${ROOT}/ro`));
    t.log('setData ro', await setData(a, `${ROOT}/ro`, 'x', -1));
    t.log('create under ro', (await call<string>('create', (cb) => a.create(`${ROOT}/ro/x`, null, open_acl, CreateMode.PERSISTENT, cb)))[0]);
    const alice = await open('alice', 'alice:secret');
    t.log('getData secret as alice', await getData(alice, `${ROOT}/secret`));
    const [aclErr, acls] = await withTimeout(
      new Promise<[string, string]>((resolve) =>
        alice.getACL(`${ROOT}/secret`, (err, list, s) =>
          resolve([errName(err), err ? '' : `${JSON.stringify(list.map((x) => [x.permission, x.id.scheme, x.id.id]))} ${t.stat(s)}`]),
        ),
      ),
      'getACL',
    );
    t.log('getACL secret as alice', aclErr, acls);
    t.log('getACL secret no auth', (await call<unknown>('getACL', (cb) => a.getACL(`${ROOT}/secret`, (err) => cb(err))))[0]);
    t.log('setACL secret bad version', (await call<Stat>('setACL', (cb) => alice.setACL(`${ROOT}/secret`, open_acl, 3, cb)))[0]);
    const wrong = await open('wrong', 'alice:wrong');
    t.log('getData secret wrong password', await getData(wrong, `${ROOT}/secret`));
    const superuser = await open('super', 'super:test');
    t.log('getData secret as super', await getData(superuser, `${ROOT}/secret`));
    t.log('setData ro as super', await setData(superuser, `${ROOT}/ro`, 'super-was-here', -1));
    const [setAclErr, setAclStat] = await call<Stat>('setACL', (cb) => alice.setACL(`${ROOT}/secret`, readOnly, 0, cb));
    t.log('setACL secret as alice', setAclErr, t.stat(setAclStat));
    t.log('getData secret no auth after setACL', await getData(a, `${ROOT}/secret`));

    // Ephemeral cleanup when its session closes: a watches b's ephemeral node.
    t.log('exists+watch ephemeral', await exists(a, ephPath ?? `${ROOT}/none`, events.watcher('eph')));
    b.close();
    t.log('events after b closed', await events.next(1, 'ephemeral deletion'));
    t.log('children root at end', await children(a, ROOT));
    t.log('done');
  } finally {
    for (const c of clients) c.close();
  }
  return t.lines.join('\n') + '\n';
}

const TEST_TIMEOUT_MS = 300_000;

describe('node-zookeeper-client 1.1.3 against Apache ZooKeeper and Ensemble', () => {
  const servers = withBothServers({ superDigest: SUPER_DIGEST });

  test('CRUD, watchers, transactions, ACLs and digest auth give the same transcript', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => scenario(servers.get(n))));
    const must = [
      'create a again NODE_EXISTS[-110]',
      'create under ephemeral NO_CHILDREN_FOR_EPHEMERALS[-108]',
      'setData a v0 again BAD_VERSION[-103]',
      'events ["data: NODE_DATA_CHANGED@/nzk/a"]',
      'events after second set (one-shot) []',
      'events ["exists: NODE_CREATED@/nzk/later"]',
      'events after child data change []',
      'events ["children: NODE_CHILDREN_CHANGED@/nzk"]',
      'events ["data-c1: NODE_DELETED@/nzk/c1","children: NODE_CHILDREN_CHANGED@/nzk"]',
      'remove non-empty NOT_EMPTY[-111]',
      'getData secret no auth NO_AUTH[-102]',
      'setData ro NO_AUTH[-102]',
      'getData secret wrong password NO_AUTH[-102]',
      'events after b closed ["eph: NODE_DELETED@/nzk/eph-0000000002"]',
      'done',
    ];
    const lines = new Set(zookeeper.split('\n'));
    for (const line of must) assert.ok(lines.has(line), `expected ${JSON.stringify(line)} in Apache ZooKeeper's transcript:\n${zookeeper}`);
    assert.match(zookeeper, /^getData secret as super "hidden" /m);
    assert.match(zookeeper, /^transaction failing BAD_VERSION\[-103\] /m);
    assert.equal(ensemble, zookeeper);
  });
});
