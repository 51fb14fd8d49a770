/**
 * Whether a server is open to other hosts with nothing that asks its clients who they are: the
 * startup warning of a zoo.cfg that listens beyond loopback without authentication.
 */
import { isIP } from 'node:net';
import type { ServerConfig } from '../config.ts';

/** What of the configuration says where clients connect and how they prove who they are. */
export type ExposureSettings = Partial<Pick<ServerConfig,
  'clientPortEnabled' | 'clientPortAddress' | 'secureClientPort' | 'secureClientPortAddress' | 'sasl' | 'clientTls'>>;

/** 127.0.0.0/8, ::1 (and IPv4-mapped loopback), or the name localhost. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (a === 'localhost' || a === '::1') return true;
  const v4 = a.replace(/^::ffff:/, '');
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The ways clients of each port can prove who they are (empty: none). SASL serves both ports; a
 * certificate (ssl.clientAuth=need, ZooKeeper's default) only the secure one. Add each new way here.
 */
export function clientAuthentication(c: ExposureSettings): { plain: string[]; secure: string[] } {
  const sasl = c.sasl?.jaasFile !== undefined ? ['sasl'] : [];
  const x509 = c.clientTls?.clientAuth === 'need' ? ['x509 (ssl.clientAuth=need)'] : [];
  return { plain: sasl, secure: [...sasl, ...x509] };
}

/** The ports that clients on other hosts can reach with no authentication configured for them, by address ('*': every interface). */
export function unauthenticatedExposure(c: ExposureSettings): string[] {
  const ways = clientAuthentication(c);
  const exposed: string[] = [];
  const check = (address: string | undefined, authenticated: boolean): void => {
    if (!authenticated && (address === undefined || !isLoopback(address))) exposed.push(address ?? '*');
  };
  if (c.clientPortEnabled !== false) check(c.clientPortAddress, ways.plain.length > 0);
  if (c.secureClientPort !== undefined) check(c.secureClientPortAddress, ways.secure.length > 0);
  return exposed;
}

/** The startup warning, or undefined when every port open to other hosts asks its clients who they are. */
export function exposureWarning(c: ExposureSettings): string | undefined {
  const exposed = unauthenticatedExposure(c);
  if (exposed.length === 0) return undefined;
  const where = [...new Set(exposed.map((a) => (a === '*' ? 'every interface' : a)))].join(' and ');
  return `clients can connect from other hosts (${where}) and no authentication is configured: ` +
    'anyone who can reach the port can read and change every znode whose ACL is open. ' +
    'Set clientPortAddress=127.0.0.1 to serve this host only, or configure SASL (a JAAS file), or TLS with ssl.clientAuth=need and no plain clientPort';
}
