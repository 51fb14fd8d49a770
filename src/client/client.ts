/**
 * The ZooKeeper client: one session kept alive across connections, requests pipelined over the
 * current connection and answered in order, watches, and the state machine
 *
 *   (connecting) -> SyncConnected | ConnectedReadOnly <-> Disconnected -> Expired | Closed | AuthFailed
 *
 * The ConnectionLoop does the IO; everything the application sees goes through the Dispatcher, in
 * server order.
 */
import { EventEmitter } from 'node:events';
import { inspect, type InspectOptions } from 'node:util';
import { Err, EventType as EventCode, OpCode, WatcherType as WatcherTypeCode, Xid } from '../protocol/constants.ts';
import { JuteReader, type JuteWriter } from '../protocol/jute.ts';
import { pathError } from '../protocol/path.ts';
import { readStat, type ACL, type MultiOp, type Stat } from '../protocol/records.ts';
import {
  readCreate2Response, readGetACLResponse, readGetAllChildrenNumberResponse, readGetChildren2Response,
  readGetChildrenResponse, readGetDataResponse, readGetEphemeralsResponse, readMultiResponse, readWatcherEvent,
  readWhoAmIResponse, writeAddWatchRequest, writeCreateRequest, writeCreateTTLRequest,
  writeDeleteRequest, writeMultiRequest, writePathRequest, writePathTypeRequest, writePathWatchRequest,
  writeReconfigRequest, writeSetACLRequest, writeSetDataRequest,
  type ClientInfo, type MultiResult,
} from '../protocol/requests.ts';
import { realClock, realScheduler } from './clock.ts';
import { Chroot, parseConnectString, shuffled } from './connect-string.ts';
import { ConnectionLoop } from './connection-loop.ts';
import { createOp, isSequential, toBuffer, type Data } from './create-op.ts';
import { Credentials } from './credentials.ts';
import { Dispatcher } from './dispatcher.ts';
import { withJSON } from './json.ts';
import {
  AuthFailedError, BadArgumentsError, ConnectionLossError, InvalidPathError, MarshallingError, NoNodeError, NoWatcherError, NodeExistsError, NotEmptyError,
  RequestTimeoutError, SessionExpiredError, ZooKeeperError, errorFor,
} from './errors.ts';
import type { FrameSocket } from './frame-socket.ts';
import { RequestQueue, type Request } from './request-queue.ts';
import { tlsSocketFactory } from './tls-socket.ts';
import type {
  AddWatchMode, ConnectOptions, CreateOptions, EventType, Logger, RequestOptions, RetryPolicy, Scheduler, State, VersionOptions,
  WatchOptions, Watcher,
} from './types.ts';
import { watcherTypeOf, type WatcherType } from './types.ts';
import { WatchRegistry } from './watch-registry.ts';
import { Transaction, multiResults, type Op, type OpResult, type ReadOp, type ReadResult } from './transaction.ts';

export type { Data };

const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 100, maxDelayMs: 2_000 };
const CLOSE_TIMEOUT_MS = 2_000;
/**
 * How many times createParents creates the parents again (a container parent may vanish between
 * its creation and the create), and deleteRecursive lists the children again (one was added).
 */
const MAX_TREE_ATTEMPTS = 10;

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/';

const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn('[ensemble client]', msg ?? '', obj),
  error: (obj, msg) => console.error('[ensemble client]', msg ?? '', obj),
};

const eventTypeName = new Map<number, EventType>([
  [EventCode.None, 'None'],
  [EventCode.NodeCreated, 'NodeCreated'],
  [EventCode.NodeDeleted, 'NodeDeleted'],
  [EventCode.NodeDataChanged, 'NodeDataChanged'],
  [EventCode.NodeChildrenChanged, 'NodeChildrenChanged'],
  [EventCode.DataWatchRemoved, 'DataWatchRemoved'],
  [EventCode.ChildWatchRemoved, 'ChildWatchRemoved'],
  [EventCode.PersistentWatchRemoved, 'PersistentWatchRemoved'],
]);

const watcherTypeCode = {
  children: WatcherTypeCode.Children,
  data: WatcherTypeCode.Data,
  any: WatcherTypeCode.Any,
} as const;

/** The events of ZooKeeperClient and their arguments. */
export type ZooKeeperClientEvents = {
  state: [state: State];
  /** The `sasl` option's user was authenticated on a new connection (Java's SaslAuthenticated event), after its SyncConnected. */
  saslAuthenticated: [user: string];
};

export class ZooKeeperClient extends EventEmitter<ZooKeeperClientEvents> {
  private readonly chroot: Chroot;
  private readonly logger: Logger;
  private readonly scheduler: Scheduler;
  private readonly requestTimeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly watches = new WatchRegistry();
  private readonly credentials: Credentials;
  private readonly requests: RequestQueue;
  private readonly loop: ConnectionLoop;
  private readonly saslUser: string | undefined;

  private ended = false;
  private currentState: State | 'Connecting' = 'Connecting';
  private closing: Promise<void> | null = null;
  private everConnected = false;
  /** Why the last connection ended, for the error of a connect() that gives up. */
  private lastLoss: { detail: string; cause?: Error } | null = null;

  /** Resolves once the first session is established (and its initial credentials accepted). */
  readonly ready: Promise<void>;
  private settleReady!: (err?: unknown) => void;
  private readySettled = false;

  constructor(connectString: string, options: ConnectOptions = {}) {
    super();
    const parsed = parseConnectString(connectString);
    this.chroot = new Chroot(parsed.chroot);
    this.logger = options.logger ?? consoleLogger;
    this.scheduler = options.scheduler ?? realScheduler;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 0;
    this.dispatcher = new Dispatcher(this.logger);
    this.credentials = new Credentials(this.dispatcher);
    this.saslUser = options.sasl?.username;
    for (const a of options.auth ?? []) this.credentials.remember(a.scheme, toBuffer(a.auth) ?? Buffer.alloc(0));
    this.loop = new ConnectionLoop({
      hosts: options.shuffleHosts === false ? parsed.hosts : shuffled(parsed.hosts, options.random),
      requestedTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      readOnlyAllowed: options.readOnly ?? false,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      sessionId: options.sessionId ?? 0n,
      sessionPassword: options.sessionId !== undefined ? options.sessionPassword ?? Buffer.alloc(16) : Buffer.alloc(16),
      socketFactory: options.socketFactory ?? (options.tls && tlsSocketFactory(options.tls)),
      clock: options.clock ?? realClock,
      scheduler: this.scheduler,
      random: options.random,
      logger: this.logger,
      watches: this.watches,
      sasl: options.sasl,
    }, {
      established: (conn, readOnly) => this.onEstablished(conn, readOnly),
      frame: (body) => this.onFrame(body),
      lost: (hadSession, server, error) => this.onLost(hadSession, server, error),
      expired: () => this.end('Expired', new SessionExpiredError(Err.SESSIONEXPIRED, undefined, 'session expired')),
      authFailed: (reason) => this.end('AuthFailed', new AuthFailedError(Err.AUTHFAILED, undefined, `SASL authentication failed: ${reason}`)),
    });
    this.requests = new RequestQueue(this.dispatcher, (zxid) => {
      this.loop.lastZxidSeen = zxid;
    });

    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err?: unknown) => {
        this.settleReady = () => {};
        this.readySettled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
    this.ready.catch(() => {});
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const connectTimer = this.scheduler.after(connectTimeoutMs, () => {
      const last = this.lastLoss;
      const why = last === null ? '' : ` (last attempt: ${last.detail})`;
      this.settleReady(new ConnectionLossError(Err.CONNECTIONLOSS, undefined, `no session established within ${connectTimeoutMs} ms${why}`, { cause: last?.cause }));
      void this.close();
    });
    this.ready.then(() => connectTimer.cancel(), () => connectTimer.cancel());
    this.loop.start();
  }

  // ---- session facts ----

  get sessionId(): bigint {
    return this.loop.sessionId;
  }

  get sessionPassword(): Buffer {
    return this.loop.sessionPassword;
  }

  /** The timeout the server granted (0 before the first session). */
  get sessionTimeoutMs(): number {
    return this.loop.negotiatedTimeoutMs;
  }

  get state(): State | 'Connecting' {
    return this.currentState;
  }

  /** The last zxid this client has seen in a reply; sent on reconnect so it never goes back in time. */
  get lastZxidSeen(): number {
    return this.loop.lastZxidSeen;
  }

  /** What console.log and util.inspect show: never the session password. */
  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    return `ZooKeeperClient ${show({ state: this.currentState, ...this.loop.describe(), chroot: this.chroot.prefix || '/' }, options)}`;
  }

  // ---- the API ----

  /** With `createParents`, the missing ancestors are created first. */
  create(path: string, data?: Data, options: CreateOptions = {}): Promise<string> {
    return this.guard(() => this.createNode(path, data, options, (res) => res.path));
  }

  /** create2: the created path (with its sequence suffix) and the new node's Stat. */
  createWithStat(path: string, data?: Data, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    return this.guard(() => this.createNode(path, data, options, (res) => res));
  }

  /**
   * Deletes path and everything under it, children first (ZKUtil.deleteRecursive). Nodes deleted by
   * someone else meanwhile are fine, and so is a path that does not exist; a child added meanwhile
   * is deleted too. Not atomic: a failure leaves part of the tree.
   */
  async deleteRecursive(path: string, options: RequestOptions = {}): Promise<void> {
    const { signal, timeoutMs } = options;
    for (let attempt = 0; ; attempt++) {
      let children: string[];
      try {
        children = await this.getChildren(path, { signal, timeoutMs });
      } catch (err) {
        if (err instanceof NoNodeError) return;
        throw err;
      }
      const prefix = path === '/' ? '' : path;
      await Promise.all(children.map((child) => this.deleteRecursive(`${prefix}/${child}`, options)));
      try {
        await this.delete(path, { signal, timeoutMs });
        return;
      } catch (err) {
        if (err instanceof NoNodeError) return;
        if (!(err instanceof NotEmptyError) || attempt >= MAX_TREE_ATTEMPTS) throw err;
      }
    }
  }

  delete(path: string, options: VersionOptions = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.delete, (w) => writeDeleteRequest(w, { path: spath, version: options.version ?? -1 }), (err) => {
        this.check(err, path, spath);
      }, options);
    });
  }

  /** The node's Stat, or null when it does not exist; a watcher then waits for its creation. */
  exists(path: string, options: WatchOptions = {}): Promise<Stat | null> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const { watch } = options;
      return this.submit(OpCode.exists, (w) => writePathWatchRequest(w, { path: spath, watch: watch !== undefined }), (err, r) => {
        if (err === Err.NONODE) {
          if (watch) this.watches.add('exist', spath, watch);
          return null;
        }
        this.check(err, path, spath);
        if (watch) this.watches.add('data', spath, watch);
        return withJSON(readStat(r));
      }, options);
    });
  }

  getData(path: string, options: WatchOptions = {}): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const { watch } = options;
      return this.submit(OpCode.getData, (w) => writePathWatchRequest(w, { path: spath, watch: watch !== undefined }), (err, r) => {
        this.check(err, path, spath);
        if (watch) this.watches.add('data', spath, watch);
        const res = readGetDataResponse(r);
        // The reply is a view of the socket's buffer: copy, so the application may keep it.
        return { data: res.data === null ? null : Buffer.from(res.data), stat: withJSON(res.stat) };
      }, options);
    });
  }

  setData(path: string, data: Data, options: VersionOptions = {}): Promise<Stat> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const buf = toBuffer(data);
      return this.submit(OpCode.setData, (w) => writeSetDataRequest(w, { path: spath, data: buf, version: options.version ?? -1 }), (err, r) => {
        this.check(err, path, spath);
        return withJSON(readStat(r));
      }, options);
    });
  }

  getChildren(path: string, options: WatchOptions & { stat: true }): Promise<{ children: string[]; stat: Stat }>;
  getChildren(path: string, options?: WatchOptions & { stat?: false }): Promise<string[]>;
  getChildren(path: string, options: WatchOptions & { stat?: boolean }): Promise<string[] | { children: string[]; stat: Stat }>;
  getChildren(path: string, options: WatchOptions & { stat?: boolean } = {}): Promise<string[] | { children: string[]; stat: Stat }> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const { watch } = options;
      const withStat = options.stat === true;
      return this.submit(withStat ? OpCode.getChildren2 : OpCode.getChildren, (w) => writePathWatchRequest(w, { path: spath, watch: watch !== undefined }), (err, r) => {
        this.check(err, path, spath);
        if (watch) this.watches.add('child', spath, watch);
        if (!withStat) return readGetChildrenResponse(r);
        const res = readGetChildren2Response(r);
        withJSON(res.stat);
        return res;
      }, options);
    });
  }

  getACL(path: string, options: RequestOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.getACL, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, path, spath);
        const res = readGetACLResponse(r);
        withJSON(res.stat);
        return res;
      }, options);
    });
  }

  setACL(path: string, acl: ACL[], options: VersionOptions = {}): Promise<Stat> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.setACL, (w) => writeSetACLRequest(w, { path: spath, acl, version: options.version ?? -1 }), (err, r) => {
        this.check(err, path, spath);
        return withJSON(readStat(r));
      }, options);
    });
  }

  /** Waits until the server this client talks to has every write the leader had when it was asked. */
  sync(path: string, options: RequestOptions = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.sync, (w) => writePathRequest(w, spath), (err) => {
        this.check(err, path, spath);
      }, options);
    });
  }

  /** A builder for multi: chain check/create/setData/delete, then commit(). */
  transaction(): Transaction {
    return new Transaction((ops, options) => this.multi(ops, options));
  }

  /**
   * All-or-nothing. Resolves with one result per op; on failure rejects with the failing op's
   * typed error, whose `opIndex` names the op and `results` holds every op's outcome.
   */
  multi(ops: readonly Op[], options: RequestOptions = {}): Promise<OpResult[]> {
    return this.guard(() => {
      const wire: MultiOp[] = ops.map((op) => this.wireOp(op));
      return this.submit(OpCode.multi, (w) => writeMultiRequest(w, wire), (err, r) => {
        this.check(err);
        return multiResults(ops, readMultiResponse(r), (p) => this.chroot.toClient(p), (p) => this.chroot.toServer(p));
      }, options);
    });
  }

  /** Reads in one round trip; each op has its own result or error, none fails the others. */
  multiRead(ops: readonly ReadOp[], options: RequestOptions = {}): Promise<ReadResult[]> {
    return this.guard(() => {
      const wire: MultiOp[] = ops.map((op) => ({
        type: op.type === 'getData' ? OpCode.getData : OpCode.getChildren,
        req: { path: this.serverPath(op.path), watch: false },
      }));
      return this.submit(OpCode.multiRead, (w) => writeMultiRequest(w, wire), (err, r) => {
        this.check(err);
        return readMultiResponse(r).map((res: MultiResult, i): ReadResult => {
          switch (res.type) {
            case OpCode.getData: return { type: 'getData', data: res.data === null ? null : Buffer.from(res.data), stat: withJSON(res.stat) };
            case OpCode.getChildren: return { type: 'getChildren', children: res.children };
            case OpCode.error: return { type: 'error', error: errorFor(res.err, ops[i]?.path, undefined, { serverPath: wire[i]?.req.path }) };
            default: throw new MarshallingError(Err.MARSHALLINGERROR, ops[i]?.path, `unexpected result type ${res.type} in multiRead`);
          }
        });
      }, options);
    });
  }

  /** A watch that stays until removed: on the node ('persistent') or on it and every descendant. */
  addWatch(path: string, mode: AddWatchMode, listener: Watcher, options: RequestOptions = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const recursive = mode === 'persistent_recursive';
      if (!recursive && mode !== 'persistent') throw new BadArgumentsError(Err.BADARGUMENTS, path, `unknown watch mode ${String(mode)}`);
      return this.submit(OpCode.addWatch, (w) => writeAddWatchRequest(w, { path: spath, mode: recursive ? 1 : 0 }), (err) => {
        this.check(err, path, spath);
        this.watches.add(recursive ? 'persistentRecursive' : 'persistent', spath, listener);
      }, options);
    });
  }

  /**
   * Removes watches of a type from a path: only `watcher` when given, else all of them. Each removed
   * watcher receives a *WatchRemoved event. With `local`, the watches are removed on this side even
   * when the server cannot be reached.
   */
  removeWatches(path: string, watcherType: WatcherType, options: RequestOptions & { watcher?: Watcher; local?: boolean } = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const type = watcherTypeOf(watcherType);
      if (type === undefined) throw new BadArgumentsError(Err.BADARGUMENTS, path, `unknown watcher type ${String(watcherType)}`);
      const { watcher, local = false } = options;
      // As ZooKeeper's client: only watches this client holds can be removed.
      if (!this.watches.has(spath, type, watcher)) throw new NoWatcherError(Err.NOWATCHER, path);
      const removeHere = (): void => {
        for (const [w, event] of this.watches.remove(spath, type, watcher)) {
          this.dispatcher.listener(() => w({ type: event, state: 'SyncConnected', path }));
        }
      };
      if (local && this.loop.connection === null) {
        removeHere();
        return Promise.resolve();
      }
      const persistent = type === 'persistent' || type === 'persistent_recursive';
      if (watcher !== undefined && persistent && this.watches.count(spath, type) > 1) {
        // Other listeners still need the server's watch: only this one goes.
        removeHere();
        return Promise.resolve();
      }
      // A 3.8 server knows only Children, Data and Any, and keeps a persistent watch in its child and
      // data tables (a recursive one in the data table only): remove it as such, outright.
      const op = watcher !== undefined && !persistent ? OpCode.checkWatches : OpCode.removeWatches;
      const wireType = type === 'persistent' ? 'any' : type === 'persistent_recursive' ? 'data' : type;
      return this.submit(op, (w) => writePathTypeRequest(w, { path: spath, type: watcherTypeCode[wireType] }), (err) => {
        this.check(err, path, spath);
        removeHere();
      }, options, (err) => {
        if (!local || !(err instanceof ConnectionLossError)) return false;
        removeHere();
        return true;
      });
    });
  }

  /**
   * Changes the ensemble's membership (ZooKeeperAdmin#reconfigure): incrementally (joining and
   * leaving, comma-separated server specs and ids) or wholesale (newMembers). Resolves with the new
   * configuration and its Stat. A standalone server refuses with ReconfigDisabled.
   */
  reconfig(change: { joining?: string; leaving?: string; newMembers?: string; fromConfig?: number }, options: RequestOptions = {}): Promise<{ data: Buffer | null; stat: Stat }> {
    const req = { joiningServers: change.joining ?? null, leavingServers: change.leaving ?? null, newMembers: change.newMembers ?? null, curConfigId: change.fromConfig ?? -1 };
    return this.submit(OpCode.reconfig, (w) => writeReconfigRequest(w, req), (err, r) => {
      this.check(err);
      const res = readGetDataResponse(r);
      withJSON(res.stat);
      return res;
    }, options);
  }

  /** The session's ephemeral nodes whose paths start with prefix (all of them for '/'). */
  getEphemerals(prefix = '/', options: RequestOptions = {}): Promise<string[]> {
    return this.guard(() => {
      const spath = this.serverPath(prefix);
      return this.submit(OpCode.getEphemerals, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, prefix, spath);
        return readGetEphemeralsResponse(r).map((p) => this.chroot.toClient(p));
      }, options);
    });
  }

  getAllChildrenNumber(path: string, options: RequestOptions = {}): Promise<number> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.getAllChildrenNumber, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, path, spath);
        return readGetAllChildrenNumberResponse(r);
      }, options);
    });
  }

  /** The identities the server knows this session by, e.g. [{ authScheme: 'ip', user: '127.0.0.1' }]. */
  whoAmI(options: RequestOptions = {}): Promise<ClientInfo[]> {
    return this.submit(OpCode.whoAmI, () => {}, (err, r) => {
      this.check(err);
      return readWhoAmIResponse(r);
    }, options);
  }


  /**
   * Adds credentials to the session (and to every later reconnection). Resolves once the server
   * accepts them; a refusal ends the session with AuthFailed, as in ZooKeeper. `null` sends no
   * credentials at all (what zkCli's `addauth scheme` without auth sends).
   */
  addAuthInfo(scheme: string, auth: string | Buffer | null): Promise<void> {
    const ended = this.endedError();
    if (ended) return Promise.reject(ended);
    return this.credentials.add(scheme, toBuffer(auth), this.loop.connection);
  }

  /** Ends the session: pending requests are answered first, then ephemerals go and the state is Closed. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ---- requests ----

  /** Arguments are checked synchronously; a bad one becomes a rejected promise, like every other failure. */
  private guard<T>(request: () => Promise<T>): Promise<T> {
    try {
      return request();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Not async without createParents, so that the result settles in request order. */
  private createNode<T>(path: string, data: Data | undefined, options: CreateOptions, result: (res: { path: string; stat: Stat }) => T): Promise<T> {
    return options.createParents ? this.createWithParents(path, data, options, result) : this.createRequest(path, data, options, result);
  }

  private async createWithParents<T>(path: string, data: Data | undefined, options: CreateOptions, result: (res: { path: string; stat: Stat }) => T): Promise<T> {
    const parents: CreateOptions = {
      mode: options.createParents === 'container' ? 'container' : 'persistent', acl: options.acl, signal: options.signal, timeoutMs: options.timeoutMs,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.createRequest(path, data, options, result);
      } catch (err) {
        if (!(err instanceof NoNodeError) || attempt >= MAX_TREE_ATTEMPTS) throw err;
      }
      await this.createParent(path, parents);
    }
  }

  /** Creates path's parent, and its own missing parents first; one that exists is fine. */
  private async createParent(path: string, options: CreateOptions): Promise<void> {
    const parent = parentOf(path);
    if (parent === '/') return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.createRequest(parent, null, options, () => undefined);
        return;
      } catch (err) {
        if (err instanceof NodeExistsError) return;
        if (!(err instanceof NoNodeError) || attempt >= MAX_TREE_ATTEMPTS) throw err;
      }
      await this.createParent(parent, options);
    }
  }

  private createRequest<T>(path: string, data: Data | undefined, options: CreateOptions, result: (res: { path: string; stat: Stat }) => T): Promise<T> {
    const op = createOp(path, data, options);
    const req = { ...op.req, path: this.serverPath(path, isSequential(options.mode)) };
    return this.submit(op.type, (w) => (op.type === OpCode.createTTL ? writeCreateTTLRequest(w, req) : writeCreateRequest(w, req)), (err, r) => {
      this.check(err, path, req.path);
      const res = readCreate2Response(r);
      return result({ path: this.chroot.toClient(res.path), stat: withJSON(res.stat) });
    }, options);
  }

  private serverPath(path: string, sequential = false): string {
    const why = typeof path === 'string' ? pathError(path, sequential) : 'Path must be a string';
    if (why !== null) throw new InvalidPathError(Err.BADARGUMENTS, String(path), `Invalid path string "${String(path)}" caused by ${why}`);
    return this.chroot.toServer(path);
  }

  private check(err: number, path?: string, serverPath?: string): void {
    if (err !== Err.OK) throw errorFor(err, path, undefined, { serverPath });
  }

  private wireOp(op: Op): MultiOp {
    switch (op.type) {
      case 'create': {
        const c = createOp(op.path, op.data, op);
        // A plain create, as ZooKeeper's own client sends inside a multi.
        return { type: c.type === OpCode.create2 ? OpCode.create : c.type, req: { ...c.req, path: this.serverPath(op.path, isSequential(op.mode)) } };
      }
      case 'delete': return { type: OpCode.delete, req: { path: this.serverPath(op.path), version: op.version ?? -1 } };
      case 'setData': return { type: OpCode.setData, req: { path: this.serverPath(op.path), data: toBuffer(op.data), version: op.version ?? -1 } };
      case 'check': return { type: OpCode.check, req: { path: this.serverPath(op.path), version: op.version ?? -1 } };
    }
  }
  private endedError(): ZooKeeperError | null {
    if (!this.ended && this.closing === null) return null;
    if (this.currentState === 'AuthFailed') return new AuthFailedError(Err.AUTHFAILED);
    return new SessionExpiredError(Err.SESSIONEXPIRED, undefined, this.currentState === 'Expired' ? 'session expired' : 'client closed');
  }

  /**
   * Sends a request now, or when connected. `complete` runs at reply time, in reply order (so that
   * watches are registered before later events are read); `rescue` may turn a failure into success.
   */
  private submit<T>(
    op: number,
    encode: (w: JuteWriter) => void,
    complete: (err: number, body: JuteReader) => T,
    options: RequestOptions,
    rescue?: (err: unknown) => boolean,
    internal = false,
  ): Promise<T> {
    const ended = internal ? null : this.endedError();
    if (ended) return Promise.reject(ended);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const req: Request = { op, xid: 0, encode, complete, resolve: resolve as (v: unknown) => void, reject, settled: false, rescue };
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const timer = timeoutMs > 0
        ? this.scheduler.after(timeoutMs, () => this.requests.fail(req, new RequestTimeoutError(Err.REQUESTTIMEOUT, undefined, `no reply within ${timeoutMs} ms`)))
        : undefined;
      if (signal !== undefined) {
        const onAbort = (): void => this.requests.fail(req, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        req.cleanup = () => {
          timer?.cancel();
          signal.removeEventListener('abort', onAbort);
        };
      } else if (timer !== undefined) {
        req.cleanup = () => timer.cancel();
      }
      this.requests.submit(req, this.loop.connection);
    });
  }

  // ---- what the connection loop reports ----

  private onEstablished(conn: FrameSocket, readOnly: boolean): void {
    this.setState(readOnly ? 'ConnectedReadOnly' : 'SyncConnected');
    const user = this.saslUser;
    if (user !== undefined) this.dispatcher.listener(() => this.emit('saslAuthenticated', user));
    const first = !this.everConnected;
    this.everConnected = true;
    // The first session is ready once the credentials given to connect() are accepted.
    const accepted = first ? this.credentials.accepted() : null;
    this.credentials.sendAll(conn);
    this.requests.sendWaiting(conn);
    // Through the dispatcher, so that connect() resolves after the SyncConnected state is delivered.
    accepted?.then(() => this.dispatcher.result(() => this.settleReady()), (err: unknown) => this.settleReady(err));
  }

  private onFrame(body: Buffer): void {
    const r = new JuteReader(body);
    // ReplyHeader, read in place (no object per reply).
    const xid = r.int();
    const zxid = r.long();
    const err = r.int();
    switch (xid) {
      case Xid.notification: return this.onNotification(readWatcherEvent(r));
      case Xid.ping:
      case Xid.setWatches:
        return;
      case Xid.auth: {
        const refused = this.credentials.answered(err);
        if (refused) this.end('AuthFailed', refused);
        return;
      }
      default:
        this.requests.reply(xid, zxid, err, r);
    }
  }

  private onNotification(e: { type: number; state: number; path: string | null }): void {
    const type = eventTypeName.get(e.type);
    if (type === undefined || e.path === null) {
      this.logger.warn({ event: e }, 'unknown watch event dropped');
      return;
    }
    const event = { type, state: 'SyncConnected' as const, path: this.chroot.toClient(e.path) };
    for (const w of this.watches.trigger(type, e.path)) this.dispatcher.listener(() => w(event));
  }

  private onLost(hadSession: boolean, server: string, error?: Error): void {
    const detail = error === undefined ? `connection to ${server} closed`
      : `${hadSession ? 'connection to' : 'cannot connect to'} ${server}: ${error.message}`;
    this.lastLoss = { detail, cause: error };
    const reason = (): ZooKeeperError => this.endedError() ?? new ConnectionLossError(Err.CONNECTIONLOSS, undefined, detail, { cause: error });
    this.requests.failAll(reason);
    this.credentials.failInflight(reason);
    if (hadSession && !this.ended) this.setState('Disconnected');
  }

  // ---- the session's end ----

  private setState(state: State): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.dispatcher.listener(() => this.emit('state', state));
  }

  /** The session is over: everything pending fails, watchers hear it once, no reconnection follows. */
  private end(state: 'Expired' | 'Closed' | 'AuthFailed', errorOf: ZooKeeperError | (() => ZooKeeperError)): void {
    if (this.ended) return;
    this.ended = true;
    this.setState(state);
    // Made only when something is left to fail: an Error captures a stack, and a plain close has nothing.
    let made: ZooKeeperError | undefined;
    const error = (): ZooKeeperError => (made ??= typeof errorOf === 'function' ? errorOf() : errorOf);
    if (!this.readySettled) this.settleReady(error());
    this.requests.failAll(error);
    this.credentials.failWaiting(error);
    const event = { type: 'None' as const, state, path: null };
    for (const w of this.watches.clear()) this.dispatcher.listener(() => w(event));
    this.loop.stop();
  }

  private async doClose(): Promise<void> {
    if (this.ended) return;
    this.loop.finish();
    // Connected, or a connection attempt under way that may yet reopen the session: close it there,
    // so that its ephemerals go now rather than when it times out.
    if (this.loop.connecting && this.loop.sessionId !== 0n) {
      const timeoutMs = Math.min(CLOSE_TIMEOUT_MS, this.loop.negotiatedTimeoutMs || CLOSE_TIMEOUT_MS);
      await this.submit(OpCode.closeSession, () => {}, () => {}, { timeoutMs }, undefined, true).catch(() => {});
    }
    this.end('Closed', () => new SessionExpiredError(Err.SESSIONEXPIRED, undefined, 'client closed'));
    // Resolve after the Closed state has been delivered.
    await new Promise<void>((resolve) => this.dispatcher.result(resolve));
  }
}

/** Connects and resolves once a session is established. */
export async function connect(connectString: string, options: ConnectOptions = {}): Promise<ZooKeeperClient> {
  const client = new ZooKeeperClient(connectString, options);
  try {
    await client.ready;
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}
