/**
 * What a member knows of its own data beyond the log and snapshots: whether it is still recovering
 * from having lost them (a mark kept on disk until a leader has brought it up to date, so that a
 * crash meanwhile does not end the recovery), and where damaged files go (set aside, never deleted:
 * an operator may want them). An in-memory twin for tests and the simulator.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncFile } from '../storage/file-log-store.ts';

export interface MemberData {
  /** The mark is on disk: this member lost its data and has not been brought up to date since. */
  readonly recovering: boolean;
  /** Sets or clears the mark, durably. */
  markRecovering(on: boolean): void;
  /** Moves the log, the hard state and the snapshots out of the way; returns where they went. */
  setAside(): string;
}

const MARK = 'recovering';
/** What a member keeps in its directory (file-raft-storage.ts, hard-state.ts, member-snapshots.ts). */
const OWN = /^(raft-log\.|snapshot\.|hardstate)/;

export class FileMemberData implements MemberData {
  constructor(private readonly dir: string, private readonly now: () => Date = () => new Date()) {}

  get recovering(): boolean {
    return existsSync(join(this.dir, MARK));
  }

  markRecovering(on: boolean): void {
    if (on === this.recovering) return;
    if (on) writeFileSync(join(this.dir, MARK), 'this member lost its data; it takes no part in elections until a leader has brought it up to date\n');
    else rmSync(join(this.dir, MARK));
    fsyncFile(this.dir);
  }

  setAside(): string {
    const aside = join(this.dir, `damaged-${this.now().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(aside);
    for (const f of readdirSync(this.dir)) if (OWN.test(f)) renameSync(join(this.dir, f), join(aside, f));
    fsyncFile(aside);
    fsyncFile(this.dir);
    return aside;
  }
}

export class MemoryMemberData implements MemberData {
  recovering = false;

  markRecovering(on: boolean): void {
    this.recovering = on;
  }

  setAside(): string {
    throw new Error('in-memory data is never damaged');
  }
}
