/**
 * Whether a server is open to other hosts with nothing that asks its clients who they are: the
 * startup warning of a zoo.cfg that listens beyond loopback without authentication.
 */
import { isIP } from 'node:net';

/**
 * The parts of the configuration that say where clients connect and how they prove who they are.
 * Optional, so that the check keeps compiling as authentication grows: add each new way here.
 */
export interface ExposureSettings {
  clientPortEnabled?: boolean;
  clientPortAddress?: string;
  secureClientPort?: number;
  secureClientPortAddress?: string;
  /** SASL: users from a JAAS file. */
  sasl?: { jaasFile?: string };
  /** The secure port's TLS settings: clientAuth=need makes every TLS client show a trusted certificate. */
  clientTls?: { clientAuth: string };
}

/** 127.0.0.0/8, ::1 (and IPv4-mapped loopback), or the name localhost. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (a === 'localhost' || a === '::1') return true;
  const v4 = a.replace(/^::ffff:/, '');
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The ways clients authenticate that the configuration turns on (empty: none). */
export function clientAuthentication(c: ExposureSettings): string[] {
  const ways: string[] = [];
  if (c.sasl?.jaasFile !== undefined) ways.push('sasl');
  if (c.secureClientPort !== undefined && c.clientTls?.clientAuth === 'need') ways.push('x509 (ssl.clientAuth=need)');
  return ways;
}

/** The addresses clients may connect to from other hosts ('*' for every interface). */
export function exposedAddresses(c: ExposureSettings): string[] {
  const exposed: string[] = [];
  const check = (address: string | undefined): void => {
    if (address === undefined || !isLoopback(address)) exposed.push(address ?? '*');
  };
  if (c.clientPortEnabled !== false) check(c.clientPortAddress);
  if (c.secureClientPort !== undefined) check(c.secureClientPortAddress);
  return exposed;
}

/** The startup warning, or undefined when the server is on loopback only or asks clients who they are. */
export function exposureWarning(c: ExposureSettings): string | undefined {
  const exposed = exposedAddresses(c);
  if (exposed.length === 0 || clientAuthentication(c).length > 0) return undefined;
  const where = exposed.map((a) => (a === '*' ? 'every interface' : a)).join(' and ');
  return `clients can connect from other hosts (${where}) and no authentication is configured: ` +
    'anyone who can reach the port can read and change every znode whose ACL is open. ' +
    'Set clientPortAddress=127.0.0.1 to serve this host only, or configure SASL or TLS with ssl.clientAuth=need';
}
