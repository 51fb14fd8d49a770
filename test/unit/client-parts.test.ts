/** The client's pure parts: connection strings, chroot mapping, watch bookkeeping, ordered dispatch, multi results, backoff. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff, backoffDelayMs } from '../../src/client/backoff.ts';
import { Chroot, parseConnectString, shuffled } from '../../src/client/connect-string.ts';
import { Dispatcher } from '../../src/client/dispatcher.ts';
import { BadArgumentsError, BadVersionError, NoNodeError, ZooKeeperError, errorFor } from '../../src/client/errors.ts';
import { multiResults, type MultiFailure } from '../../src/client/transaction.ts';
import type { Logger, WatchedEvent } from '../../src/client/types.ts';
import { WatchRegistry } from '../../src/client/watch-registry.ts';
import { Err, OpCode } from '../../src/protocol/constants.ts';

describe('connection strings', () => {
  test('hosts, default port, IPv6 and chroot', () => {
    assert.deepEqual(parseConnectString('a:1,b,[::1]:3/app/x'), {
      hosts: [{ host: 'a', port: 1 }, { host: 'b', port: 2181 }, { host: '::1', port: 3 }],
      chroot: '/app/x',
    });
    assert.equal(parseConnectString('h:2181/').chroot, '');
  });

  test('bad strings are BadArguments', () => {
    for (const bad of ['', ',', 'h:0', 'h:65536', 'h:x', 'h:1/a/', 'h:1//a', ':1']) {
      assert.throws(() => parseConnectString(bad), BadArgumentsError, bad);
    }
  });

  test('shuffle keeps every host', () => {
    const hosts = [1, 2, 3, 4, 5];
    assert.deepEqual(shuffled(hosts, () => 0.99).sort(), hosts);
    assert.deepEqual(shuffled(hosts, () => 0), [2, 3, 4, 5, 1]);
  });

  test('chroot maps both ways and leaves foreign paths alone', () => {
    const c = new Chroot('/app');
    assert.equal(c.toServer('/'), '/app');
    assert.equal(c.toServer('/x'), '/app/x');
    assert.equal(c.toClient('/app'), '/');
    assert.equal(c.toClient('/app/x'), '/x');
    assert.equal(c.toClient('/apple'), '/apple');
    assert.equal(new Chroot('').toServer('/x'), '/x');
  });
});

describe('watch registry', () => {
  const w1 = (): void => {};
  const w2 = (): void => {};

  test('one-shot watches go once; persistent stay; recursive ones see descendants but not child events', () => {
    const r = new WatchRegistry();
    r.add('data', '/a', w1);
    r.add('exist', '/a', w1);
    r.add('child', '/a', w2);
    r.add('persistent', '/a', w2);
    r.add('persistentRecursive', '/', w1);
    assert.deepEqual([...r.trigger('NodeDataChanged', '/a')], [w1, w2]);
    assert.equal(r.has('/a', 'Data'), false);
    assert.equal(r.has('/a', 'Children', w2), true);
    assert.deepEqual([...r.trigger('NodeChildrenChanged', '/a')], [w2]);
    assert.equal(r.has('/a', 'Children'), false);
    assert.deepEqual([...r.trigger('NodeCreated', '/a/b/c')], [w1]);
    assert.deepEqual([...r.trigger('NodeChildrenChanged', '/a/b')], []);
    assert.deepEqual([...r.trigger('NodeDeleted', '/a')], [w2, w1]);
    assert.equal(r.size, 2);
  });

  test('remove reports the event each removed watcher hears; lists feed setWatches', () => {
    const r = new WatchRegistry();
    r.add('data', '/a', w1);
    r.add('child', '/a', w1);
    r.add('exist', '/b', w2);
    r.add('persistentRecursive', '/c', w2);
    assert.deepEqual(r.lists(), {
      dataWatches: ['/a'], existWatches: ['/b'], childWatches: ['/a'], persistentWatches: [], persistentRecursiveWatches: ['/c'],
    });
    assert.deepEqual([...r.remove('/a', 'Children', w1)], [[w1, 'ChildWatchRemoved']]);
    assert.equal(r.count('/a', 'Any'), 1);
    assert.deepEqual([...r.remove('/c', 'Any')], [[w2, 'PersistentWatchRemoved']]);
    assert.deepEqual([...r.clear()].length, 2);
    assert.equal(r.size, 0);
  });
});

describe('dispatcher', () => {
  const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

  test('a result with nothing ahead of it settles at once; listeners wait for their turn, in order', async () => {
    const d = new Dispatcher(silent);
    const log: string[] = [];
    d.result(() => log.push('r1'));
    assert.deepEqual(log, ['r1']);
    d.listener(() => log.push('e1'));
    d.result(() => log.push('r2'));
    assert.deepEqual(log, ['r1'], 'a listener never runs inside the IO callback');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['r1', 'e1', 'r2']);
  });

  test('continuations of earlier results run before a later listener', async () => {
    const d = new Dispatcher(silent);
    const log: string[] = [];
    d.listener(() => log.push('e1'));
    let resolve!: () => void;
    const p = new Promise<void>((r) => (resolve = r));
    void p.then(() => log.push('after r1'));
    d.result(resolve);
    // Waits for the last listener itself, not for a time that a busy machine may overrun.
    let lastRan!: () => void;
    const last = new Promise<void>((r) => (lastRan = r));
    d.listener(() => {
      log.push('e2');
      lastRan();
    });
    await last;
    assert.deepEqual(log, ['e1', 'after r1', 'e2']);
  });

  test('a throwing listener is logged and the next one still runs', async () => {
    const errors: unknown[] = [];
    const d = new Dispatcher({ ...silent, error: (obj) => errors.push(obj) });
    const seen: WatchedEvent[] = [];
    d.listener(() => {
      throw new Error('boom');
    });
    d.listener(() => seen.push({ type: 'NodeCreated', state: 'SyncConnected', path: '/x' }));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 1);
    assert.equal(errors.length, 1);
  });
});

describe('multi results', () => {
  const id = (p: string): string => p;

  test('typed results per op', () => {
    const stat = { czxid: 1, mzxid: 1, ctime: 0, mtime: 0, version: 1, cversion: 0, aversion: 0, ephemeralOwner: 0n, dataLength: 0, numChildren: 0, pzxid: 1 };
    assert.deepEqual(
      multiResults(
        [{ type: 'create', path: '/a' }, { type: 'setData', path: '/a', data: 'x' }, { type: 'check', path: '/a' }, { type: 'delete', path: '/a' }],
        [{ type: OpCode.create, path: '/a' }, { type: OpCode.setData, stat }, { type: OpCode.check }, { type: OpCode.delete }],
        id,
      ),
      [{ type: 'create', path: '/a' }, { type: 'setData', stat }, { type: 'check' }, { type: 'delete' }],
    );
  });

  test('a failure throws the failing op\'s error with every outcome', () => {
    const ops = [{ type: 'create', path: '/a' }, { type: 'check', path: '/b', version: 3 }, { type: 'delete', path: '/c' }] as const;
    try {
      multiResults(ops, [
        { type: OpCode.error, err: 0 },
        { type: OpCode.error, err: Err.BADVERSION },
        { type: OpCode.error, err: Err.RUNTIMEINCONSISTENCY },
      ], id);
      assert.fail('expected a throw');
    } catch (err) {
      assert.ok(err instanceof BadVersionError);
      const f = err as MultiFailure;
      assert.equal(f.path, '/b');
      assert.equal(f.opIndex, 1);
      assert.deepEqual(f.results.map((r) => r?.code ?? 0), [0, Err.BADVERSION, Err.RUNTIMEINCONSISTENCY]);
    }
  });
});

test('errors: one class per code under one base, unknown codes still typed', () => {
  const e = errorFor(Err.NONODE, '/x');
  assert.ok(e instanceof NoNodeError && e instanceof ZooKeeperError);
  assert.equal(e.name, 'NoNodeError');
  assert.equal(e.message, 'NONODE for /x');
  const unknown = errorFor(-999);
  assert.equal(unknown.constructor, ZooKeeperError);
  assert.equal(unknown.codeName, 'UNKNOWN(-999)');
});

describe('backoff', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  test('each pause is in the upper half of a ceiling that doubles up to the maximum', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 2000].map((attempt) => backoffDelayMs(policy, attempt, () => 1));
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
    assert.equal(backoffDelayMs(policy, 3, () => 0), 400);
    assert.equal(backoffDelayMs({ baseDelayMs: 0, maxDelayMs: 1000 }, 5000, () => 1), 0);
  });

  test('a success starts again from the base', () => {
    const backoff = new Backoff(policy, () => 1);
    assert.deepEqual([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()], [100, 200, 400]);
    backoff.reset();
    assert.equal(backoff.nextDelayMs(), 100);
  });
});
