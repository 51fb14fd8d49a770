/**
 * Recovery against damaged files. A data dir is written by a real server under a mixed load while
 * fuzzy snapshots are taken (in tiny slices, so that writes land in the middle of them); then, in
 * seeded trials, a copy is damaged (log truncated at a random offset, random bytes flipped in a log
 * or a snapshot, a snapshot cut short) and recovered. Recovery must either refuse with a
 * RecoveryError, or produce exactly the state the log defines at the zxid it reports: the same as
 * replaying the intact log from zxid 1 up to there. It never crashes and never invents data.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/index.ts';
import { startServer } from '../../src/server/index.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { recover, RecoveryError, type Recovered } from '../../src/server/storage/recovery.ts';
import { snapshotSlice } from '../../src/server/storage/snapshot.ts';
import { scanSegment } from '../../src/server/storage/segment.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';
import { prng } from '../support/prng.ts';

const SEED = Number(process.env.ENSEMBLE_CORRUPTION_SEED ?? Date.now() % 1_000_000);
const TRIALS = 60;
const MAX_RECORD = 2 * 1024 * 1024;


/** Everything a client can observe of the state, in a canonical order. */
function dump(tree: DataTree): string {
  const nodes = [...tree.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, n]) => [
    path, n.data === null ? null : n.data.toString('hex'), JSON.stringify(n.acl), n.czxid, n.mzxid, n.ctime, n.mtime,
    n.version, n.cversion, n.aversion, n.ephemeralOwner.toString(), n.pzxid, [...n.children].sort().join(','),
  ]);
  const sessions = [...tree.sessions.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, t]) => `${id}:${t}`);
  return JSON.stringify({ nodes, sessions });
}

/** The first few differences between two dumps, for a readable failure. */
function diff(actual: string, expected: string): string {
  if (actual === expected) return '';
  const a = JSON.parse(actual) as { nodes: unknown[][]; sessions: string[] };
  const e = JSON.parse(expected) as { nodes: unknown[][]; sessions: string[] };
  const byPath = (d: { nodes: unknown[][] }): Map<string, string> => new Map(d.nodes.map((n) => [String(n[0]), JSON.stringify(n.slice(3))]));
  const am = byPath(a);
  const em = byPath(e);
  const out: string[] = [];
  for (const p of new Set([...am.keys(), ...em.keys()])) {
    if (am.get(p) !== em.get(p)) out.push(`${p}: recovered ${am.get(p) ?? 'absent'}, log says ${em.get(p) ?? 'absent'}`);
  }
  if (JSON.stringify(a.sessions) !== JSON.stringify(e.sessions)) out.push(`sessions: ${a.sessions} vs ${e.sessions}`);
  return out.slice(0, 6).join('\n');
}

let dir: string;
let entries: TxnEntry[] = [];
const states = new Map<number, string>();

/** The state the intact log defines at zxid (by replay from an empty tree, memoised). */
function stateAt(zxid: number): string {
  let s = states.get(zxid);
  if (s === undefined) {
    const tree = new DataTree({ extendedTypes: true });
    for (const e of entries) {
      if (e.header.zxid > zxid) break;
      tree.apply(e);
    }
    s = dump(tree);
    states.set(zxid, s);
  }
  return s;
}

async function workload(port: number, random: () => number): Promise<void> {
  const clients: ZooKeeperClient[] = [];
  for (let i = 0; i < 4; i++) clients.push(await connect(`127.0.0.1:${port}`, { sessionTimeoutMs: 30_000 }));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  await clients[0].create('/t', 'root');
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 1500; i++) {
    const zk = pick(clients);
    const n = `/t/n${Math.floor(random() * 60)}`;
    const op = random();
    const p = op < 0.3 ? zk.create(n, `c${i}`, { mode: pick(['persistent', 'ephemeral', 'persistent_sequential'] as const) })
      : op < 0.55 ? zk.setData(n, random() < 0.1 ? null : `d${i}`)
      : op < 0.7 ? zk.delete(n)
      : op < 0.8 ? zk.transaction().create(`${n}-m`, `m${i}`).setData(n, `md${i}`).commit()
      : op < 0.85 ? zk.setACL(n, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }])
      : op < 0.9 ? zk.create(`/t/c${i % 7}`, null, { mode: 'container' }).then(() => zk.create(`/t/c${i % 7}/x`))
      : zk.exists(n);
    pending.push(p.catch(() => {}));
    if (pending.length >= 32) {
      await Promise.all(pending.splice(0));
      await new Promise((r) => setTimeout(r, 2)); // room for snapshot slices between bursts
    }
  }
  await Promise.all(pending);
  await clients[3].close(); // its ephemerals go in one closeSession txn
  for (const c of clients.slice(0, 3)) await c.close();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ensemble-corruption-'));
  const saved = { ...snapshotSlice };
  snapshotSlice.nodes = 10;
  snapshotSlice.ms = 0;
  try {
    const server = await startServer({
      clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: dir, extendedTypesEnabled: true,
      snapCount: 150, preAllocSizeBytes: 32 * 1024, forceSync: false,
    });
    await workload(server.port, prng(SEED));
    await server.close();
  } finally {
    Object.assign(snapshotSlice, saved);
  }
  for (const seg of listFiles(dir, 'log')) {
    const scan = scanSegment(readFileSync(seg.path), MAX_RECORD);
    assert.equal(scan.end.kind, 'clean', `${seg.path} of the intact dir`);
    for (const r of scan.records) {
      const last = entries.at(-1)?.header.zxid ?? 0;
      if (r.entry.header.zxid <= last) continue;
      assert.equal(r.entry.header.zxid, last + 1, 'the intact log has no gap');
      entries.push(r.entry);
    }
  }
  assert.ok(entries.length > 1000, `the workload logged ${entries.length} txns`);
  assert.ok(listFiles(dir, 'snapshot').length >= 3, 'several snapshots were taken');
  assert.ok(listFiles(dir, 'log').length >= 3, 'the log rolled');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function recoverCopy(damage: (copy: string) => string): { result: Recovered | RecoveryError; what: string; copy: string } {
  const copy = mkdtempSync(join(tmpdir(), 'ensemble-corrupt-trial-'));
  cpSync(dir, copy, { recursive: true });
  const what = damage(copy);
  const warnings: string[] = [];
  try {
    return { result: recover({ dataDir: copy, logDir: copy, extendedTypes: true, maxRecordBytes: MAX_RECORD, warn: (w) => warnings.push(w) }), what, copy };
  } catch (err) {
    if (err instanceof RecoveryError) return { result: err, what, copy };
    throw new Error(`recovery crashed after ${what} (seed ${SEED}): ${(err as Error).stack}`);
  }
}

test('the intact dir recovers to the state of the whole log, from a fuzzy snapshot', () => {
  const { result, copy } = recoverCopy(() => 'nothing');
  rmSync(copy, { recursive: true, force: true });
  assert.ok(!(result instanceof RecoveryError), String(result));
  assert.ok(result.snapshot !== null);
  assert.equal(result.lastZxid, entries.at(-1)!.header.zxid);
  assert.equal(diff(dump(result.tree), stateAt(result.lastZxid)), '');
});

test(`damaged files: recovered to an exact prefix of the log, or refused (seed ${SEED})`, () => {
  const random = prng(SEED * 7 + 1);
  const lastZxid = entries.at(-1)!.header.zxid;
  const counts = { prefix: 0, full: 0, refused: 0 };
  for (let trial = 0; trial < TRIALS; trial++) {
    const kind = trial % 4;
    const { result, what, copy } = recoverCopy((copy) => {
      const logs = listFiles(copy, 'log');
      const snaps = listFiles(copy, 'snapshot');
      switch (kind) {
        case 0: { // a crash tore the newest segment
          const seg = logs.at(-1)!;
          // Within the records: a cut in the preallocated zeros after them changes nothing.
          const end = scanSegment(readFileSync(seg.path), MAX_RECORD).validEnd;
          const at = Math.floor(random() * end);
          truncateSync(seg.path, at);
          return `newest log cut at ${at} of ${end} bytes of records`;
        }
        case 1: { // bit rot anywhere in a log
          const seg = logs[Math.floor(random() * logs.length)];
          const buf = readFileSync(seg.path);
          const end = scanSegment(buf, MAX_RECORD).validEnd; // flip within the records, not the zero tail
          const at = Math.floor(random() * end);
          buf[at] ^= 1 << Math.floor(random() * 8);
          writeFileSync(seg.path, buf);
          return `byte ${at} of ${seg.path.split('/').pop()} flipped`;
        }
        case 2: { // bit rot in a snapshot
          const snap = snaps[Math.floor(random() * snaps.length)];
          const buf = readFileSync(snap.path);
          const at = Math.floor(random() * buf.length);
          buf[at] ^= 1 << Math.floor(random() * 8);
          writeFileSync(snap.path, buf);
          return `byte ${at} of ${snap.path.split('/').pop()} flipped`;
        }
        default: { // the newest snapshot cut short
          const snap = snaps.at(-1)!;
          const size = statSync(snap.path).size;
          const at = Math.floor(random() * size);
          truncateSync(snap.path, at);
          return `newest snapshot cut at ${at} of ${size}`;
        }
      }
    });
    rmSync(copy, { recursive: true, force: true });
    const context = `trial ${trial}: ${what} (seed ${SEED})`;
    if (result instanceof RecoveryError) {
      counts.refused++;
      assert.ok(kind === 1, `${context}: only damage inside the log may be refused, got: ${result.message}`);
      assert.match(result.message, /log\.[0-9a-f]+/, `${context}: the message names the file`);
      continue;
    }
    assert.equal(diff(dump(result.tree), stateAt(result.lastZxid)), '', `${context}: the state is the log's at ${result.lastZxid}`);
    if (kind >= 2) assert.equal(result.lastZxid, lastZxid, `${context}: a damaged snapshot costs nothing, the one before is used`);
    if (result.lastZxid === lastZxid) counts.full++;
    else counts.prefix++;
  }
  assert.ok(counts.prefix > 0 && counts.full > 0, `every outcome was exercised: ${JSON.stringify(counts)}`);
});
