/**
 * A replicated ensemble's configuration: the server.N lines of zoo.cfg and the member's dataDir/myid
 * file, read as Apache ZooKeeper 3.8's QuorumPeerConfig reads them, plus the limits Ensemble adds.
 */
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';

export interface EnsembleMember {
  id: number;
  /** Host name or address, IPv6 without brackets. */
  host: string;
  quorumPort: number;
  electionPort: number;
  role: 'participant';
  /**
   * From the line's `;[clientHost:]clientPort` part only; a member without one serves clients on
   * its own clientPort. clientHost is undefined when the part gives only a port (every interface).
   */
  clientHost?: string;
  clientPort?: number;
}

export interface EnsembleConfig {
  /** This member's id, from dataDir/myid. */
  myid: number;
  /** Every member, this one included, by increasing id. */
  members: EnsembleMember[];
  /** In ticks. */
  initLimit: number;
  syncLimit: number;
}

/** A server.N line as zoo.cfg has it; `where` names it in messages ("line 6: server.1=…"). */
export interface ServerLine {
  key: string;
  value: string;
  where: string;
}

/** QuorumPeerConfig's tickTime when zoo.cfg sets none (ZooKeeperServer.DEFAULT_TICK_TIME). */
export const ZOOKEEPER_DEFAULT_TICK_MS = 3000;

/** Session ids carry the id of the member that created them in their top byte. */
export const MAX_MEMBER_ID = 255;

/** Parse one `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`. */
export function parseServerLine(line: ServerLine, origin: string): EnsembleMember {
  const bad = (why: string) => new Error(`${origin}: ${line.where}: ${why}`);
  const idText = line.key.slice('server.'.length);
  if (!/^\d+$/.test(idText)) throw bad(`"${idText}" is not a member id (server.N wants a number N)`);
  const id = Number(idText);
  if (id < 1 || id > MAX_MEMBER_ID) {
    throw bad(`member ids must be 1 to ${MAX_MEMBER_ID}: Ensemble's session ids carry the member id in one byte`);
  }
  const value = line.value.trim();
  const form = 'expected host:quorumPort:electionPort[:participant][;[clientHost:]clientPort]';
  const [serverPart, clientPart, ...more] = value.split(';');
  if (more.length > 0) throw bad(`more than one ";" (${form})`);
  if (serverPart.includes('|')) throw bad('multiple addresses per member ("|") are not supported yet');

  const s = hostAndRest(serverPart);
  if (s === undefined || s.rest.length < 2 || s.rest.length > 3) throw bad(form);
  const quorumPort = port(s.rest[0]);
  const electionPort = port(s.rest[1]);
  if (quorumPort === undefined || electionPort === undefined) throw bad(`ports must be numbers from 1 to 65535 (${form})`);
  if (s.rest.length === 3) {
    const role = s.rest[2].trim().toLowerCase();
    if (role === 'observer') throw bad('observers are not supported yet: every member must be a participant');
    if (role !== 'participant') throw bad(`unrecognised member type "${s.rest[2]}" (participant or observer)`);
  }
  const member: EnsembleMember = { id, host: s.host, quorumPort, electionPort, role: 'participant' };

  // As Java's String.split, which QuorumPeer uses: a trailing ";" with nothing after it is no client part.
  if (clientPart !== undefined && clientPart !== '') {
    const c = /^[^:[\]]*$/.test(clientPart) ? { host: undefined, rest: [clientPart] } : hostAndRest(clientPart);
    const clientPort = c?.rest.length === 1 ? port(c.rest[0]) : undefined;
    if (clientPort === undefined) throw bad(`the client part "${clientPart}" must be clientPort or clientHost:clientPort, a port from 1 to 65535`);
    member.clientPort = clientPort;
    if (c?.host !== undefined && !isWildcard(c.host)) member.clientHost = c.host;
  }
  return member;
}

/** `host:a:b…` or `[ipv6]:a:b…`, as ZooKeeper's ConfigUtils.getHostAndPort splits it. */
function hostAndRest(s: string): { host: string; rest: string[] } | undefined {
  let host: string;
  let rest: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    host = s.slice(1, close);
    rest = s.slice(close + 2);
  } else {
    const colon = s.indexOf(':');
    if (colon < 0) return undefined;
    host = s.slice(0, colon);
    rest = s.slice(colon + 1);
  }
  return host === '' ? undefined : { host, rest: rest.split(':') };
}

function port(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** 0.0.0.0 or :: (in any spelling): every interface. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));
}

/** The member's line as ZooKeeper writes it in /zookeeper/config. */
/** Where a member keeps its log, hard state and snapshots: apart from a standalone server's files. */
export function memberDir(dataDir: string, dataLogDir: string | undefined): string {
  return join(dataLogDir ?? dataDir, 'member');
}

export function formatServerLine(m: EnsembleMember): string {
  const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);
  const client = m.clientPort === undefined ? '' : `;${bracket(m.clientHost ?? '0.0.0.0')}:${m.clientPort}`;
  return `server.${m.id}=${bracket(m.host)}:${m.quorumPort}:${m.electionPort}:participant${client}`;
}

/** This member's id, from dataDir/myid: a number on the file's first line, as ZooKeeper reads it. */
export function readMyid(dataDir: string): number {
  const file = join(dataDir, 'myid');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`myid file ${file} is missing: each member of an ensemble needs one, holding its id (the N of its server.N line)`);
    }
    throw new Error(`myid file ${file} cannot be read: ${(e as Error).message}`);
  }
  // ZooKeeper parses the first line as it is: no spaces around the number.
  const first = text.split(/\r?\n|\r/)[0];
  if (!/^\d{1,15}$/.test(first)) {
    throw new Error(`myid file ${file} must hold this member's id, a number, on its first line; it holds ${JSON.stringify(first)}`);
  }
  return Number(first);
}

/** What zoo.cfg says besides its server lines that an ensemble needs. */
export interface EnsembleSettings {
  origin: string;
  lines: ServerLine[];
  dataDir?: string;
  initLimit?: string;
  syncLimit?: string;
  clientPort?: number;
  clientPortAddress?: string;
  reconfigEnabled?: boolean;
  extendedTypesEnabled?: boolean;
}

export interface ResolvedEnsemble {
  ensemble: EnsembleConfig;
  /** Where this member serves clients (clientPortAddress undefined = every interface). */
  clientPort: number;
  clientPortAddress?: string;
  warnings: string[];
}

/** Check the server lines and the settings around them, and read this member's id. Throws what is refused. */
export function resolveEnsemble(s: EnsembleSettings): ResolvedEnsemble {
  const { origin } = s;
  const fail = (why: string) => new Error(`${origin}: ${why}`);
  if (s.reconfigEnabled) {
    throw fail('reconfigEnabled=true: dynamic reconfiguration of an ensemble is not supported yet; the server.N lines are the fixed membership');
  }
  const initLimit = limit('initLimit', s.initLimit);
  const syncLimit = limit('syncLimit', s.syncLimit);
  if (s.dataDir === undefined) throw fail('dataDir is not set (an ensemble member reads its id from dataDir/myid)');

  const members: EnsembleMember[] = [];
  const byId = new Map<number, ServerLine>();
  for (const line of s.lines) {
    const m = parseServerLine(line, origin);
    const earlier = byId.get(m.id);
    if (earlier) throw fail(`member ${m.id} appears twice: ${earlier.where}; ${line.where}`);
    if (s.extendedTypesEnabled && m.id === MAX_MEMBER_ID) {
      throw fail(`${line.where}: with extendedTypesEnabled=true member ids must be 1 to ${MAX_MEMBER_ID - 1} `
        + '(a session id whose top byte is 0xff marks a TTL node), as in ZooKeeper');
    }
    byId.set(m.id, line);
    members.push(m);
  }
  members.sort((a, b) => a.id - b.id);
  checkAddressesUnique(origin, members);

  const myid = readMyid(s.dataDir);
  const me = members.find((m) => m.id === myid);
  if (!me) {
    throw new Error(`myid file ${join(s.dataDir, 'myid')} says ${myid}, but ${origin} has no server.${myid} line `
      + `(its members are ${members.map((m) => m.id).join(', ')})`);
  }
  const client = clientAddress(s, me);
  return {
    ensemble: { myid, members, initLimit, syncLimit },
    ...client,
    warnings: sizeWarnings(origin, members.length),
  };

  function limit(key: string, v: string | undefined): number {
    if (v === undefined) throw fail(`${key} is not set (an ensemble needs it, in ticks)`);
    if (!/^\d+$/.test(v.trim()) || Number(v.trim()) < 1) throw fail(`${key} must be a whole number of ticks, at least 1, got "${v}"`);
    return Number(v.trim());
  }
}

/** Every quorum, election and client address must differ: members may share a host (tests on loopback). */
function checkAddressesUnique(origin: string, members: EnsembleMember[]): void {
  const seen = new Map<string, string>();
  for (const m of members) {
    const uses: Array<[string, string, number | undefined]> = [
      ['quorum port', m.host, m.quorumPort],
      ['election port', m.host, m.electionPort],
      // A wildcard client address binds the member's own host too.
      ['client port', m.clientHost ?? m.host, m.clientPort],
    ];
    for (const [what, host, p] of uses) {
      if (p === undefined) continue;
      const address = `${host.includes(':') ? `[${host}]` : host}:${p}`;
      const key = address.toLowerCase();
      const other = seen.get(key);
      if (other) throw new Error(`${origin}: ${address} is both ${other} and the ${what} of member ${m.id}`);
      seen.set(key, `the ${what} of member ${m.id}`);
    }
  }
}

/** ZooKeeper's setupClientPort: the member's own line wins, and it must agree with clientPort[Address] if both are set. */
function clientAddress(s: EnsembleSettings, me: EnsembleMember): { clientPort: number; clientPortAddress?: string } {
  const staticAddress = s.clientPortAddress === undefined || isWildcard(s.clientPortAddress) ? undefined : s.clientPortAddress;
  const show = (host: string | undefined, p: number) => `${host === undefined ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host}:${p}`;
  // As in ZooKeeper, clientPort=0 is no clientPort.
  const staticPort = s.clientPort === 0 ? undefined : s.clientPort;
  if (s.clientPortAddress !== undefined && staticPort === undefined) {
    throw new Error(`${s.origin}: clientPortAddress is set but clientPort is not`);
  }
  if (me.clientPort === undefined) {
    if (staticPort === undefined) {
      throw new Error(`${s.origin}: member ${me.id} has no client port: set clientPort, or end its server line with ;clientPort`);
    }
    return { clientPort: staticPort, clientPortAddress: staticAddress };
  }
  if (staticPort !== undefined) {
    const agree = staticAddress === undefined
      ? staticPort === me.clientPort
      : staticPort === me.clientPort && staticAddress.toLowerCase() === me.clientHost?.toLowerCase();
    if (!agree) {
      throw new Error(`${s.origin}: the client address of member ${me.id} (this member) is ${show(me.clientHost, me.clientPort)} `
        + `on its server.${me.id} line but ${show(staticAddress, staticPort)} from clientPort`
        + `${s.clientPortAddress === undefined ? '' : ' and clientPortAddress'}: they must agree, as in ZooKeeper `
        + '(or leave one of them out)');
    }
  }
  return { clientPort: me.clientPort, clientPortAddress: me.clientHost };
}

/** ZooKeeper warns about two or fewer members and about an even count: so do we, saying why. */
function sizeWarnings(origin: string, n: number): string[] {
  const tolerated = (k: number) => Math.floor((k - 1) / 2);
  if (n <= 2) {
    return [`${origin}: an ensemble of ${n} member${n === 1 ? '' : 's'} tolerates no failure (a quorum is all of them); use at least 3`];
  }
  if (n % 2 === 0) {
    return [`${origin}: an ensemble of ${n} members tolerates no more failures (${tolerated(n)}) than one of ${n - 1}, `
      + `and needs ${n / 2 + 1} for a quorum instead of ${n / 2}; consider an odd number`];
  }
  return [];
}
