/**
 * A member's snapshot files: what a restart reads back, how many are kept, and that a member's own
 * snapshot is written without stopping the event loop (a large tree's write once stopped it for
 * the whole write and sync).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileMemberSnapshots } from '../../src/server/quorum/member-snapshots.ts';

const work = mkdtempSync(join(tmpdir(), 'ensemble-member-snapshots-'));
after(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => mkdtempSync(join(work, `${dirs++}-`));

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

describe('FileMemberSnapshots', () => {
  it('reads back the newest snapshot, written in the background or not, and keeps the newest two', async () => {
    const dir = freshDir();
    const snapshots = new FileMemberSnapshots(dir);
    assert.equal(snapshots.newest(), null);
    await snapshots.saveInBackground({ index: 0x10, term: 2, data: bytes(1000, 1) });
    assert.deepEqual(snapshots.newest(), { index: 0x10, term: 2, data: bytes(1000, 1) });
    snapshots.save({ index: 0x30, term: 3, data: bytes(10, 3) });
    // A member's own snapshot finishing after a leader's newer one was installed.
    await snapshots.saveInBackground({ index: 0x20, term: 3, data: bytes(20, 2) });
    assert.deepEqual(snapshots.newest(), { index: 0x30, term: 3, data: bytes(10, 3) });
    assert.deepEqual(readdirSync(dir).sort(), ['snapshot.20', 'snapshot.30'], 'the oldest went, no temporary file is left');
  });

  it('lets the event loop turn while a member\'s own snapshot is written, and not while a leader\'s is', async () => {
    const dir = freshDir();
    const snapshots = new FileMemberSnapshots(dir);
    const data = bytes(32 * 1024 * 1024, 7);
    const turnsDuring = async (save: () => Promise<void> | void): Promise<number> => {
      let turns = 0;
      let saving = true;
      const spin = (): void => {
        if (!saving) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      await save();
      saving = false;
      return turns;
    };
    assert.equal(await turnsDuring(() => snapshots.save({ index: 1, term: 1, data })), 0, 'the synchronous save holds the loop');
    assert.ok(await turnsDuring(() => snapshots.saveInBackground({ index: 2, term: 1, data })) > 0, 'the background save lets it turn');
    assert.equal(snapshots.newest()!.index, 2);
    assert.ok(snapshots.newest()!.data.equals(data));
  });
});
