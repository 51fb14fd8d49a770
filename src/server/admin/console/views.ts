/**
 * What the console shows, read in-process from the server: the tree (as the caller's identity may
 * read it: READ for data and children, READ or ADMIN for the ACL, digests masked without ADMIN, as
 * ZooKeeper's reads), sessions with their ephemerals and watches, the ensemble's members and the
 * counters the charts sample. Ids and zxids go out as hex strings (a 64-bit id does not fit a JSON
 * number).
 */
import { Perms } from '../../../protocol/constants.ts';
import type { ACL, Id } from '../../../protocol/records.ts';
import { mayAccess, redactDigests } from '../../auth/acl.ts';
import type { Member } from '../../quorum/member.ts';
import { NONE } from '../../quorum/core/types.ts';
import type { EnsembleServer } from '../../server.ts';
import { ephemeralKind, statOf, ttlOf, type ZNode } from '../../tree/data-tree.ts';
import { hex, zxidOf } from '../../tree/zxid.ts';

const idHex = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;

const PERM_LETTERS: ReadonlyArray<[number, string]> = [[Perms.CREATE, 'c'], [Perms.DELETE, 'd'], [Perms.READ, 'r'], [Perms.WRITE, 'w'], [Perms.ADMIN, 'a']];
const permsText = (perms: number): string => PERM_LETTERS.map(([bit, c]) => ((perms & bit) !== 0 ? c : '')).join('');

const childPath = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);

/** Most children listed in one page, search results in one answer, nodes a search visits. */
export const MAX_PAGE = 500;
/** Past this many children a node's are listed in the order they were added: sorting a million names takes seconds. */
const MAX_SORTED = 100_000;
const MAX_SEARCH_RESULTS = 200;
const MAX_SEARCH_VISITS = 200_000;
/** Sessions listed, and ephemerals and watched paths listed per session. */
const MAX_SESSIONS = 500;
const MAX_PATHS_PER_SESSION = 100;

/** The names at [offset, offset + limit) of those containing `filter`, and how many contain it. */
function pageOf(all: Iterable<string>, filter: string, offset: number, limit: number): { total: number; names: string[] } {
  if (Array.isArray(all) && filter === '') return { total: all.length, names: all.slice(offset, offset + limit) };
  const names: string[] = [];
  let total = 0;
  for (const name of all) {
    if (filter !== '' && !name.includes(filter)) continue;
    if (total >= offset && names.length < limit) names.push(name);
    total++;
  }
  return { total, names };
}

export class ConsoleViews {
  /** The last node listed, its children sorted: paging through it sorts them once. */
  private sorted: { node: ZNode; cversion: number; size: number; names: string[] } | null = null;

  constructor(private readonly server: EnsembleServer, private readonly member: Member | undefined, private readonly maxSorted = MAX_SORTED) {}

  node(path: string, authInfo: readonly Id[]): object | null {
    const tree = this.server.tree;
    const n = tree.get(path);
    if (n === undefined) return null;
    const stat = statOf(n, tree.extendedTypes);
    const kind = ephemeralKind(n.ephemeralOwner, tree.extendedTypes);
    const mayReadAcl = mayAccess(n.acl, Perms.READ | Perms.ADMIN, authInfo);
    const acl: ACL[] | null = !mayReadAcl ? null : mayAccess(n.acl, Perms.ADMIN, authInfo) ? n.acl : redactDigests(n.acl);
    const readable = mayAccess(n.acl, Perms.READ, authInfo);
    return {
      path,
      kind: kind === 'void' ? 'persistent' : kind === 'normal' ? 'ephemeral' : kind,
      ...(kind === 'ttl' && { ttlMs: ttlOf(n.ephemeralOwner) }),
      stat: {
        czxid: hex(stat.czxid), mzxid: hex(stat.mzxid), pzxid: hex(stat.pzxid), ctime: stat.ctime, mtime: stat.mtime,
        version: stat.version, cversion: stat.cversion, aversion: stat.aversion, ephemeralOwner: idHex(stat.ephemeralOwner),
        dataLength: stat.dataLength, numChildren: stat.numChildren,
      },
      acl: acl?.map((a) => ({ perms: permsText(a.perms), scheme: a.id.scheme, id: a.id.id })) ?? null,
      readable,
      data: readable && n.data !== null ? n.data.toString('base64') : null,
      dataNull: n.data === null,
    };
  }

  /** A page of a node's children (sorted by name up to `maxSorted` of them), those containing `filter` only when given. */
  children(path: string, offset: number, limit: number, filter: string, authInfo: readonly Id[]): object | null {
    const tree = this.server.tree;
    const n = tree.get(path);
    if (n === undefined) return null;
    if (!mayAccess(n.acl, Perms.READ, authInfo)) return { path, readable: false, total: 0, offset: 0, children: [] };
    const sorted = n.children.size <= this.maxSorted;
    const { total, names } = pageOf(sorted ? this.sortedChildren(n) : n.children, filter, offset, Math.min(limit, MAX_PAGE));
    const children = names.map((name) => {
      const c = tree.get(childPath(path, name));
      return { name, numChildren: c?.children.size ?? 0, dataLength: c?.data?.length ?? 0, ephemeral: c !== undefined && ephemeralKind(c.ephemeralOwner, tree.extendedTypes) === 'normal' };
    });
    return { path, readable: true, sorted, total, offset: Math.min(offset, total), children };
  }

  private sortedChildren(n: ZNode): string[] {
    const s = this.sorted;
    if (s !== null && s.node === n && s.cversion === n.cversion && s.size === n.children.size) return s.names;
    const names = [...n.children].sort();
    this.sorted = { node: n, cversion: n.cversion, size: n.children.size, names };
    return names;
  }

  /** Paths containing `query`, breadth first from the root, through the nodes the caller may list. */
  search(query: string, authInfo: readonly Id[]): object {
    const tree = this.server.tree;
    const results: string[] = [];
    const queue = ['/'];
    let cut = false;
    for (let i = 0; i < queue.length && results.length < MAX_SEARCH_RESULTS; i++) {
      const path = queue[i];
      if (path.includes(query)) results.push(path);
      const n = tree.get(path);
      if (n === undefined || !mayAccess(n.acl, Perms.READ, authInfo)) continue;
      for (const name of n.children) {
        if (queue.length === MAX_SEARCH_VISITS) {
          cut = true;
          break;
        }
        queue.push(childPath(path, name));
      }
    }
    return { query, results, complete: results.length < MAX_SEARCH_RESULTS && !cut };
  }

  sessions(): object {
    const server = this.server;
    const dataWatches = server.watches.data.bySession();
    const childWatches = server.watches.child.bySession();
    const held = new Map<bigint, string>();
    for (const c of server.connections) held.set(c.sessionId, `${c.remoteAddress}:${c.remotePort}`);
    const all = [...server.sessions.all()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const first = <T>(set: Iterable<T> | undefined): T[] => {
      const out: T[] = [];
      for (const x of set ?? []) {
        if (out.length === MAX_PATHS_PER_SESSION) break;
        out.push(x);
      }
      return out;
    };
    return {
      total: all.length,
      sessions: all.slice(0, MAX_SESSIONS).map((s) => {
        const ephemerals = server.tree.ephemeralsOf(s.id);
        return {
          id: idHex(s.id),
          timeoutMs: s.timeoutMs,
          owner: s.owner,
          connection: held.get(s.id) ?? null,
          ephemeralCount: ephemerals.size,
          ephemerals: first(ephemerals).sort(),
          dataWatchCount: dataWatches.get(s.id)?.size ?? 0,
          dataWatches: first(dataWatches.get(s.id)).sort(),
          childWatchCount: childWatches.get(s.id)?.size ?? 0,
          childWatches: first(childWatches.get(s.id)).sort(),
        };
      }),
    };
  }

  /**
   * The ensemble as this member knows it. A leader knows how far each follower's log matches its
   * own (lag in entries; the zxid where that is in the current term); a follower knows itself and
   * which member leads. A standalone server is one row.
   */
  members(): object {
    const server = this.server;
    const member = this.member;
    if (member === undefined) {
      return { mode: 'standalone', self: 0, leader: null, term: null, members: [{ id: 0, role: 'standalone', zxid: hex(server.lastZxid), lag: 0, self: true }] };
    }
    const raft = member.raft;
    const progress = new Map(raft.followers().map((f) => [f.id, f]));
    const lastIndex = raft.log.lastIndex;
    const rows = raft.conf.voters.map((id) => {
      if (id === member.id) {
        return { id, role: raft.role, zxid: hex(server.lastZxid), lag: raft.role === 'leader' ? 0 : raft.log.committed - raft.log.applied, self: true };
      }
      const p = progress.get(id);
      if (p !== undefined) {
        const zxid = p.match >= raft.termStart ? hex(zxidOf(raft.term, p.match - raft.termStart)) : null;
        return { id, role: 'follower', zxid, lag: lastIndex - p.match, state: p.state, self: false };
      }
      return { id, role: id === raft.lead ? 'leader' : 'unknown', zxid: null, lag: null, self: false };
    });
    return { mode: 'ensemble', self: member.id, leader: raft.lead === NONE ? null : raft.lead, term: raft.term, members: rows };
  }

  stats(): object {
    const server = this.server;
    const s = server.stats;
    let outstanding = 0;
    for (const c of server.connections) outstanding += c.outstanding;
    return {
      packetsReceived: s.packetsReceived,
      packetsSent: s.packetsSent,
      latencyCount: s.latencyCount,
      totalLatencyMs: s.totalLatencyMs,
      maxLatencyMs: s.maxLatencyMs,
      outstanding,
      connections: server.connections.size,
      sessions: server.sessions.size,
      nodes: server.tree.nodeCount,
      watches: server.watches.watchCount,
      zxid: hex(server.lastZxid),
    };
  }
}
