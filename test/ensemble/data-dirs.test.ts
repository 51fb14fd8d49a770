/**
 * A follower whose data dir is lost or damaged, on three ensemble processes with writes going on:
 * wiped (all but myid gone), it rejoins and catches up from the leader; with bytes flipped in the
 * middle of its log, it sets its damaged state aside and is repaired from the leader. Either way
 * every acknowledged write ends on every member, and the members agree on their zxid.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertMembersHold, ProcessEnsemble, WriteLoad } from '../support/process-ensemble.ts';
import { eventually } from '../support/recipes.ts';

describe('three ensemble processes: a follower loses its data dir', { timeout: 240_000 }, () => {
  const e = new ProcessEnsemble({ size: 3, tickTimeMs: 250, maxSessionTimeoutMs: 20_000 });
  let load: WriteLoad;

  before(async () => {
    await e.configure();
    for (const id of e.ids) e.start(id);
    await e.leader();
    load = await WriteLoad.start(e.connectString(), { sessionTimeoutMs: 10_000 });
    await load.waitForMore(100);
  });
  after(async () => {
    await load?.close().catch(() => {});
    await e.close();
  });

  /** A follower stopped while writes go on; `damage` done to its data dir; restarted. */
  async function restartFollowerAfter(damage: (id: number) => void): Promise<number> {
    const leader = await e.leader();
    const follower = e.ids.find((id) => id !== leader)!;
    await e.kill(follower, 'SIGTERM');
    await load.waitForMore(50);
    damage(follower);
    e.start(follower);
    await load.waitForMore(50);
    await eventually(async () => {
      if (!e.isRunning(follower)) throw new Error(`member ${follower} stopped:\n${e.member(follower).output.slice(-3000)}`);
      return (await e.mode(follower)) === 'follower';
    }, () => `member ${follower} following again:\n${e.member(follower).output.slice(-3000)}`, 60_000);
    return follower;
  }

  it('wiped but for myid: it rejoins, reaches the leader\'s zxid and holds every acknowledged write', async () => {
    await restartFollowerAfter((id) => e.wipe(id));
    await load.pause();
    await assertMembersHold(e, load, { ids: [...e.ids] });
    load.resume();
  });

  it('bytes flipped in the middle of its log: it is repaired from the leader and holds every acknowledged write', async () => {
    const follower = await restartFollowerAfter((id) => {
      const path = largestLogSegment(join(e.member(id).dataDir, 'member'));
      flipMiddleBytes(path);
    });
    await load.pause();
    const memberDir = join(e.member(follower).dataDir, 'member');
    assert.ok(readdirSync(memberDir).some((n) => n.startsWith('damaged-')), `member ${follower} set its damaged files aside`);
    assert.match(e.member(follower).output, /damaged/, `member ${follower} says its data is damaged`);
    await assertMembersHold(e, load, { ids: [...e.ids] });
    load.resume();
  });
});

function largestLogSegment(dir: string): string {
  const segments = readdirSync(dir).filter((n) => n.startsWith('raft-log.')).map((n) => join(dir, n));
  assert.ok(segments.length > 0, `a log segment in ${dir}`);
  return segments.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

/** Inverts 16 bytes halfway through the records of a segment (its tail is preallocated zeros). */
function flipMiddleBytes(path: string): void {
  const buf = readFileSync(path);
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  assert.ok(end > 1000, `${path} holds records (${end} bytes)`);
  const at = Math.floor(end / 2);
  for (let i = at; i < at + 16; i++) buf[i] ^= 0xff;
  writeFileSync(path, buf);
}
