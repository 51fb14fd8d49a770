/** SnapshotStore on files in the data dir, and its in-memory twin (same bytes, kept in a list). */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '../env/environment.ts';
import type { DataTree } from '../tree/data-tree.ts';
import { listFiles } from './files.ts';
import { decodeSnapshot, encodeSnapshot, readSnapshot, SnapshotFormatError, writeSnapshot, writeSnapshotNow, type LoadedSnapshot } from './snapshot.ts';
import type { RestoredSnapshot, SnapshotInfo, SnapshotListing, SnapshotMeta, SnapshotStore } from './stores.ts';
import { hex } from '../tree/zxid.ts';

type Usable = (s: RestoredSnapshot) => string | null;

/** Newest first: the first that decodes, names itself as listed, and that `usable` accepts. */
function newestUsable(
  listing: SnapshotListing[], decode: (l: SnapshotListing) => LoadedSnapshot, warn: (msg: string) => void, usable?: Usable,
): RestoredSnapshot | null {
  for (let i = listing.length - 1; i >= 0; i--) {
    const l = listing[i];
    let loaded: LoadedSnapshot;
    try {
      loaded = decode(l);
      if (loaded.index !== l.index) throw new SnapshotFormatError(`its header says index ${hex(loaded.index)}`);
    } catch (err) {
      if (!(err instanceof SnapshotFormatError)) throw err;
      warn(`${l.name} is damaged (${err.message}); trying the one before`);
      continue;
    }
    const restored: RestoredSnapshot = {
      name: l.name, tree: loaded.tree, index: loaded.index, term: loaded.term, zxid: loaded.zxid, endZxid: loaded.endZxid, settings: loaded.settings,
    };
    const refusal = usable?.(restored) ?? null;
    if (refusal === null) return restored;
    warn(`${l.name} ${refusal}; trying the one before`);
  }
  return null;
}

export class FileSnapshotStore implements SnapshotStore {
  constructor(private readonly dir: string, private readonly env: Environment) {}

  save(tree: DataTree, meta: SnapshotMeta): Promise<SnapshotInfo> {
    return writeSnapshot(tree, this.dir, { meta, env: this.env });
  }

  saveNow(tree: DataTree, meta: SnapshotMeta): SnapshotInfo {
    return writeSnapshotNow(tree, this.dir, { meta, env: this.env });
  }

  list(): SnapshotListing[] {
    return listFiles(this.dir, 'snapshot').map((f) => ({ name: f.path, index: f.index }));
  }

  loadNewest(extendedTypes: boolean, warn: (msg: string) => void, usable?: Usable): RestoredSnapshot | null {
    return newestUsable(this.list(), (l) => readSnapshot(l.name, extendedTypes), warn, usable);
  }

  /** Snapshots left half-written by a crash. */
  removeTempFiles(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) if (/^snapshot\.[0-9a-f]+\.tmp$/.test(name)) rmSync(join(this.dir, name), { force: true });
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  private readonly snapshots: Array<{ index: number; bytes: Buffer }> = [];

  constructor(private readonly env: Environment) {}

  async save(tree: DataTree, meta: SnapshotMeta): Promise<SnapshotInfo> {
    await new Promise<void>((r) => this.env.scheduler.soon(r));
    return this.saveNow(tree, meta);
  }

  saveNow(tree: DataTree, meta: SnapshotMeta): SnapshotInfo {
    const bytes = encodeSnapshot(tree, meta);
    const at = this.snapshots.findIndex((s) => s.index >= meta.index);
    if (at < 0) this.snapshots.push({ index: meta.index, bytes });
    else this.snapshots.splice(at, this.snapshots[at].index === meta.index ? 1 : 0, { index: meta.index, bytes });
    return { path: '', index: meta.index, zxid: meta.zxid, nodes: tree.nodeCount, sessions: tree.sessions.size, bytes: bytes.length };
  }

  list(): SnapshotListing[] {
    return this.snapshots.map((s) => ({ name: `snapshot.${s.index.toString(16)}`, index: s.index }));
  }

  loadNewest(extendedTypes: boolean, warn: (msg: string) => void, usable?: Usable): RestoredSnapshot | null {
    return newestUsable(this.list(), (l) => decodeSnapshot(this.snapshots.find((s) => s.index === l.index)!.bytes, extendedTypes), warn, usable);
  }

  /** A snapshot's bytes, to damage them in a test. */
  bytesOf(index: number): Buffer | undefined {
    return this.snapshots.find((s) => s.index === index)?.bytes;
  }
}
