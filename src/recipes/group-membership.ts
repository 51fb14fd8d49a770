/**
 * Curator's GroupMember (kazoo's Party): each member is an ephemeral znode `path/memberId`
 * holding the member's data; every member sees the whole group through a TreeCache of depth 1.
 */
import { EventEmitter } from 'node:events';
import { BadVersionError, NoNodeError, SessionExpiredError, type Data, type ZooKeeperClient } from '../client/index.ts';
import { ConnectionStateTracker, type ConnectionState } from './connection-state.ts';
import { createWithParents } from './nodes.ts';
import { joinPath, nameOf } from './paths.ts';
import { retrying } from './retry.ts';
import { TreeCache, type CacheMode, type CachedNode } from './tree-cache.ts';
import { deadlineSignal, raceAbort, waitForChange, type WaitOptions } from './waiting.ts';

export interface GroupMembershipOptions {
  /** What this member's node holds. */
  data?: Data;
  /** How the group is watched (see TreeCache). Default 'auto'. */
  mode?: CacheMode;
}

/** The events of GroupMembership and their arguments. */
export type GroupMembershipEvents = {
  change: [members: Map<string, Buffer | null>];
  joined: [memberId: string, data: Buffer | null];
  left: [memberId: string];
  error: [err: unknown];
};

/**
 * One member of a group, and its view of the whole group.
 *
 *   const group = new GroupMembership(zk, '/groups/indexers', 'host-a', { data: 'host-a:9000' });
 *   group.on('change', (members) => rebalance([...members.keys()]));
 *   await group.join();
 *   group.members();       // Map { 'host-a' => <Buffer>, 'host-b' => <Buffer> }
 *   await group.close();   // leaves and stops watching
 *
 * Events (after the first join): 'change' (members) on every arrival, departure or data change;
 * 'joined' (memberId, data) and 'left' (memberId) for each member, this one included.
 */
export class GroupMembership extends EventEmitter<GroupMembershipEvents> {
  /** The znode that stands for this member. */
  readonly memberPath: string;
  private readonly data: Data;
  private readonly mode: CacheMode | undefined;
  private cache: TreeCache | null = null;
  private cacheStarted: Promise<void> | null = null;
  private tracker: ConnectionStateTracker | null = null;
  /** Whether this member means to be in the group (between join and leave). */
  private wanted = false;
  private rejoining: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly client: ZooKeeperClient,
    readonly path: string,
    readonly memberId: string,
    options: GroupMembershipOptions = {},
  ) {
    super();
    if (memberId === '' || memberId.includes('/')) throw new RangeError(`invalid member id ${JSON.stringify(memberId)}`);
    this.memberPath = joinPath(path, memberId);
    this.data = options.data ?? null;
    this.mode = options.mode;
  }

  /**
   * Creates this member's ephemeral node (and the group's missing parents, as containers), and
   * resolves once the member sees itself in members(). If another session still holds the same
   * id (e.g. this process's previous session, not yet expired), waits for that node to go.
   */
  async join(options: WaitOptions = {}): Promise<void> {
    if (this.closed) throw new Error(`the membership of ${this.memberPath} is closed`);
    const signal = deadlineSignal(options);
    this.wanted = true;
    await this.startWatching(signal);
    await this.createOurNode(signal);
    await this.untilCached(signal);
  }

  /** Deletes this member's node (if this session still owns it); idempotent. */
  async leave(options: WaitOptions = {}): Promise<void> {
    const signal = deadlineSignal(options);
    this.wanted = false;
    await this.rejoining?.catch(() => {});
    try {
      await retrying(() => this.deleteOurNode(signal), { signal });
    } catch (err) {
      // A session that is over took its ephemeral node with it.
      if (!(err instanceof SessionExpiredError)) throw err;
    }
  }

  /** The members as last seen: memberId → data, sorted by id (empty before join()). */
  members(): Map<string, Buffer | null> {
    const members = new Map<string, Buffer | null>();
    const cache = this.cache;
    if (cache === null) return members;
    for (const name of cache.children(this.path)) members.set(name, cache.get(joinPath(this.path, name))?.data ?? null);
    return members;
  }

  /** Leaves the group and stops watching it. */
  async close(options: WaitOptions = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.cache !== null) await this.leave(options);
    } finally {
      this.tracker?.close();
      await this.cache?.close();
    }
  }

  // ---- watching the group ----

  private startWatching(signal: AbortSignal | undefined): Promise<void> {
    if (this.cacheStarted !== null) return this.cacheStarted;
    const cache = new TreeCache(this.client, this.path, { mode: this.mode, maxDepth: 1 });
    cache.on('nodeAdded', (path: string, node: CachedNode) => this.memberChanged(path, () => this.emit('joined', nameOf(path), node.data)));
    cache.on('nodeUpdated', (path: string) => this.memberChanged(path, () => {}));
    cache.on('nodeRemoved', (path: string) => this.memberChanged(path, () => this.emit('left', nameOf(path))));
    cache.on('error', (err: unknown) => this.report(err));
    this.cache = cache;
    this.tracker = new ConnectionStateTracker(this.client);
    this.tracker.on('change', (state: ConnectionState) => {
      if (state === 'RECONNECTED') void this.checkOurNode();
    });
    this.cacheStarted = cache.start({ signal }).catch(async (err: unknown) => {
      // Another join() may try again with a fresh cache.
      this.tracker?.close();
      this.cache = null;
      this.cacheStarted = null;
      throw err;
    });
    return this.cacheStarted;
  }

  private memberChanged(path: string, announce: () => void): void {
    if (path === this.path || this.cache?.isInitialized !== true) return;
    announce();
    this.emit('change', this.members());
    // Deleted while we mean to be in the group (an operator, a session mix-up): come back.
    if (path === this.memberPath && this.cache.get(path) === undefined) this.rejoin();
  }

  private async checkOurNode(): Promise<void> {
    if (!this.wanted || this.closed) return;
    try {
      if ((await this.client.exists(this.memberPath)) === null) this.rejoin();
    } catch {
      // The cache re-syncs as well, and its nodeRemoved leads here again.
    }
  }

  private rejoin(): void {
    if (!this.wanted || this.closed || this.rejoining !== null || this.tracker?.isConnected !== true) return;
    this.rejoining = this.createOurNode(undefined)
      .catch((err: unknown) => {
        if (!(err instanceof SessionExpiredError)) this.report(err);
      })
      .finally(() => {
        this.rejoining = null;
      });
  }

  private report(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ---- our node ----

  private async createOurNode(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (!this.wanted) return;
      const created = await retrying(() => createWithParents(this.client, this.memberPath, this.data, 'ephemeral', { signal }), { signal });
      if (created !== null) return;
      const stat = await this.client.exists(this.memberPath, { signal });
      if (stat === null) continue;
      if (stat.ephemeralOwner === this.client.sessionId) {
        // Ours already: a create whose reply was lost, then retried.
        await this.client.setData(this.memberPath, this.data, { signal });
        return;
      }
      await waitForChange(this.client, this.memberPath, { signal });
    }
  }

  private async deleteOurNode(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const stat = await this.client.exists(this.memberPath, { signal });
      if (stat === null || stat.ephemeralOwner !== this.client.sessionId) return;
      try {
        await this.client.delete(this.memberPath, { version: stat.version, signal });
        return;
      } catch (err) {
        if (err instanceof NoNodeError) return;
        if (!(err instanceof BadVersionError)) throw err;
      }
    }
  }

  private untilCached(signal: AbortSignal | undefined): Promise<void> {
    const cache = this.cache;
    if (cache === null || cache.get(this.memberPath) !== undefined) return Promise.resolve();
    let onAdded!: (path: string) => void;
    const seen = new Promise<void>((resolve) => {
      onAdded = (path) => {
        if (path === this.memberPath) resolve();
      };
      cache.on('nodeAdded', onAdded);
    });
    return raceAbort(seen, signal).finally(() => cache.off('nodeAdded', onAdded));
  }
}
