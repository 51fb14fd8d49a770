/**
 * NodeCache and TreeCache against Apache ZooKeeper and Ensemble, in both watch modes: what each
 * change on the server turns into, the cache compared with the server's tree, the root deleted
 * and re-created, a re-sync after a cut during which another client changed the tree, and no
 * watch left behind after close.
 *
 * Each test has its own root znode /caches-<name>-<mode>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoNodeError, NoWatcherError, UnimplementedError, type ZooKeeperClient } from '../../src/client/index.ts';
import { NodeCache } from '../../src/recipes/node-cache.ts';
import { TreeCache, type CachedNode } from '../../src/recipes/tree-cache.ts';
import { rejects } from '../support/rejects.ts';
import { Recorder, caughtUp, deleteTree, eventually, recordStates, sessions } from '../support/recipes.ts';
import { forEachServer } from '../support/servers.ts';

const MODES = ['persistent', 'one_shot'] as const;

const text = (data: Buffer | null | undefined): string | null => (data === null || data === undefined ? null : data.toString('utf8'));

/** A TreeCache's events as "added /p data", "updated /p data", "removed /p". */
function treeLog(cache: TreeCache): Recorder<string> {
  const log = new Recorder<string>();
  cache.on('nodeAdded', (path: string, node: CachedNode) => log.record(`added ${path} ${text(node.data)}`));
  cache.on('nodeUpdated', (path: string, node: CachedNode) => log.record(`updated ${path} ${text(node.data)}`));
  cache.on('nodeRemoved', (path: string) => log.record(`removed ${path}`));
  return log;
}

/** The server's tree under root as path → data (the root absent: {}). */
async function serverTree(zk: ZooKeeperClient, root: string, maxDepth = Number.POSITIVE_INFINITY): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  const walk = async (path: string, depth: number): Promise<void> => {
    try {
      out[path] = text((await zk.getData(path)).data);
      if (depth < maxDepth) for (const c of await zk.getChildren(path)) await walk(`${path}/${c}`, depth + 1);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  };
  await walk(root, 0);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

function cacheTree(cache: TreeCache): Record<string, string | null> {
  return Object.fromEntries(cache.entries().map(([path, node]) => [path, text(node.data)]));
}

/** Every cached node's children as the cache lists them, to compare with the server's lists. */
async function childrenMatch(zk: ZooKeeperClient, cache: TreeCache): Promise<void> {
  for (const [path] of cache.entries()) {
    assert.deepEqual(cache.children(path), (await zk.getChildren(path)).sort(), `children of ${path}`);
  }
}

/** The same client, but addWatch fails as on a server before ZooKeeper 3.6. */
function withoutAddWatch(zk: ZooKeeperClient): ZooKeeperClient {
  return new Proxy(zk, {
    get(target, prop) {
      if (prop === 'addWatch') return () => Promise.reject(new UnimplementedError(-6));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open, proxy, cutOff } = sessions(server);

  for (const mode of MODES) {
    test(`${name}: NodeCache (${mode}) sees create, set, delete and re-create; close leaves no watch`, async () => {
      const path = `/caches-node-${mode}`;
      const zk = await open();
      const writer = await open();
      const cache = new NodeCache(zk, path, { mode });
      const changes: (string | null)[] = [];
      cache.on('change', (node) => changes.push(node === null ? null : text(node.data)));
      await cache.start();
      assert.equal(cache.current, null, 'the node does not exist yet');

      const step = async (write: () => Promise<unknown>, expected: string | null): Promise<void> => {
        const before = changes.length;
        await write();
        await eventually(() => changes.length > before, () => `a change to ${expected} (seen ${JSON.stringify(changes)})`);
        assert.equal(changes.at(-1), expected);
        assert.equal(text(cache.current?.data), expected);
      };
      await step(() => writer.create(path, 'a'), 'a');
      await step(() => writer.setData(path, 'b'), 'b');
      const version = (): number | undefined => cache.current?.stat.version;
      assert.equal(version(), 1);
      await step(() => writer.delete(path), null);
      await step(() => writer.create(path, 'c'), 'c');
      await caughtUp(zk);
      assert.deepEqual(changes, ['a', 'b', null, 'c'], 'one change per write, none twice');

      await cache.close();
      await rejects(zk.removeWatches(path, 'Any'), NoWatcherError);
      await writer.setData(path, 'd');
      await writer.delete(path);
      await caughtUp(zk);
      assert.deepEqual(changes, ['a', 'b', null, 'c'], 'nothing after close');
      assert.equal(cache.current, null, 'a closed cache is empty');
    });

    test(`${name}: TreeCache (${mode}) loads a 3-level tree and follows changes at every depth`, async () => {
      const root = `/caches-tree-${mode}`;
      const zk = await open();
      const writer = await open();
      await writer.create(root, 'r');
      await writer.create(`${root}/a`, 'a');
      await writer.create(`${root}/a/x`, 'x');
      await writer.create(`${root}/a/x/1`, '1');
      await writer.create(`${root}/b`, 'b');

      const cache = new TreeCache(zk, root, { mode });
      const shallow = new TreeCache(zk, root, { mode, maxDepth: 1 });
      const log = treeLog(cache);
      let initialized = 0;
      cache.on('initialized', () => initialized++);
      await cache.start();
      await shallow.start();
      assert.equal(initialized, 1);
      assert.deepEqual(cacheTree(cache), await serverTree(writer, root));
      assert.deepEqual(cacheTree(shallow), await serverTree(writer, root, 1), 'maxDepth 1: the root and its children');
      assert.deepEqual(log.entries.slice().sort(), [
        `added ${root} r`, `added ${root}/a a`, `added ${root}/a/x x`, `added ${root}/a/x/1 1`, `added ${root}/b b`,
      ].sort(), 'the initial load is announced node by node');
      assert.deepEqual(cache.children(root), ['a', 'b']);
      assert.deepEqual(cache.children(`${root}/a/x`), ['1']);
      assert.equal(cache.get(`${root}/nope`), undefined);

      const from = log.entries.length;
      const steps: [() => Promise<unknown>, string][] = [
        [() => writer.create(`${root}/c`, 'c'), `added ${root}/c c`],
        [() => writer.create(`${root}/a/x/2`, '2'), `added ${root}/a/x/2 2`],
        [() => writer.create(`${root}/a/x/2/deep`, 'd'), `added ${root}/a/x/2/deep d`],
        [() => writer.setData(`${root}/a`, 'a2'), `updated ${root}/a a2`],
        [() => writer.setData(`${root}/a/x/1`, '1b'), `updated ${root}/a/x/1 1b`],
        [() => writer.setData(root, 'r2'), `updated ${root} r2`],
        [() => writer.delete(`${root}/b`), `removed ${root}/b`],
        [() => writer.delete(`${root}/a/x/1`), `removed ${root}/a/x/1`],
        [() => writer.delete(`${root}/a/x/2/deep`), `removed ${root}/a/x/2/deep`],
      ];
      for (const [write, event] of steps) {
        const at = log.entries.length;
        await write();
        await log.waitFor(event, at);
      }
      await caughtUp(zk);
      assert.deepEqual(log.entries.slice(from), steps.map(([, e]) => e), 'each change once, as it happened');
      assert.deepEqual(cacheTree(cache), await serverTree(writer, root));
      assert.deepEqual(cacheTree(shallow), await serverTree(writer, root, 1));
      await childrenMatch(writer, cache);

      const paths = cache.entries().map(([p]) => p);
      await cache.close();
      await shallow.close();
      for (const p of paths) await rejects(zk.removeWatches(p, 'Any'), NoWatcherError);
      assert.deepEqual(cache.entries(), []);
      await deleteTree(writer, root);
    });

    test(`${name}: TreeCache (${mode}) follows a root that is missing, created, deleted and created again`, async () => {
      const root = `/caches-root-${mode}`;
      const zk = await open();
      const writer = await open();
      const cache = new TreeCache(zk, root, { mode });
      const log = treeLog(cache);
      await cache.start();
      assert.deepEqual(cache.entries(), [], 'nothing to load');

      await writer.create(root, 'one');
      await log.waitFor(`added ${root} one`);
      await writer.create(`${root}/kid`, 'k');
      await log.waitFor(`added ${root}/kid k`);
      await writer.delete(`${root}/kid`);
      await writer.delete(root);
      await log.waitFor(`removed ${root}`);
      assert.equal(cache.get(root), undefined);
      await writer.create(root, 'two');
      await writer.create(`${root}/kid`, 'k2');
      await log.waitFor(`added ${root}/kid k2`);
      await caughtUp(zk);
      assert.deepEqual(log.entries, [
        `added ${root} one`, `added ${root}/kid k`, `removed ${root}/kid`, `removed ${root}`, `added ${root} two`, `added ${root}/kid k2`,
      ]);
      assert.deepEqual(cacheTree(cache), await serverTree(writer, root));
      await cache.close();
      await rejects(zk.removeWatches(root, 'Any'), NoWatcherError);
      await deleteTree(writer, root);
    });

    test(`${name}: TreeCache (${mode}) re-syncs after a cut during which another client changed the tree`, async () => {
      const root = `/caches-resync-${mode}`;
      const link = await proxy();
      const zk = await open(link.connectString);
      const writer = await open();
      const states = recordStates(zk);
      for (const [p, d] of [[root, 'r'], [`${root}/a`, 'a'], [`${root}/a/1`, '1'], [`${root}/b`, 'b'], [`${root}/c`, 'c'], [`${root}/same`, 's']]) {
        await writer.create(p, d);
      }
      const cache = new TreeCache(zk, root, { mode });
      const log = treeLog(cache);
      await cache.start();
      const from = log.entries.length;

      await cutOff(zk, link);
      await writer.setData(`${root}/a`, 'a2');
      await writer.create(`${root}/a/2`, '2');
      await writer.create(`${root}/d`, 'd');
      await writer.create(`${root}/d/deep`, 'dd');
      await writer.delete(`${root}/a/1`);
      await writer.delete(`${root}/b`);
      await writer.delete(`${root}/c`);
      await writer.create(`${root}/c`, 'c-new');
      link.refuse(false);

      const expected = [
        `updated ${root}/a a2`, `added ${root}/a/2 2`, `added ${root}/d d`, `added ${root}/d/deep dd`,
        `removed ${root}/a/1`, `removed ${root}/b`,
      ];
      await eventually(async () => JSON.stringify(cacheTree(cache)) === JSON.stringify(await serverTree(writer, root)),
        () => `the cache to match the server (events ${JSON.stringify(log.entries.slice(from))})`);
      await caughtUp(zk);
      assert.equal(zk.state, 'SyncConnected');
      assert.deepEqual(states.entries, ['Disconnected', 'SyncConnected'], 'the same session came back');
      const seen = log.entries.slice(from);
      // The re-created node is either an update (the re-sync saw a new mzxid) or a removal and an addition (one-shot watches fired).
      const recreated = seen.filter((e) => e.startsWith(`removed ${root}/c`) || e.includes(`${root}/c `));
      assert.ok(
        JSON.stringify(recreated) === JSON.stringify([`updated ${root}/c c-new`]) ||
          JSON.stringify(recreated) === JSON.stringify([`removed ${root}/c`, `added ${root}/c c-new`]),
        `c re-created: ${JSON.stringify(recreated)}`,
      );
      assert.deepEqual(seen.filter((e) => !recreated.includes(e)).sort(), expected.sort(), 'what changed in the gap, once each, and nothing else');
      assert.equal(cache.get(`${root}/same`)?.data?.toString(), 's');
      await childrenMatch(writer, cache);
      await cache.close();
      await deleteTree(writer, root);
    });
  }

  test(`${name}: NodeCache 'auto' falls back to one-shot watches when addWatch is unimplemented`, async () => {
    const path = '/caches-fallback';
    const zk = await open();
    const writer = await open();
    await writer.create(path, 'a');
    const cache = new NodeCache(withoutAddWatch(zk), path);
    const changes: (string | null)[] = [];
    cache.on('change', (node) => changes.push(node === null ? null : text(node.data)));
    await cache.start();
    assert.equal(text(cache.current?.data), 'a');
    await rejects(zk.removeWatches(path, 'Persistent'), NoWatcherError);
    await writer.setData(path, 'b');
    await eventually(() => changes.length === 1, () => `one change (seen ${JSON.stringify(changes)})`);
    await writer.delete(path);
    await eventually(() => changes.length === 2, () => `two changes (seen ${JSON.stringify(changes)})`);
    assert.deepEqual(changes, ['b', null]);
    await cache.close();
    await rejects(zk.removeWatches(path, 'Any'), NoWatcherError);
  });

  test(`${name}: a cache start()ed on a closed client rejects, and close() is idempotent`, async () => {
    const zk = await open();
    await zk.close();
    const cache = new TreeCache(zk, '/caches-closed');
    await assert.rejects(cache.start());
    await cache.close();
    await cache.close();
  });
});
