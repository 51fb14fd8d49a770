/**
 * The commit stage: where a prepared Txn becomes durable (the transaction log) or agreed (a quorum)
 * before it is applied. Entries complete in the order they were submitted.
 */
import type { TxnEntry } from '../tree/txn.ts';

export interface CommitStage {
  submit(entry: TxnEntry, done: () => void): void;
  close(): Promise<void>;
}

/**
 * Commits in memory: everything submitted in one turn of the event loop is completed together at
 * its end, the shape group commit will keep when a log sits here.
 */
export class InMemoryCommit implements CommitStage {
  private batch: Array<() => void> = [];

  submit(_entry: TxnEntry, done: () => void): void {
    this.batch.push(done);
    if (this.batch.length === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    for (const done of batch) done();
  }

  async close(): Promise<void> {
    this.flush();
  }
}
