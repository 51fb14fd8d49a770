/**
 * Cells where Ensemble answers unlike Apache ZooKeeper 3.8.0, each with its reason. The matrix test
 * accepts exactly these outcomes in exactly these cells, and fails when one no longer shows (so the
 * list cannot go stale).
 */
export interface KnownDifference {
  /** The table (cellKey's first part) and, when given, the row and column it is limited to. */
  table: string;
  row?: string;
  column?: string;
  zookeeper: string;
  ensemble: string;
  /**
   * `upstream`: a bug of 3.8.0 fixed in later ZooKeeper releases, whose fix Ensemble follows.
   * `open`: a difference Ensemble still has to remove.
   */
  kind: 'upstream' | 'open';
  why: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    table: 'op:checkWatches-other', zookeeper: 'OK', ensemble: 'NOWATCHER', kind: 'upstream',
    why: 'ZOOKEEPER-4466: 3.8.0 answers checkWatches with OK when any session watches the path; later releases (and Ensemble) look for the caller\'s own watch.',
  },
];

export function knownDifference(key: string, zookeeper: string, ensemble: string): KnownDifference | undefined {
  const [table, row, column] = key.split('|');
  return KNOWN_DIFFERENCES.find((d) => d.table === table && (d.row ?? row) === row && (d.column ?? column) === column &&
    d.zookeeper === zookeeper && d.ensemble === ensemble);
}
