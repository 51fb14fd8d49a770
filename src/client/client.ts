/**
 * The ZooKeeper client: one session kept alive across connections, requests pipelined over the
 * current connection and answered in order, watches, and the state machine
 *
 *   (connecting) -> SyncConnected | ConnectedReadOnly <-> Disconnected -> Expired | Closed | AuthFailed
 *
 * IO happens here; everything the application sees goes through the Dispatcher, in server order.
 */
import { EventEmitter } from 'node:events';
import { CreateFlag, Err, EventType as EventCode, MAX_TTL_MS, OpCode, WatcherType as WatcherTypeCode, Xid } from '../protocol/constants.ts';
import { JuteError, JuteReader, type JuteWriter } from '../protocol/jute.ts';
import { pathError } from '../protocol/path.ts';
import {
  readConnectResponse, readStat, writeConnectRequest,
  type ACL, type MultiOp, type Stat,
} from '../protocol/records.ts';
import {
  readCreate2Response, readGetACLResponse, readGetAllChildrenNumberResponse, readGetChildren2Response,
  readGetChildrenResponse, readGetDataResponse, readGetEphemeralsResponse, readMultiResponse, readWatcherEvent,
  readWhoAmIResponse, writeAddWatchRequest, writeAuthPacket, writeCreateRequest, writeCreateTTLRequest,
  writeDeleteRequest, writeMultiRequest, writePathRequest, writePathTypeRequest, writePathWatchRequest,
  writeReconfigRequest, writeRequestHeader, writeSetACLRequest, writeSetDataRequest, writeSetWatches,
  type ClientInfo, type MultiResult,
} from '../protocol/requests.ts';
import { Chroot, parseConnectString, shuffled, type HostPort } from './connect-string.ts';
import { Dispatcher } from './dispatcher.ts';
import {
  AuthFailedError, BadArgumentsError, ConnectionLossError, InvalidPathError, MarshallingError, NoWatcherError,
  RequestTimeoutError, SessionExpiredError, ZooKeeperError, errorFor,
} from './errors.ts';
import { FrameSocket } from './frame-socket.ts';
import { Ids, type AddWatchMode, type ConnectOptions, type CreateMode, type CreateOptions, type EventType, type Logger,
  type RequestOptions, type RetryPolicy, type State, type VersionOptions, type WatchOptions, type Watcher, type WatcherType,
} from './types.ts';
import { WatchRegistry, type WatchLists } from './watch-registry.ts';
import { Transaction, multiResults, type Op, type OpResult, type ReadOp, type ReadResult } from './transaction.ts';

const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 100, maxDelayMs: 2_000 };
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** ClientCnxn splits setWatches so that no packet carries more than this many bytes of paths. */
const SET_WATCHES_MAX_BYTES = 128 * 1024;
const CLOSE_TIMEOUT_MS = 2_000;

type Phase = 'connecting' | 'connected' | 'disconnected' | 'ended';

interface Request {
  op: number;
  xid: number;
  encode: (w: JuteWriter) => void;
  /** Runs when the reply arrives, in reply order: returns the result or throws the error. */
  complete: (err: number, body: JuteReader) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  settled: boolean;
  cleanup?: () => void;
  rescue?: (err: unknown) => boolean;
}

interface AuthEntry { scheme: string; auth: Buffer | null; waiters: Waiter[] }
interface Waiter { resolve: () => void; reject: (err: unknown) => void }

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

const createFlags: Record<CreateMode, number> = {
  persistent: CreateFlag.persistent,
  ephemeral: CreateFlag.ephemeral,
  persistent_sequential: CreateFlag.persistentSequential,
  ephemeral_sequential: CreateFlag.ephemeralSequential,
  container: CreateFlag.container,
  persistent_with_ttl: CreateFlag.persistentWithTtl,
  persistent_sequential_with_ttl: CreateFlag.persistentSequentialWithTtl,
};

const watcherTypeCode: Record<WatcherType, number> = {
  Children: WatcherTypeCode.Children,
  Data: WatcherTypeCode.Data,
  Any: WatcherTypeCode.Any,
  Persistent: WatcherTypeCode.Persistent,
  PersistentRecursive: WatcherTypeCode.PersistentRecursive,
};

export type Data = Buffer | Uint8Array | string | null;

const toBuffer = (data: Data | undefined): Buffer | null =>
  data === undefined || data === null ? null : typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data);

export interface ZooKeeperClient {
  on(event: 'state', listener: (state: State) => void): this;
  once(event: 'state', listener: (state: State) => void): this;
  off(event: 'state', listener: (state: State) => void): this;
}

export class ZooKeeperClient extends EventEmitter {
  private readonly hosts: HostPort[];
  private readonly chroot: Chroot;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly requestedTimeoutMs: number;
  private readonly readOnlyAllowed: boolean;
  private readonly dispatcher: Dispatcher;
  private readonly watches = new WatchRegistry();
  private readonly auths: AuthEntry[] = [];

  private phase: Phase = 'connecting';
  private currentState: State | 'Connecting' = 'Connecting';
  private socket: FrameSocket | null = null;
  private id = 0n;
  private password: Buffer = Buffer.alloc(16);
  private negotiatedTimeoutMs = 0;
  private lastZxid = 0;
  private xid = 0;
  private readonly waiting: Request[] = [];
  private inflight: Request[] = [];
  private inflightHead = 0;
  private authInflight: Waiter[][] = [];
  private wake: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private everConnected = false;

  /** Resolves once the first session is established (and its initial credentials accepted). */
  readonly ready: Promise<void>;
  private settleReady!: (err?: unknown) => void;
  private readySettled = false;

  constructor(connectString: string, options: ConnectOptions = {}) {
    super();
    const parsed = parseConnectString(connectString);
    this.hosts = options.shuffleHosts === false ? parsed.hosts : shuffled(parsed.hosts);
    this.chroot = new Chroot(parsed.chroot);
    this.logger = options.logger ?? consoleLogger;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 0;
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.readOnlyAllowed = options.readOnly ?? false;
    this.dispatcher = new Dispatcher(this.logger);
    if (options.sessionId !== undefined) {
      this.id = options.sessionId;
      this.password = options.sessionPassword ?? Buffer.alloc(16);
    }
    for (const a of options.auth ?? []) this.auths.push({ scheme: a.scheme, auth: toBuffer(a.auth) ?? Buffer.alloc(0), waiters: [] });

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
    const timer = setTimeout(() => {
      this.settleReady(new ConnectionLossError(Err.CONNECTIONLOSS, undefined, `no session established within ${connectTimeoutMs} ms`));
      void this.close();
    }, connectTimeoutMs);
    this.ready.then(() => clearTimeout(timer), () => clearTimeout(timer));
    void this.run();
  }

  // ---- session facts ----

  get sessionId(): bigint {
    return this.id;
  }

  get sessionPassword(): Buffer {
    return this.password;
  }

  /** The timeout the server granted (0 before the first session). */
  get sessionTimeoutMs(): number {
    return this.negotiatedTimeoutMs;
  }

  get state(): State | 'Connecting' {
    return this.currentState;
  }

  /** The last zxid this client has seen in a reply; sent on reconnect so it never goes back in time. */
  get lastZxidSeen(): number {
    return this.lastZxid;
  }

  // ---- the API ----

  create(path: string, data?: Data, options: CreateOptions = {}): Promise<string> {
    return this.guard(() => this.createRequest(path, data, options, (res) => res.path));
  }

  /** create2: the created path (with its sequence suffix) and the new node's Stat. */
  createWithStat(path: string, data?: Data, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    return this.guard(() => this.createRequest(path, data, options, (res) => res));
  }

  delete(path: string, options: VersionOptions = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.delete, (w) => writeDeleteRequest(w, { path: spath, version: options.version ?? -1 }), (err) => {
        this.check(err, path);
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
        this.check(err, path);
        if (watch) this.watches.add('data', spath, watch);
        return readStat(r);
      }, options);
    });
  }

  getData(path: string, options: WatchOptions = {}): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const { watch } = options;
      return this.submit(OpCode.getData, (w) => writePathWatchRequest(w, { path: spath, watch: watch !== undefined }), (err, r) => {
        this.check(err, path);
        if (watch) this.watches.add('data', spath, watch);
        const res = readGetDataResponse(r);
        // The reply is a view of the socket's buffer: copy, so the application may keep it.
        return { data: res.data === null ? null : Buffer.from(res.data), stat: res.stat };
      }, options);
    });
  }

  setData(path: string, data: Data, options: VersionOptions = {}): Promise<Stat> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const buf = toBuffer(data);
      return this.submit(OpCode.setData, (w) => writeSetDataRequest(w, { path: spath, data: buf, version: options.version ?? -1 }), (err, r) => {
        this.check(err, path);
        return readStat(r);
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
        this.check(err, path);
        if (watch) this.watches.add('child', spath, watch);
        return withStat ? readGetChildren2Response(r) : readGetChildrenResponse(r);
      }, options);
    });
  }

  getACL(path: string, options: RequestOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.getACL, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, path);
        return readGetACLResponse(r);
      }, options);
    });
  }

  setACL(path: string, acl: ACL[], options: VersionOptions = {}): Promise<Stat> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.setACL, (w) => writeSetACLRequest(w, { path: spath, acl, version: options.version ?? -1 }), (err, r) => {
        this.check(err, path);
        return readStat(r);
      }, options);
    });
  }

  /** Waits until the server this client talks to has every write the leader had when it was asked. */
  sync(path: string, options: RequestOptions = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.sync, (w) => writePathRequest(w, spath), (err) => {
        this.check(err, path);
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
        return multiResults(ops, readMultiResponse(r), (p) => this.chroot.toClient(p));
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
            case OpCode.getData: return { type: 'getData', data: res.data === null ? null : Buffer.from(res.data), stat: res.stat };
            case OpCode.getChildren: return { type: 'getChildren', children: res.children };
            case OpCode.error: return { type: 'error', error: errorFor(res.err, ops[i]?.path) };
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
        this.check(err, path);
        this.watches.add(recursive ? 'persistentRecursive' : 'persistent', spath, listener);
      }, options);
    });
  }

  /**
   * Removes watches of a type from a path: only `watcher` when given, else all of them. Each removed
   * watcher receives a *WatchRemoved event. With `local`, the watches are removed on this side even
   * when the server cannot be reached.
   */
  removeWatches(path: string, type: WatcherType, options: RequestOptions & { watcher?: Watcher; local?: boolean } = {}): Promise<void> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      const { watcher, local = false } = options;
      // As ZooKeeper's client: only watches this client holds can be removed.
      if (!this.watches.has(spath, type, watcher)) throw new NoWatcherError(Err.NOWATCHER, path);
      const removeHere = (): void => {
        for (const [w, event] of this.watches.remove(spath, type, watcher)) {
          this.dispatcher.listener(() => w({ type: event, state: 'SyncConnected', path }));
        }
      };
      if (local && this.phase !== 'connected') {
        removeHere();
        return Promise.resolve();
      }
      const persistent = type === 'Persistent' || type === 'PersistentRecursive';
      if (watcher !== undefined && persistent && this.watches.count(spath, type) > 1) {
        // Other listeners still need the server's watch: only this one goes.
        removeHere();
        return Promise.resolve();
      }
      // A 3.8 server knows only Children, Data and Any, and keeps a persistent watch in its child and
      // data tables (a recursive one in the data table only): remove it as such, outright.
      const op = watcher !== undefined && !persistent ? OpCode.checkWatches : OpCode.removeWatches;
      const wireType = type === 'Persistent' ? 'Any' : type === 'PersistentRecursive' ? 'Data' : type;
      return this.submit(op, (w) => writePathTypeRequest(w, { path: spath, type: watcherTypeCode[wireType] }), (err) => {
        this.check(err, path);
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
      return readGetDataResponse(r);
    }, options);
  }

  /** The session's ephemeral nodes whose paths start with prefix (all of them for '/'). */
  getEphemerals(prefix = '/', options: RequestOptions = {}): Promise<string[]> {
    return this.guard(() => {
      const spath = this.serverPath(prefix);
      return this.submit(OpCode.getEphemerals, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, prefix);
        return readGetEphemeralsResponse(r).map((p) => this.chroot.toClient(p));
      }, options);
    });
  }

  getAllChildrenNumber(path: string, options: RequestOptions = {}): Promise<number> {
    return this.guard(() => {
      const spath = this.serverPath(path);
      return this.submit(OpCode.getAllChildrenNumber, (w) => writePathRequest(w, spath), (err, r) => {
        this.check(err, path);
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
    return new Promise<void>((resolve, reject) => {
      const entry: AuthEntry = { scheme, auth: toBuffer(auth), waiters: [{ resolve, reject }] };
      this.auths.push(entry);
      if (this.phase === 'connected' && this.socket) this.sendAuth(this.socket, entry);
    });
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

  private createRequest<T>(path: string, data: Data | undefined, options: CreateOptions, result: (res: { path: string; stat: Stat }) => T): Promise<T> {
    const op = createOp(path, data, options);
    const req = { ...op.req, path: this.serverPath(path, isSequential(options.mode)) };
    return this.submit(op.type, (w) => (op.type === OpCode.createTTL ? writeCreateTTLRequest(w, req) : writeCreateRequest(w, req)), (err, r) => {
      this.check(err, path);
      const res = readCreate2Response(r);
      return result({ path: this.chroot.toClient(res.path), stat: res.stat });
    }, options);
  }

  private serverPath(path: string, sequential = false): string {
    const why = typeof path === 'string' ? pathError(path, sequential) : 'Path must be a string';
    if (why !== null) throw new InvalidPathError(Err.BADARGUMENTS, String(path), `Invalid path string "${String(path)}" caused by ${why}`);
    return this.chroot.toServer(path);
  }

  private check(err: number, path?: string): void {
    if (err !== Err.OK) throw errorFor(err, path);
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
    if (this.phase !== 'ended' && this.closing === null) return null;
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
        ? setTimeout(() => this.fail(req, new RequestTimeoutError(Err.REQUESTTIMEOUT, undefined, `no reply within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
      if (signal !== undefined) {
        const onAbort = (): void => this.fail(req, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        req.cleanup = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        };
      } else if (timer !== undefined) {
        req.cleanup = () => clearTimeout(timer);
      }
      if (this.phase === 'connected' && this.socket) this.send(this.socket, req);
      else this.waiting.push(req);
    });
  }

  private send(sock: FrameSocket, req: Request): void {
    this.xid = this.xid >= 0x7fffffff ? 1 : this.xid + 1;
    req.xid = this.xid;
    const w = sock.out;
    const mark = w.beginFrame();
    writeRequestHeader(w, req.xid, req.op);
    req.encode(w);
    w.endFrame(mark);
    sock.scheduleFlush();
    this.inflight.push(req);
  }

  /** Settles a request with an error (in order); a reply that comes later for it is dropped. */
  private fail(req: Request, err: unknown): void {
    if (req.settled) return;
    req.settled = true;
    req.cleanup?.();
    const i = this.waiting.indexOf(req);
    if (i >= 0) this.waiting.splice(i, 1);
    this.dispatcher.result(() => (req.rescue?.(err) ? req.resolve(undefined) : req.reject(err)));
  }

  private onReply(xid: number, zxid: number, err: number, body: JuteReader): void {
    const req = this.inflight[this.inflightHead];
    if (req === undefined || req.xid !== xid) {
      throw new JuteError(`reply xid ${xid} out of order (expected ${req?.xid ?? 'none'})`);
    }
    this.inflight[this.inflightHead++] = undefined as unknown as Request;
    if (this.inflightHead === this.inflight.length) {
      this.inflight = [];
      this.inflightHead = 0;
    }
    if (zxid > 0) this.lastZxid = zxid;
    if (req.settled) return;
    req.settled = true;
    req.cleanup?.();
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      value = req.complete(err, body);
    } catch (e) {
      failed = true;
      error = e instanceof JuteError ? new MarshallingError(Err.MARSHALLINGERROR, undefined, e.message) : e;
    }
    if (failed) this.dispatcher.result(() => req.reject(error));
    else this.dispatcher.resolve(req.resolve, value);
  }

  // ---- connections ----

  private async run(): Promise<void> {
    let failedInARow = 0;
    let delayMs = this.retry.baseDelayMs;
    for (let i = 0; !this.ended; i++) {
      const host = this.hosts[i % this.hosts.length];
      const established = await this.attempt(host);
      if (this.ended || this.closing !== null) break;
      if (established) {
        failedInARow = 0;
        delayMs = this.retry.baseDelayMs;
        continue;
      }
      failedInARow++;
      if (failedInARow % this.hosts.length === 0) {
        // Every host failed once: pause, with jitter so that many clients do not retry in step.
        await this.sleep(delayMs / 2 + Math.random() * (delayMs / 2));
        delayMs = Math.min(delayMs * 2, this.retry.maxDelayMs);
      }
    }
  }

  private get ended(): boolean {
    return this.phase === 'ended';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = null;
    });
  }

  /** One connection, from TCP connect to close. Resolves whether a session was established on it. */
  private attempt(host: HostPort): Promise<boolean> {
    return new Promise((resolve) => {
      let established = false;
      let ticker: NodeJS.Timeout | undefined;
      const timeoutMs = this.negotiatedTimeoutMs || this.requestedTimeoutMs;
      const handshakeTimer = setTimeout(() => sock.destroy(new Error('handshake timed out')), Math.max(1, Math.floor(timeoutMs / this.hosts.length)));
      const sock: FrameSocket = new FrameSocket(host.host, host.port, MAX_FRAME_BYTES, {
        connected: () => {
          const w = sock.out;
          const mark = w.beginFrame();
          writeConnectRequest(w, {
            protocolVersion: 0,
            lastZxidSeen: this.lastZxid,
            timeOutMs: this.requestedTimeoutMs,
            sessionId: this.id,
            passwd: this.password,
            readOnly: this.readOnlyAllowed,
          });
          w.endFrame(mark);
          sock.flush();
        },
        frame: (body) => {
          if (established) {
            this.onFrame(body);
            return;
          }
          clearTimeout(handshakeTimer);
          established = this.onHandshake(sock, body);
          if (established) ticker = this.startTicker(sock);
          else sock.destroy();
        },
        closed: (error) => {
          clearTimeout(handshakeTimer);
          clearInterval(ticker);
          if (this.socket === sock) this.socket = null;
          this.onDisconnect(established, host, error);
          resolve(established);
        },
      });
      this.socket = sock;
    });
  }

  private onHandshake(sock: FrameSocket, body: Buffer): boolean {
    const res = readConnectResponse(new JuteReader(body));
    if (res.timeOutMs <= 0) {
      this.end('Expired', new SessionExpiredError(Err.SESSIONEXPIRED, undefined, 'session expired'));
      return false;
    }
    this.id = res.sessionId;
    this.password = Buffer.from(res.passwd);
    this.negotiatedTimeoutMs = res.timeOutMs;
    this.phase = 'connected';
    this.setState(res.readOnly ? 'ConnectedReadOnly' : 'SyncConnected');
    this.resetWatches(sock);
    const first = !this.everConnected;
    this.everConnected = true;
    // The first session is ready once the credentials given to connect() are accepted.
    const acks = first ? this.auths.map((entry) => new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }))) : [];
    for (const entry of this.auths) this.sendAuth(sock, entry);
    for (const req of this.waiting.splice(0)) this.send(sock, req);
    // Through the dispatcher, so that connect() resolves after the SyncConnected state is delivered.
    if (first) Promise.all(acks).then(() => this.dispatcher.result(() => this.settleReady()), (err: unknown) => this.settleReady(err));
    return true;
  }

  private sendAuth(sock: FrameSocket, entry: AuthEntry): void {
    const w = sock.out;
    const mark = w.beginFrame();
    writeRequestHeader(w, Xid.auth, OpCode.auth);
    writeAuthPacket(w, { type: 0, scheme: entry.scheme, auth: entry.auth });
    w.endFrame(mark);
    sock.scheduleFlush();
    this.authInflight.push(entry.waiters.splice(0));
  }

  /** Re-registers every watch on the new connection, with the last zxid seen, so that missed events fire. */
  private resetWatches(sock: FrameSocket): void {
    if (this.watches.size === 0) return;
    const lists = this.watches.lists();
    const order = ['dataWatches', 'existWatches', 'childWatches', 'persistentWatches', 'persistentRecursiveWatches'] as const;
    let batch = emptyLists();
    let bytes = 0;
    const flush = (): void => {
      const v2 = batch.persistentWatches.length > 0 || batch.persistentRecursiveWatches.length > 0;
      const w = sock.out;
      const mark = w.beginFrame();
      writeRequestHeader(w, Xid.setWatches, v2 ? OpCode.setWatches2 : OpCode.setWatches);
      writeSetWatches(w, { relativeZxid: this.lastZxid, ...batch }, v2);
      w.endFrame(mark);
      batch = emptyLists();
      bytes = 0;
    };
    for (const key of order) {
      for (const path of lists[key]) {
        if (bytes > 0 && bytes + path.length > SET_WATCHES_MAX_BYTES) flush();
        batch[key].push(path);
        bytes += path.length;
      }
    }
    if (bytes > 0) flush();
    sock.scheduleFlush();
  }

  /** Pings at a third of the session timeout when idle; a silent server is dropped after two thirds. */
  private startTicker(sock: FrameSocket): NodeJS.Timeout {
    const timeoutMs = this.negotiatedTimeoutMs;
    const readTimeoutMs = (timeoutMs * 2) / 3;
    const pingAfterMs = timeoutMs / 3;
    const intervalMs = Math.max(10, Math.floor(timeoutMs / 10));
    let lastTickAt = Date.now();
    const ping = (): void => {
      const w = sock.out;
      const mark = w.beginFrame();
      writeRequestHeader(w, Xid.ping, OpCode.ping);
      w.endFrame(mark);
      sock.flush();
    };
    return setInterval(() => {
      const now = Date.now();
      const stalled = now - lastTickAt > 3 * intervalMs;
      lastTickAt = now;
      if (stalled) {
        // This process was blocked (a slow listener, a long GC): the server's answers may be sitting
        // unread. Ping, and judge the silence at the next tick, once they have been read.
        ping();
        return;
      }
      if (now - sock.lastReceiveAt >= readTimeoutMs) {
        this.logger.warn({ sessionId: this.id.toString(16) }, `no answer from the server for ${now - sock.lastReceiveAt} ms: reconnecting`);
        sock.destroy(new Error('read timeout'));
        return;
      }
      if (now - sock.lastSendAt >= pingAfterMs) ping();
    }, intervalMs);
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
        const waiters = this.authInflight.shift() ?? [];
        if (err === Err.OK) {
          for (const w of waiters) this.dispatcher.result(w.resolve);
          return;
        }
        const error = new AuthFailedError(Err.AUTHFAILED, undefined, 'the server refused the credentials');
        for (const w of waiters) this.dispatcher.result(() => w.reject(error));
        this.end('AuthFailed', error);
        return;
      }
      default:
        this.onReply(xid, zxid, err, r);
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

  private onDisconnect(established: boolean, host: HostPort, error?: Error): void {
    if (error) this.logger.debug({ host: `${host.host}:${host.port}`, err: error.message }, 'connection closed');
    const reason = (): ZooKeeperError => this.endedError() ?? new ConnectionLossError(Err.CONNECTIONLOSS, undefined, error?.message ?? 'connection closed');
    const inflight = this.inflight.slice(this.inflightHead);
    this.inflight = [];
    this.inflightHead = 0;
    for (const req of inflight) this.fail(req, reason());
    for (const req of [...this.waiting]) this.fail(req, reason());
    for (const waiters of this.authInflight) for (const w of waiters) this.dispatcher.result(() => w.reject(reason()));
    this.authInflight = [];
    if (established && this.phase === 'connected') {
      this.phase = 'disconnected';
      this.setState('Disconnected');
    }
  }

  private setState(state: State): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.dispatcher.listener(() => this.emit('state', state));
  }

  /** The session is over: everything pending fails, watchers hear it once, no reconnection follows. */
  private end(state: 'Expired' | 'Closed' | 'AuthFailed', errorOf: ZooKeeperError | (() => ZooKeeperError)): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.setState(state);
    // Made only when something is left to fail: an Error captures a stack, and a plain close has nothing.
    let made: ZooKeeperError | undefined;
    const error = (): ZooKeeperError => (made ??= typeof errorOf === 'function' ? errorOf() : errorOf);
    if (!this.readySettled) this.settleReady(error());
    for (const req of this.inflight.slice(this.inflightHead)) this.fail(req, error());
    for (const req of [...this.waiting]) this.fail(req, error());
    for (const entry of this.auths) for (const w of entry.waiters.splice(0)) this.dispatcher.result(() => w.reject(error()));
    const event = { type: 'None' as const, state, path: null };
    for (const w of this.watches.clear()) this.dispatcher.listener(() => w(event));
    this.wake?.();
    this.socket?.destroy();
  }

  private async doClose(): Promise<void> {
    if (this.ended) return;
    // Connected, or a connection attempt under way that may yet reopen the session: close it there,
    // so that its ephemerals go now rather than when it times out.
    if (this.socket !== null && this.id !== 0n) {
      const timeoutMs = Math.min(CLOSE_TIMEOUT_MS, this.negotiatedTimeoutMs || CLOSE_TIMEOUT_MS);
      await this.submit(OpCode.closeSession, () => {}, () => {}, { timeoutMs }, undefined, true).catch(() => {});
    }
    this.end('Closed', () => new SessionExpiredError(Err.SESSIONEXPIRED, undefined, 'client closed'));
    // Resolve after the Closed state has been delivered.
    await new Promise<void>((resolve) => this.dispatcher.result(resolve));
  }
}

function isSequential(mode: CreateMode | undefined): boolean {
  return mode === 'persistent_sequential' || mode === 'ephemeral_sequential' || mode === 'persistent_sequential_with_ttl';
}

/** The wire op for a create: create2 for plain modes (so that the Stat comes back), createContainer, createTTL. */
function createOp(path: string, data: Data | undefined, options: { mode?: CreateMode; acl?: ACL[]; ttl?: number }): Extract<MultiOp, { req: { flags: number } }> {
  const mode = options.mode ?? 'persistent';
  const flags = createFlags[mode];
  if (flags === undefined) throw new BadArgumentsError(Err.BADARGUMENTS, path, `unknown create mode ${String(mode)}`);
  const ttlMode = mode === 'persistent_with_ttl' || mode === 'persistent_sequential_with_ttl';
  const ttl = options.ttl;
  if (ttlMode && (ttl === undefined || !Number.isInteger(ttl) || ttl <= 0 || ttl > Number(MAX_TTL_MS))) {
    throw new BadArgumentsError(Err.BADARGUMENTS, path, `a TTL mode needs a ttl in 1..${MAX_TTL_MS} ms`);
  }
  if (!ttlMode && ttl !== undefined) throw new BadArgumentsError(Err.BADARGUMENTS, path, `ttl is only for the *_with_ttl modes`);
  const acl = options.acl ?? Ids.OPEN_ACL_UNSAFE;
  if (acl.length === 0) throw errorFor(Err.INVALIDACL, path);
  const req = { path, data: toBuffer(data), acl, flags, ttl: ttlMode ? ttl! : -1 };
  const type = ttlMode ? OpCode.createTTL : mode === 'container' ? OpCode.createContainer : OpCode.create2;
  return { type, req };
}

function emptyLists(): WatchLists {
  return { dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [] };
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
