/** zkCli's ways of printing: Stat blocks, dates as java.util.Date prints them, ACLs, and error messages. */
import { ZooKeeperError } from '../../client/errors.ts';
import type { ACL, Id, Stat } from '../../client/types.ts';
import { Err, errName } from '../../protocol/constants.ts';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** The local time zone's short name, as Date.toString() in Java shows it ("UTC", "CET", …). */
function zoneName(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** java.util.Date#toString: "Thu Nov 26 04:25:18 UTC 2026". */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zoneName(d)} ${d.getFullYear()}`;
}

const hex = (n: number | bigint): string => (typeof n === 'bigint' ? BigInt.asUintN(64, n) : BigInt(n) & 0xffffffffffffffffn).toString(16);

/** StatPrinter's block, one line per field. */
export function statLines(stat: Stat): string {
  return [
    `cZxid = 0x${hex(stat.czxid)}`,
    `ctime = ${javaDate(Number(stat.ctime))}`,
    `mZxid = 0x${hex(stat.mzxid)}`,
    `mtime = ${javaDate(Number(stat.mtime))}`,
    `pZxid = 0x${hex(stat.pzxid)}`,
    `cversion = ${stat.cversion}`,
    `dataVersion = ${stat.version}`,
    `aclVersion = ${stat.aversion}`,
    `ephemeralOwner = 0x${hex(stat.ephemeralOwner)}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ].join('\n') + '\n';
}

/** A Stat for --json: its 64-bit fields as strings (zxids and the owner in hex, times in ms). */
export function statJson(stat: Stat): Record<string, string | number> {
  return {
    czxid: `0x${hex(stat.czxid)}`,
    mzxid: `0x${hex(stat.mzxid)}`,
    pzxid: `0x${hex(stat.pzxid)}`,
    ctime: String(stat.ctime),
    mtime: String(stat.mtime),
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: `0x${hex(stat.ephemeralOwner)}`,
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
  };
}

/** ZKUtil.getPermString: the letters in the order c d r w a. */
export function permString(perms: number): string {
  return [
    [4, 'c'],
    [8, 'd'],
    [1, 'r'],
    [2, 'w'],
    [16, 'a'],
  ]
    .filter(([bit]) => (perms & (bit as number)) !== 0)
    .map(([, letter]) => letter)
    .join('');
}

/** Jute's CSV form of a string, as Id#toString writes it. */
function csvString(s: string): string {
  return "'" + s.replace(/[\0\n\r,}%]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** getAcl's lines for one entry: Id#toString (a record in jute's CSV form), then ": perms". */
export function aclEntry(acl: ACL): string {
  const id: Id = acl.id;
  return `${csvString(id.scheme)},${csvString(id.id)}\n: ${permString(acl.perms)}\n`;
}

/** KeeperException.Code's messages (getCodeMessage). */
const CODE_MESSAGES: ReadonlyMap<number, string> = new Map([
  [Err.OK, 'ok'],
  [Err.SYSTEMERROR, 'SystemError'],
  [Err.RUNTIMEINCONSISTENCY, 'RuntimeInconsistency'],
  [Err.DATAINCONSISTENCY, 'DataInconsistency'],
  [Err.CONNECTIONLOSS, 'ConnectionLoss'],
  [Err.MARSHALLINGERROR, 'MarshallingError'],
  [Err.NEWCONFIGNOQUORUM, 'NewConfigNoQuorum'],
  [Err.RECONFIGINPROGRESS, 'ReconfigInProgress'],
  [Err.UNIMPLEMENTED, 'Unimplemented'],
  [Err.OPERATIONTIMEOUT, 'OperationTimeout'],
  [Err.BADARGUMENTS, 'BadArguments'],
  [Err.APIERROR, 'APIError'],
  [Err.NONODE, 'NoNode'],
  [Err.NOAUTH, 'NoAuth'],
  [Err.BADVERSION, 'BadVersion'],
  [Err.NOCHILDRENFOREPHEMERALS, 'NoChildrenForEphemerals'],
  [Err.NODEEXISTS, 'NodeExists'],
  [Err.INVALIDACL, 'InvalidACL'],
  [Err.AUTHFAILED, 'AuthFailed'],
  [Err.NOTEMPTY, 'Directory not empty'],
  [Err.SESSIONEXPIRED, 'Session expired'],
  [Err.INVALIDCALLBACK, 'Invalid callback'],
  [Err.SESSIONMOVED, 'Session moved'],
  [Err.NOTREADONLY, 'Not a read-only call'],
  [Err.EPHEMERALONLOCALSESSION, 'Ephemeral node on local session'],
  [Err.NOWATCHER, 'No such watcher'],
  [Err.RECONFIGDISABLED, 'Reconfig is disabled'],
  [Err.SESSIONCLOSEDREQUIRESASLAUTH, 'Session closed because client failed to authenticate'],
  [Err.QUOTAEXCEEDED, 'Quota has exceeded'],
  [Err.THROTTLEDOP, 'Op throttled due to high load'],
]);

/** KeeperException#getMessage: "KeeperErrorCode = NoNode for /x". */
export function keeperMessage(code: number, path: string | undefined): string {
  const text = CODE_MESSAGES.get(code) ?? `Unknown error ${errName.get(code) ?? code}`;
  return `KeeperErrorCode = ${text}${path === undefined ? '' : ` for ${path}`}`;
}

/** What zkCli prints for a failed request (CliWrapperException's messages). */
export function failureMessage(err: unknown): string {
  if (!(err instanceof ZooKeeperError)) return err instanceof Error ? err.message : String(err);
  const path = err.path === undefined ? 'null' : err.path;
  switch (err.code) {
    case Err.NONODE: return `Node does not exist: ${path}`;
    case Err.NOCHILDRENFOREPHEMERALS: return `Ephemerals cannot have children: ${path}`;
    case Err.NODEEXISTS: return `Node already exists: ${path}`;
    case Err.NOTEMPTY: return `Node not empty: ${path}`;
    case Err.NOTREADONLY: return `Not a read-only call: ${path}`;
    case Err.INVALIDACL: return `Acl is not valid : ${path}`;
    case Err.NOAUTH: return `Insufficient permission : ${path}`;
    case Err.BADARGUMENTS: return `Arguments are not valid : ${path}`;
    case Err.BADVERSION: return `version No is not valid : ${path}`;
    case Err.RECONFIGINPROGRESS: return 'Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)';
    case Err.NEWCONFIGNOQUORUM:
      return 'No quorum of new config is connected and up-to-date with the leader of last committed config - try invoking reconfiguration after new servers are connected and synced';
    case Err.QUOTAEXCEEDED: return `Quota has exceeded : ${path}`;
    default: return keeperMessage(err.code, err.path);
  }
}
