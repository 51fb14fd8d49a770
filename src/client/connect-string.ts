/** "h1:2181,h2:2181/app" -> hosts and chroot, as ConnectStringParser reads it; and the chroot mapping. */
import { pathError } from '../protocol/path.ts';
import { BadArgumentsError } from './errors.ts';
import { Err } from '../protocol/constants.ts';

export interface HostPort { host: string; port: number }

export interface ConnectString {
  hosts: HostPort[];
  /** '' when there is none; otherwise a valid path such as '/app'. */
  chroot: string;
}

const DEFAULT_PORT = 2181;

export function parseConnectString(s: string): ConnectString {
  const bad = (why: string): never => {
    throw new BadArgumentsError(Err.BADARGUMENTS, undefined, `connection string "${s}": ${why}`);
  };
  let hostPart = s.trim();
  let chroot = '';
  const slash = hostPart.indexOf('/');
  if (slash >= 0) {
    chroot = hostPart.slice(slash);
    hostPart = hostPart.slice(0, slash);
    if (chroot === '/') chroot = '';
    else {
      const why = pathError(chroot);
      if (why !== null) bad(`chroot ${why}`);
    }
  }
  const hosts: HostPort[] = [];
  for (const item of hostPart.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    let host = entry;
    let port = DEFAULT_PORT;
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry); // [ipv6]:port
    if (bracket) {
      host = bracket[1];
      if (bracket[2] !== undefined) port = Number(bracket[2]);
    } else {
      const colon = entry.lastIndexOf(':');
      if (colon >= 0 && entry.indexOf(':') === colon) {
        host = entry.slice(0, colon);
        port = Number(entry.slice(colon + 1));
      }
    }
    if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) bad(`bad host:port "${entry}"`);
    hosts.push({ host, port });
  }
  if (hosts.length === 0) bad('no hosts');
  return { hosts, chroot };
}

/** Fisher-Yates, so that clients spread over the ensemble. */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Maps paths between the application's view and the server's, for a chroot ('' for none). */
export class Chroot {
  constructor(readonly prefix: string) {}

  toServer(path: string): string {
    if (this.prefix === '') return path;
    return path === '/' ? this.prefix : this.prefix + path;
  }

  /** A server path outside the chroot (it cannot happen for our own requests) is returned unchanged. */
  toClient(path: string): string {
    if (this.prefix === '') return path;
    if (path === this.prefix) return '/';
    if (path.startsWith(this.prefix) && path.charCodeAt(this.prefix.length) === 0x2f) return path.slice(this.prefix.length);
    return path;
  }
}
