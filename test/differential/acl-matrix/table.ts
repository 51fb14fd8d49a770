/** The shape every part of the matrix shares: rows × columns of outcomes, one run per server. */
import type { RawClient } from '../../support/raw-client.ts';
import type { RunningServer } from '../../support/servers.ts';

export interface Column {
  key: string;
  label: string;
}

export interface Row {
  key: string;
  label: string;
}

export interface Table {
  key: string;
  title: string;
  /** Markdown shown above the table. */
  intro: string;
  rowHeading: string;
  rows: readonly Row[];
  columns: readonly Column[];
}

/** Outcomes by cellKey. */
export type Outcomes = Map<string, string>;

export function cellKey(table: string, row: string, column: string): string {
  return `${table}|${row}|${column}`;
}

export interface MatrixOptions {
  /** Three members, the sessions on a follower: leave out what ZooKeeper's followers cannot take. */
  replicated?: boolean;
}

export interface Part {
  tables: readonly Table[];
  /**
   * Runs every cell of the part against `server`, under `root` (which does not exist yet); `owner` is
   * a session of the super user.
   */
  run(server: RunningServer, owner: RawClient, root: string, options: MatrixOptions): Promise<Outcomes>;
}

/** How long one cell may take on a busy machine before it is recorded as unanswered. */
const CELL_TIMEOUT_MS = 60_000;

/** The cell's outcome, or `no reply` / the error it threw: a cell never stops the run. */
export async function cellOutcome(run: () => Promise<string>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('no reply'), CELL_TIMEOUT_MS); });
  try {
    return await Promise.race([run(), timeout]);
  } catch (e) {
    return `failed: ${(e as Error).name}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs fn on every item, at most `limit` at a time. */
export async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
