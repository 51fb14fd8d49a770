/** ACL schemes (world, auth, digest, ip, super) and the permission check, as Apache ZooKeeper applies them. */
import { Err, KeeperError } from '../../protocol/constants.ts';
import type { ACL, Id } from '../../protocol/records.ts';

import { digestOf } from '../../protocol/digest.ts';
import { grownCapacity, inHashTableOrder, javaStringHash, spreadHash } from '../java-hash.ts';
import { isValidX509Id, X509_SCHEME } from './x509.ts';

export { digestOf };

/** Java's String.split(regex) drops trailing empty strings. */
function javaSplit(s: string, sep: string): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Integer.parseInt: an optional sign and decimal digits, within an int; null where Java throws. */
function javaParseInt(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= -0x80000000 && n <= 0x7fffffff ? n : null;
}

/** IPAuthenticationProvider.v4addr2Bytes: four parseInt parts in 0..255 (ZooKeeper 3.8 parses IPv4 only). */
function ipv4Bytes(addr: string): number[] | null {
  const parts = addr.split('.').map(javaParseInt);
  if (parts.length !== 4 || !parts.every((p) => p !== null && p >= 0 && p <= 255)) return null;
  return parts as number[];
}

/**
 * An ip ACL id, `address` or `address/bits`, as IPAuthenticationProvider reads it (split("/", 2):
 * everything after the first slash is the bits, so `a/8/8` is invalid); null when invalid.
 */
function parseIpAcl(id: string): { bytes: number[]; bits: number } | null {
  const slash = id.indexOf('/');
  const bytes = ipv4Bytes(slash < 0 ? id : id.slice(0, slash));
  if (!bytes) return null;
  if (slash < 0) return { bytes, bits: 32 };
  const bits = javaParseInt(id.slice(slash + 1));
  return bits !== null && bits >= 0 && bits <= 32 ? { bytes, bits } : null;
}

function ipValid(id: string): boolean {
  return parseIpAcl(id) !== null;
}

function ipMatches(clientAddr: string, aclId: string): boolean {
  const acl = parseIpAcl(aclId);
  const have = ipv4Bytes(clientAddr.replace(/^::ffff:(?=\d+\.)/, ''));
  if (!acl || !have) return false;
  let bits = acl.bits;
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((acl.bytes[i] & mask) !== (have[i] & mask)) return false;
  }
  return true;
}

/** SASLAuthenticationProvider.isValid: a Kerberos principal (KerberosName), i.e. any name unless it has an '@' out of place. */
function kerberosNameValid(id: string): boolean {
  return !id.includes('@') || /^[^/@]*(\/[^/@]*)?@[^/@]*$/.test(id);
}

const validators: Record<string, (id: string) => boolean> = {
  digest: (id) => javaSplit(id, ':').length === 2,
  ip: ipValid,
  [X509_SCHEME]: isValidX509Id,
  sasl: kerberosNameValid,
};

/** Schemes whose identities the "auth" pseudo-scheme expands to. */
const AUTHENTICATED_SCHEMES = new Set(['digest', 'sasl', X509_SCHEME]);

const NONE: ReadonlySet<string> = new Set();

/**
 * PrepRequestProcessor.fixupACL: reject empty or malformed lists, drop duplicates, expand "auth"
 * to the caller's authenticated identities (those whose provider isAuthenticated: digest, not ip;
 * super has no provider), in the order ZooKeeper iterates them, whoAmI's. `unregistered`: schemes
 * whose provider zoo.cfg did not register (authProvider.N), invalid as ZooKeeper's ProviderRegistry
 * has none for them.
 */
export function fixupACL(path: string, authInfo: readonly Id[], acls: ACL[] | null, unregistered: ReadonlySet<string> = NONE): ACL[] {
  // The usual list, one world:anyone entry, is kept as it is.
  if (acls !== null && acls.length === 1 && acls[0].id.scheme === 'world' && acls[0].id.id === 'anyone') return [acls[0]];
  const uniq: ACL[] = [];
  for (const a of acls ?? []) {
    if (!uniq.some((u) => u.perms === a.perms && u.id.scheme === a.id.scheme && u.id.id === a.id.id)) uniq.push(a);
  }
  if (uniq.length === 0) throw new KeeperError(Err.INVALIDACL, path);
  const out: ACL[] = [];
  for (const a of uniq) {
    const { scheme, id } = a.id;
    if (scheme === 'world' && id === 'anyone') out.push(a);
    else if (scheme === 'auth') {
      let any = false;
      for (const cid of inJavaSetOrder(authInfo)) {
        if (AUTHENTICATED_SCHEMES.has(cid.scheme) && !unregistered.has(cid.scheme)) {
          any = true;
          out.push({ perms: a.perms, id: cid });
        }
      }
      if (!any) throw new KeeperError(Err.INVALIDACL, path);
    } else {
      const valid = unregistered.has(scheme) ? undefined : validators[scheme];
      if (!valid || !valid(id)) throw new KeeperError(Err.INVALIDACL, path);
      out.push(a);
    }
  }
  return out;
}

/** ZooKeeperServer.checkACL: throws NoAuth unless one entry grants one of the bits in perm. */
export function checkACL(acl: readonly ACL[], perm: number, authInfo: readonly Id[], path?: string): void {
  if (!mayAccess(acl, perm, authInfo)) throw new KeeperError(Err.NOAUTH, path);
}

/** Does the ACL grant `perm` to a caller with these identities (the super user always)? */
export function mayAccess(acl: readonly ACL[], perm: number, authInfo: readonly Id[]): boolean {
  if (acl.length === 0) return true;
  for (const a of authInfo) if (a.scheme === 'super') return true;
  for (const a of acl) {
    if ((a.perms & perm) === 0) continue;
    const { scheme, id } = a.id;
    if (scheme === 'world' && id === 'anyone') return true;
    for (const auth of authInfo) {
      if (auth.scheme !== scheme) continue;
      if (scheme === 'digest' && auth.id === id) return true;
      if (scheme === 'ip' && ipMatches(auth.id, id)) return true;
      // X509AuthenticationProvider.matches; its super user has a super id as well, which matched above.
      if (scheme === X509_SCHEME && auth.id === id) return true;
      // SASLAuthenticationProvider.matches: a SASL user named "super" matches every sasl entry.
      if (scheme === 'sasl' && (auth.id === id || auth.id === 'super')) return true;
    }
  }
  return false;
}

/** getACL for a caller without ADMIN: digest hashes are masked. */
export function redactDigests(acl: readonly ACL[]): ACL[] {
  return acl.map((a) => (a.id.scheme === 'digest' ? { perms: a.perms, id: { scheme: 'digest', id: a.id.id.replace(/:.*/, ':x') } } : a));
}

/**
 * Handle an auth packet. Returns the identities to add to the connection, or null for AUTHFAILED.
 */
export function authenticate(scheme: string, auth: Buffer | null, clientAddr: string, superDigest: string | undefined): Id[] | null {
  if (scheme === 'digest') {
    if (auth === null) return null;
    const digest = digestOf(auth.toString('utf8'));
    const ids: Id[] = [];
    if (superDigest !== undefined && digest === superDigest) ids.push({ scheme: 'super', id: '' });
    ids.push({ scheme: 'digest', id: digest });
    return ids;
  }
  if (scheme === 'ip') return [{ scheme: 'ip', id: clientAddr }];
  return null;
}

/** whoAmI's user name for an identity (AuthUtil.getUser): empty for a scheme without a provider, as ZooKeeper 3.8.0 answers. */
export function userOf(id: Id, unregistered: ReadonlySet<string> = NONE): string | null {
  if (unregistered.has(id.scheme)) return '';
  if (id.scheme === 'digest') return id.id.split(':', 1)[0];
  if (id.scheme === 'ip' || id.scheme === 'super' || id.scheme === 'sasl' || id.scheme === X509_SCHEME) return id.id;
  return null;
}

/**
 * A connection's identities in the order ZooKeeper lists them (whoAmI) and expands the "auth"
 * scheme to: it keeps them in a hash set, so the order is that of the buckets (jute's Id.hashCode,
 * spread as HashMap does, masked by a table of 16 that doubles past 3/4 load), insertion order
 * within a bucket.
 */
export function inJavaSetOrder(ids: readonly Id[]): Id[] {
  const spreads = ids.map((id) => spreadHash((Math.imul((Math.imul(17, 37) + javaStringHash(id.scheme)) | 0, 37) + javaStringHash(id.id)) | 0));
  return inHashTableOrder(ids, spreads, [grownCapacity(ids.length)]);
}
