/**
 * Where Txns become log entries, they get zxids: epoch = the Raft term, counter = the entry's place
 * in its term, 0 being the no-op its leader appended on election. Every member derives the same
 * zxid for an entry from the entries before it, so no zxid travels in the log.
 */
import type { Entry } from './core/types.ts';
import { counterOf, epochOf, TWO_32, zxidOf } from '../tree/zxid.ts';

export class EntryZxids {
  private term: number;
  /** The index of the current term's no-op. */
  private termStart: number;
  /** The zxid of the last entry. */
  last: number;

  /** From the last entry applied: its zxid and index (0 and 0 for an empty log). */
  constructor(lastZxid: number, lastIndex: number) {
    this.term = epochOf(lastZxid);
    this.termStart = lastIndex - counterOf(lastZxid);
    this.last = lastZxid;
  }

  /** The zxid of the next entry applied, in log order. */
  next(entry: Entry): number {
    if (entry.term !== this.term) {
      // A term's first entry is its leader's no-op.
      if (entry.term < this.term || entry.data !== null || entry.conf !== undefined) {
        throw new Error(`entry ${entry.index} of term ${entry.term} cannot start a term after term ${this.term}`);
      }
      this.term = entry.term;
      this.termStart = entry.index;
    }
    const zxid = zxidAt(this.term, this.termStart, entry.index);
    if (zxid === null) throw new Error(`entry ${entry.index} is past the last zxid of term ${this.term}`);
    this.last = zxid;
    return zxid;
  }
}

/**
 * The zxid of the entry at `index` in a term whose no-op is at `termStart`; a leader uses it for the
 * entry it is about to append. Null when the counter would wrap: the leader must give way to a new
 * term (ZooKeeper forces an election then too).
 */
export function zxidAt(term: number, termStart: number, index: number): number | null {
  const counter = index - termStart;
  return counter < TWO_32 ? zxidOf(term, counter) : null;
}
