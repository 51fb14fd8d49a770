/**
 * Typed errors, one class per KeeperException.Code, all under ZooKeeperError so that
 * `err instanceof ZooKeeperError` catches every failure the server (or the session) reports.
 */
import { Err, errName } from '../protocol/constants.ts';

export class ZooKeeperError extends Error {
  /** KeeperException.Code, e.g. -101 for NONODE. */
  readonly code: number;
  /** The name of the code, e.g. 'NONODE'. */
  readonly codeName: string;
  /** The path as the application gave it (chroot not applied). */
  readonly path: string | undefined;
  /** The path on the server: `path` under the client's chroot (the same as `path` without one). */
  readonly serverPath: string | undefined;

  /** `cause`: what led to it, e.g. the socket error (ECONNREFUSED, ENOTFOUND, …) of a failed connection. */
  constructor(code: number, path?: string, detail?: string, options: ZooKeeperErrorOptions = {}) {
    const name = errName.get(code) ?? `UNKNOWN(${code})`;
    const { serverPath = path, cause } = options;
    const where = path === undefined ? '' : serverPath === path ? ` for ${path}` : ` for ${path} (${serverPath} on the server)`;
    super(`${name}${where}${detail === undefined ? '' : `: ${detail}`}`, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.codeName = name;
    this.path = path;
    this.serverPath = serverPath;
  }
}

export interface ZooKeeperErrorOptions {
  /** The path on the server, when a chroot makes it differ from the path. */
  serverPath?: string;
  cause?: unknown;
}

export class SystemError extends ZooKeeperError {}
export class RuntimeInconsistencyError extends ZooKeeperError {}
export class DataInconsistencyError extends ZooKeeperError {}
export class ConnectionLossError extends ZooKeeperError {}
export class MarshallingError extends ZooKeeperError {}
export class UnimplementedError extends ZooKeeperError {}
export class OperationTimeoutError extends ZooKeeperError {}
export class BadArgumentsError extends ZooKeeperError {}
export class UnknownSessionError extends ZooKeeperError {}
export class NewConfigNoQuorumError extends ZooKeeperError {}
export class ReconfigInProgressError extends ZooKeeperError {}
export class APIError extends ZooKeeperError {}
export class NoNodeError extends ZooKeeperError {}
export class NoAuthError extends ZooKeeperError {}
export class BadVersionError extends ZooKeeperError {}
export class NoChildrenForEphemeralsError extends ZooKeeperError {}
export class NodeExistsError extends ZooKeeperError {}
export class NotEmptyError extends ZooKeeperError {}
export class SessionExpiredError extends ZooKeeperError {}
export class InvalidCallbackError extends ZooKeeperError {}
export class InvalidACLError extends ZooKeeperError {}
export class AuthFailedError extends ZooKeeperError {}
export class SessionMovedError extends ZooKeeperError {}
export class NotReadOnlyError extends ZooKeeperError {}
export class EphemeralOnLocalSessionError extends ZooKeeperError {}
export class NoWatcherError extends ZooKeeperError {}
export class RequestTimeoutError extends ZooKeeperError {}
export class ReconfigDisabledError extends ZooKeeperError {}
export class SessionClosedRequireSaslError extends ZooKeeperError {}
export class QuotaExceededError extends ZooKeeperError {}
export class ThrottledOpError extends ZooKeeperError {}

/** A path the client refuses to send (ZooKeeper's PathUtils rules); code BADARGUMENTS. */
export class InvalidPathError extends BadArgumentsError {}

type ErrorClass = new (code: number, path?: string, detail?: string, options?: ZooKeeperErrorOptions) => ZooKeeperError;

const byCode = new Map<number, ErrorClass>([
  [Err.SYSTEMERROR, SystemError],
  [Err.RUNTIMEINCONSISTENCY, RuntimeInconsistencyError],
  [Err.DATAINCONSISTENCY, DataInconsistencyError],
  [Err.CONNECTIONLOSS, ConnectionLossError],
  [Err.MARSHALLINGERROR, MarshallingError],
  [Err.UNIMPLEMENTED, UnimplementedError],
  [Err.OPERATIONTIMEOUT, OperationTimeoutError],
  [Err.BADARGUMENTS, BadArgumentsError],
  [Err.UNKNOWNSESSION, UnknownSessionError],
  [Err.NEWCONFIGNOQUORUM, NewConfigNoQuorumError],
  [Err.RECONFIGINPROGRESS, ReconfigInProgressError],
  [Err.APIERROR, APIError],
  [Err.NONODE, NoNodeError],
  [Err.NOAUTH, NoAuthError],
  [Err.BADVERSION, BadVersionError],
  [Err.NOCHILDRENFOREPHEMERALS, NoChildrenForEphemeralsError],
  [Err.NODEEXISTS, NodeExistsError],
  [Err.NOTEMPTY, NotEmptyError],
  [Err.SESSIONEXPIRED, SessionExpiredError],
  [Err.INVALIDCALLBACK, InvalidCallbackError],
  [Err.INVALIDACL, InvalidACLError],
  [Err.AUTHFAILED, AuthFailedError],
  [Err.SESSIONMOVED, SessionMovedError],
  [Err.NOTREADONLY, NotReadOnlyError],
  [Err.EPHEMERALONLOCALSESSION, EphemeralOnLocalSessionError],
  [Err.NOWATCHER, NoWatcherError],
  [Err.REQUESTTIMEOUT, RequestTimeoutError],
  [Err.RECONFIGDISABLED, ReconfigDisabledError],
  [Err.SESSIONCLOSEDREQUIRESASLAUTH, SessionClosedRequireSaslError],
  [Err.QUOTAEXCEEDED, QuotaExceededError],
  [Err.THROTTLEDOP, ThrottledOpError],
]);

/** The typed error for a code (ZooKeeperError itself for a code this client does not know). */
export function errorFor(code: number, path?: string, detail?: string, options?: ZooKeeperErrorOptions): ZooKeeperError {
  const Cls = byCode.get(code) ?? ZooKeeperError;
  return new Cls(code, path, detail, options);
}
