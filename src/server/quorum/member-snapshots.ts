/**
 * Where a member keeps snapshots of its tree: the newest is where a restart begins, and what a
 * follower too far behind the leader's compacted log receives. Files `snapshot.<index>` in the
 * member's directory (the snapshot format of storage/snapshot.ts, written whole and renamed into
 * place), and an in-memory twin for the simulator.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncFile } from '../storage/file-log-store.ts';

export interface StoredSnapshot {
  index: number;
  term: number;
  /** The snapshot's bytes (storage/snapshot.ts's format). */
  data: Buffer;
}

export interface MemberSnapshots {
  /**
   * Durable when it returns; older snapshots beyond the newest few may go. `ms`: how long taking it
   * took, for the log (absent for a leader's snapshot).
   */
  save(snapshot: StoredSnapshot, ms?: number): void;
  /**
   * As save, with the file's writes and syncs in the thread pool: durable once it resolves. A
   * member's own snapshot goes this way, so that writing a large tree does not stop its event loop.
   */
  saveInBackground(snapshot: StoredSnapshot, ms?: number): Promise<void>;
  newest(): StoredSnapshot | null;
}

const KEEP = 2;

/** The term travels in front of the snapshot's own bytes. */
function termHead(s: StoredSnapshot): Buffer {
  const head = Buffer.alloc(8);
  head.writeBigInt64BE(BigInt(s.term));
  return head;
}

export class FileMemberSnapshots implements MemberSnapshots {
  constructor(private readonly dir: string, private readonly log?: { info(obj: object, msg: string): void }) {}

  save(s: StoredSnapshot, ms?: number): void {
    const { name, tmp } = this.paths(s);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, termHead(s));
      writeSync(fd, s.data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, name);
    fsyncFile(this.dir);
    this.written(s, name, ms);
    for (const old of this.older()) rmSync(old, { force: true });
  }

  async saveInBackground(s: StoredSnapshot, ms?: number): Promise<void> {
    const { name, tmp } = this.paths(s);
    const file = await open(tmp, 'w');
    try {
      await file.writev([termHead(s), s.data]);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, name);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.written(s, name, ms);
    for (const old of this.older()) await rm(old, { force: true });
  }

  newest(): StoredSnapshot | null {
    const index = this.indexes().at(-1);
    if (index === undefined) return null;
    const buf = readFileSync(join(this.dir, `snapshot.${index.toString(16)}`));
    return { index, term: Number(buf.readBigInt64BE(0)), data: buf.subarray(8) };
  }

  private paths(s: StoredSnapshot): { name: string; tmp: string } {
    const name = join(this.dir, `snapshot.${s.index.toString(16)}`);
    return { name, tmp: `${name}.tmp` };
  }

  private written(s: StoredSnapshot, path: string, ms: number | undefined): void {
    this.log?.info({ path, index: s.index, term: s.term, bytes: s.data.length + 8, ...(ms !== undefined && { ms: Math.round(ms) }) }, 'snapshot written');
  }

  /** The snapshots beyond the newest KEEP, which may go. */
  private older(): string[] {
    return this.indexes().slice(0, -KEEP).map((i) => join(this.dir, `snapshot.${i.toString(16)}`));
  }

  private indexes(): number[] {
    return readdirSync(this.dir)
      .map((f) => /^snapshot\.([0-9a-f]+)$/.exec(f))
      .filter((m) => m !== null)
      .map((m) => parseInt(m![1], 16))
      .sort((a, b) => a - b);
  }
}

export class MemoryMemberSnapshots implements MemberSnapshots {
  private kept: StoredSnapshot | null = null;

  save(s: StoredSnapshot): void {
    this.kept = s;
  }

  saveInBackground(s: StoredSnapshot): Promise<void> {
    this.save(s);
    return Promise.resolve();
  }

  newest(): StoredSnapshot | null {
    return this.kept;
  }
}
