/**
 * Where a member keeps snapshots of its tree: the newest is where a restart begins, and what a
 * follower too far behind the leader's compacted log receives. Files `snapshot.<index>` in the
 * member's directory (the snapshot format of storage/snapshot.ts, written whole and renamed into
 * place), and an in-memory twin for the simulator.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
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
  newest(): StoredSnapshot | null;
}

const KEEP = 2;

export class FileMemberSnapshots implements MemberSnapshots {
  constructor(private readonly dir: string, private readonly log?: { info(obj: object, msg: string): void }) {}

  save(s: StoredSnapshot, ms?: number): void {
    const name = `snapshot.${s.index.toString(16)}`;
    const tmp = join(this.dir, `${name}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      // The term travels in front of the snapshot's own bytes.
      const head = Buffer.alloc(8);
      head.writeBigInt64BE(BigInt(s.term));
      writeSync(fd, head);
      writeSync(fd, s.data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
    fsyncFile(this.dir);
    this.log?.info({ path: join(this.dir, name), index: s.index, term: s.term, bytes: s.data.length + 8, ...(ms !== undefined && { ms: Math.round(ms) }) }, 'snapshot written');
    for (const old of this.indexes().slice(0, -KEEP)) rmSync(join(this.dir, `snapshot.${old.toString(16)}`), { force: true });
  }

  newest(): StoredSnapshot | null {
    const index = this.indexes().at(-1);
    if (index === undefined) return null;
    const buf = readFileSync(join(this.dir, `snapshot.${index.toString(16)}`));
    return { index, term: Number(buf.readBigInt64BE(0)), data: buf.subarray(8) };
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

  newest(): StoredSnapshot | null {
    return this.kept;
  }
}
