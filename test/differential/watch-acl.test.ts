/**
 * Differential: which sessions are told of a change, under mixed ACLs. Since the fix for
 * CVE-2024-23944 (ZOOKEEPER-4799) an event carries the ACL of the znode it is about (the parent's
 * for NodeChildrenChanged) and reaches only sessions with READ under it, super users included.
 * One-shot, persistent and recursive watches alike; a session is told once per change however many
 * of its watches match.
 */
import { Perms, WatcherType } from '../../src/protocol/constants.ts';
import type { ACL } from '../../src/protocol/records.ts';
import type { RawClient } from '../support/raw-client.ts';
import { SUPER_AUTH, SUPER_DIGEST } from '../support/servers.ts';
import { differential } from './harness.ts';
import type { Script } from './harness.ts';

const world = (perms: number): ACL => ({ perms, id: { scheme: 'world', id: 'anyone' } });
const alice = (perms: number): ACL => ({ perms, id: { scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' } });

/** Three watchers: anonymous, alice (who owns the secret nodes), and the super user. */
async function watchers(t: Script): Promise<RawClient[]> {
  const anon = await t.client();
  const al = await t.client();
  await t.op(al, 'tryAuth', 'digest', 'alice:secret');
  const su = await t.client();
  await t.op(su, 'tryAuth', 'digest', SUPER_AUTH);
  return [anon, al, su];
}

/** Let every watcher's events of the last write arrive, and record them per watcher. */
async function settle(t: Script, ws: RawClient[]): Promise<void> {
  for (const w of ws) await t.op(w, 'tryExists', '/');
}

differential('watch-acl', { superDigest: SUPER_DIGEST }, ({ scenario }) => {
  scenario('persistent and recursive watches see only what the session may read', async (t) => {
    const owner = await t.client();
    await t.op(owner, 'tryAuth', 'digest', 'alice:secret');
    const r = t.root;
    await t.op(owner, 'tryCreate', r, '');
    await t.op(owner, 'tryCreate', `${r}/x`, '');
    const ws = await watchers(t);
    for (const w of ws) {
      await t.op(w, 'tryAddWatch', `${r}/x`, 1);
      await t.op(w, 'tryAddWatch', `${r}/x/secret`, 0);
      await t.op(w, 'tryAddWatch', `${r}/x/open`, 0);
    }
    const steps: Array<() => Promise<unknown>> = [
      () => t.op(owner, 'tryCreate', `${r}/x/secret`, 's', { acl: [alice(Perms.ALL)] }),
      () => t.op(owner, 'tryCreate', `${r}/x/open`, 'o'),
      () => t.op(owner, 'trySetData', `${r}/x/secret`, 's2'),
      () => t.op(owner, 'tryCreate', `${r}/x/secret/kid`, '', { acl: [world(Perms.ALL)] }),
      () => t.op(owner, 'tryDelete', `${r}/x/secret/kid`),
      () => t.op(owner, 'trySetData', `${r}/x/open`, 'o2'),
      () => t.op(owner, 'trySetACL', `${r}/x/open`, [world(Perms.WRITE | Perms.DELETE)]),
      () => t.op(owner, 'trySetData', `${r}/x/open`, 'o3'),
      () => t.op(owner, 'trySetACL', `${r}/x/secret`, [world(Perms.READ), alice(Perms.ALL)]),
      () => t.op(owner, 'trySetData', `${r}/x/secret`, 's3'),
      () => t.op(owner, 'tryDelete', `${r}/x/secret`),
      () => t.op(owner, 'tryDelete', `${r}/x/open`),
    ];
    for (const step of steps) {
      await step();
      await settle(t, ws);
    }
  });

  scenario('one-shot watches are consumed even when the event is withheld', async (t) => {
    const owner = await t.client();
    await t.op(owner, 'tryAuth', 'digest', 'alice:secret');
    const r = t.root;
    await t.op(owner, 'tryCreate', r, '');
    const ws = await watchers(t);
    for (const w of ws) {
      await t.op(w, 'tryExists', `${r}/s`, true);
      await t.op(w, 'tryGetChildren', r, true);
    }
    // Created with no READ for anyone but alice; its parent stays world-readable.
    await t.op(owner, 'tryCreate', `${r}/s`, 'v', { acl: [alice(Perms.ALL)] });
    await settle(t, ws);
    await t.op(owner, 'trySetACL', `${r}/s`, [world(Perms.ALL)]);
    for (const w of ws) await t.op(w, 'tryGetData', `${r}/s`, true);
    await t.op(owner, 'trySetACL', `${r}/s`, [alice(Perms.ALL)], 1);
    await t.op(owner, 'trySetData', `${r}/s`, 'w');
    await settle(t, ws);
    // The watch was used up: a second change tells nobody.
    await t.op(owner, 'trySetACL', `${r}/s`, [world(Perms.ALL)], 2);
    await t.op(owner, 'trySetData', `${r}/s`, 'x');
    await settle(t, ws);
    // A parent nobody but alice reads: NodeChildrenChanged is withheld from the others.
    await t.op(owner, 'tryCreate', `${r}/p`, '', { acl: [alice(Perms.ALL)] });
    for (const w of ws) {
      await t.op(w, 'tryGetChildren', `${r}/p`, true);
      await t.op(w, 'tryExists', `${r}/p/kid`, true);
      await t.op(w, 'tryGetData', `${r}/p`, true);
    }
    await t.op(owner, 'tryCreate', `${r}/p/kid`, '');
    await settle(t, ws);
    await t.op(owner, 'tryDelete', `${r}/p/kid`);
    await t.op(owner, 'tryDelete', `${r}/p`);
    await settle(t, ws);
    for (const w of ws) await t.op(w, 'tryCheckWatches', `${r}/p`, WatcherType.Any);
  });

  scenario('a session with several matching watches is told once per change', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/x`, '');
    await t.op(w, 'tryAddWatch', `${r}/x`, 1);
    await t.op(w, 'tryAddWatch', `${r}/x/secret`, 0);
    await t.op(w, 'tryExists', `${r}/x/secret`, true);
    await t.op(c, 'tryCreate', `${r}/x/secret`, '');
    await settle(t, [w]);
    await t.op(w, 'tryGetData', `${r}/x/secret`, true);
    await t.op(w, 'tryGetChildren', `${r}/x/secret`, true);
    await t.op(c, 'trySetData', `${r}/x/secret`, '1');
    await settle(t, [w]);
    await t.op(c, 'tryCreate', `${r}/x/secret/a`, '');
    await settle(t, [w]);
    await t.op(w, 'tryGetData', `${r}/x/secret`, true);
    await t.op(w, 'tryGetChildren', `${r}/x/secret`, true);
    await t.op(c, 'tryDelete', `${r}/x/secret/a`);
    await t.op(c, 'tryDelete', `${r}/x/secret`);
    await settle(t, [w]);
  });
});
