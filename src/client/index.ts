/** The client library: `import { connect } from 'ensemble'`. */
export { connect, ZooKeeperClient, type Data, type ZooKeeperClientEvents } from './client.ts';
export * from './errors.ts';
export { Transaction, type Op, type OpResult, type OpOutcome, type MultiFailure, type ReadOp, type ReadResult } from './transaction.ts';
export { watchOnce } from './watch-once.ts';
export {
  AddWatchMode, CreateMode, Ids, Perms, WatcherType,
  type ACL, type DeprecatedWatcherType, type Clock, type ConnectOptions, type CreateOptions, type EventType, type Id, type Logger,
  type RequestOptions, type RetryPolicy, type Scheduler, type SocketFactory, type Stat, type State, type VersionOptions, type WatchOptions,
  type WatchedEvent, type Watcher,
} from './types.ts';
export { digestOf as digestId } from '../protocol/digest.ts';
export type { ClientInfo } from '../protocol/requests.ts';
export type { SaslOptions } from './sasl.ts';
