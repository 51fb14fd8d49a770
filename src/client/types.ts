/**
 * The names of the client API: ZooKeeper's Java enums as string literal types, and the option shapes.
 *
 * Naming: what the caller chooses (create modes, watch modes, watcher types) is ZooKeeper's constant
 * name in lower snake_case ('ephemeral_sequential', 'persistent_recursive'), with a constant object
 * of the same name (CreateMode.EPHEMERAL_SEQUENTIAL); what the client reports (states, event types)
 * is spelt as ZooKeeper's Watcher.Event enums spell it ('SyncConnected', 'NodeDataChanged').
 */
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ACL, Id, Stat } from '../protocol/records.ts';
import type { SaslOptions } from './sasl.ts';

export type { ACL, Id, Stat };

export const CreateMode = {
  PERSISTENT: 'persistent',
  EPHEMERAL: 'ephemeral',
  PERSISTENT_SEQUENTIAL: 'persistent_sequential',
  EPHEMERAL_SEQUENTIAL: 'ephemeral_sequential',
  CONTAINER: 'container',
  PERSISTENT_WITH_TTL: 'persistent_with_ttl',
  PERSISTENT_SEQUENTIAL_WITH_TTL: 'persistent_sequential_with_ttl',
} as const;
export type CreateMode = (typeof CreateMode)[keyof typeof CreateMode];

/** 'None' carries a change of session state (a session that ended) to registered watchers. */
export type EventType =
  | 'None'
  | 'NodeCreated'
  | 'NodeDeleted'
  | 'NodeDataChanged'
  | 'NodeChildrenChanged'
  | 'DataWatchRemoved'
  | 'ChildWatchRemoved'
  | 'PersistentWatchRemoved';

export type State = 'SyncConnected' | 'Disconnected' | 'Expired' | 'AuthFailed' | 'ConnectedReadOnly' | 'Closed';

export interface WatchedEvent {
  type: EventType;
  state: State;
  /** The znode's path as the application sees it (chroot stripped); null for session events. */
  path: string | null;
}

export type Watcher = (event: WatchedEvent) => void;

/** The mode of addWatch (ZooKeeper's AddWatchMode). */
export const AddWatchMode = {
  PERSISTENT: 'persistent',
  PERSISTENT_RECURSIVE: 'persistent_recursive',
} as const;
export type AddWatchMode = (typeof AddWatchMode)[keyof typeof AddWatchMode];

/** The WatcherType of removeWatches: which of a path's watches to remove. */
export const WatcherType = {
  CHILDREN: 'children',
  DATA: 'data',
  ANY: 'any',
  PERSISTENT: 'persistent',
  PERSISTENT_RECURSIVE: 'persistent_recursive',
} as const;
/**
 * 'children' | 'data' | 'any' | 'persistent' | 'persistent_recursive'. The earlier spellings
 * ('Children', 'Data', 'Any', 'Persistent', 'PersistentRecursive') are still accepted, deprecated.
 */
export type WatcherType = (typeof WatcherType)[keyof typeof WatcherType] | DeprecatedWatcherType;
/** @deprecated The lower snake_case names of WatcherType. */
export type DeprecatedWatcherType = 'Children' | 'Data' | 'Any' | 'Persistent' | 'PersistentRecursive';

const currentWatcherType: Record<WatcherType, (typeof WatcherType)[keyof typeof WatcherType]> = {
  children: 'children', data: 'data', any: 'any', persistent: 'persistent', persistent_recursive: 'persistent_recursive',
  Children: 'children', Data: 'data', Any: 'any', Persistent: 'persistent', PersistentRecursive: 'persistent_recursive',
};

/** A WatcherType in its current spelling; undefined for a string that is none. */
export function watcherTypeOf(type: WatcherType): (typeof WatcherType)[keyof typeof WatcherType] | undefined {
  return Object.hasOwn(currentWatcherType, type) ? currentWatcherType[type] : undefined;
}

export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

/** ZooDefs.Ids */
export const Ids = {
  ANYONE_ID_UNSAFE: { scheme: 'world', id: 'anyone' } as Id,
  AUTH_IDS: { scheme: 'auth', id: '' } as Id,
  OPEN_ACL_UNSAFE: [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }] as ACL[],
  CREATOR_ALL_ACL: [{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }] as ACL[],
  READ_ACL_UNSAFE: [{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }] as ACL[],
} as const;

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface RetryPolicy {
  /** First pause after every host of the connection string has failed once. */
  baseDelayMs: number;
  /** The pause doubles after each failed round, up to this. */
  maxDelayMs: number;
}

/**
 * Opens a byte stream to host:port, in place of a TCP connection (for a simulated network, a proxy,
 * a test that drops connections). A stream whose `connecting` is true (a net.Socket still
 * connecting) counts as connected at its 'connect' event, any other at once. The connection is over
 * at its 'end', 'close' or 'error' (also the way to refuse one: the factory must not throw); the
 * client ends it with destroy().
 */
export type SocketFactory = (host: string, port: number) => Duplex;

/** The time the client reads (to judge a silent server). Default: Date.now. */
export interface Clock {
  now(): number;
}

export interface Timer {
  cancel(): void;
}

/**
 * The timers the client sets: pings, handshake, connect and request timeouts, pauses between
 * reconnections. Default: setTimeout and setInterval. The shape is the server's Scheduler, so one
 * simulated environment can drive both.
 */
export interface Scheduler {
  /** Runs `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer;
  /** Runs `fn` every `ms` milliseconds. */
  every(ms: number, fn: () => void): Timer;
}

export interface ConnectOptions {
  /** Requested session timeout; the server negotiates it into its [min, max]. Default 30000. */
  sessionTimeoutMs?: number;
  /** connect() rejects if no session is established within this. Default 15000. */
  connectTimeoutMs?: number;
  /** Accept a read-only server (one cut off from its quorum); the state is then ConnectedReadOnly. */
  readOnly?: boolean;
  /** Credentials sent on every (re)connection, e.g. [{ scheme: 'digest', auth: 'user:password' }]. */
  auth?: { scheme: string; auth: string | Buffer }[];
  /**
   * SASL authentication on every (re)connection, before anything else is sent, e.g.
   * { mechanism: 'DIGEST-MD5', username: 'bob', password: 'secret' }: the session then has the
   * identity sasl:bob. A refusal ends the session with AuthFailed. See docs/sasl.md.
   */
  sasl?: SaslOptions;
  retry?: Partial<RetryPolicy>;
  /** Reject a request whose reply has not come within this (0: no limit). Default 0. */
  requestTimeoutMs?: number;
  /** A pino-compatible logger. Default: warnings and errors to the console. */
  logger?: Logger;
  /** Attach to an existing session (as Java's ZooKeeper(connectString, timeout, watcher, id, passwd)). */
  sessionId?: bigint;
  sessionPassword?: Buffer;
  /** Shuffle the hosts of the connection string (default true). */
  shuffleHosts?: boolean;
  /** Opens the connections to the servers. Default: a TCP connection (net.connect) with Nagle off. */
  socketFactory?: SocketFactory;
  /**
   * Connect with TLS, to servers' secure client ports (secureClientPort): Node's tls.connect
   * options, e.g. { ca, cert, key } for a private CA and a client certificate (the x509 scheme).
   * The server's certificate must name the host of the connection string. Not with socketFactory.
   */
  tls?: TlsConnectionOptions;
  /** Default: the real clock (for tests that control time, with scheduler). */
  clock?: Clock;
  /** Default: the real timers. */
  scheduler?: Scheduler;
  /** Numbers in [0, 1) for shuffling hosts and jittering the backoff. Default: Math.random. */
  random?: () => number;
}

/** What every request accepts. */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the client's requestTimeoutMs for this request. */
  timeoutMs?: number;
}

export interface CreateOptions extends RequestOptions {
  mode?: CreateMode;
  acl?: ACL[];
  /** Required for the *_with_ttl modes: milliseconds without a change or child before the node goes. */
  ttl?: number;
  /**
   * Create the missing ancestors first, with the same ACL: persistent (true) or containers
   * ('container': each goes once it is empty), as Curator's creatingParentsIfNeeded and
   * creatingParentContainersIfNeeded. A path whose node exists still fails with NodeExistsError.
   */
  createParents?: boolean | 'container';
}

export interface VersionOptions extends RequestOptions {
  /** Expected version; -1 (the default) matches any. */
  version?: number;
}

export interface WatchOptions extends RequestOptions {
  watch?: Watcher;
}
