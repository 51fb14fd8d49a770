/**
 * DIGEST-MD5 (RFC 2831) as ZooKeeper uses it for SASL: the directive lists the two sides exchange
 * and the response values they prove the password with. Pure; the client and server roles build
 * on it (src/client/sasl.ts, src/server/auth/sasl-digest-md5.ts).
 */
import { createHash } from 'node:crypto';

/** ZooKeeper fixes the SASL service and server name for DIGEST-MD5 (SecurityUtils, ZooKeeperSaslServer). */
export const ZK_SASL_PROTOCOL = 'zookeeper';
export const ZK_SASL_REALM = 'zk-sasl-md5';
export const ZK_DIGEST_URI = `${ZK_SASL_PROTOCOL}/${ZK_SASL_REALM}`;

/** A token that does not follow the mechanism, or a proof that does not hold. */
export class SaslError extends Error {}

/** What a client's digest-response states, besides the proof itself. */
export interface DigestFields {
  username: string;
  realm: string;
  nonce: string;
  cnonce: string;
  /** The nonce count, as sent: eight hex digits. */
  nc: string;
  qop: string;
  digestUri: string;
  authzid?: string;
}

/**
 * A directive list, `key=token` or `key="quoted"`, comma separated (RFC 2831 section 7.1). Keys
 * are case-insensitive (returned in lower case); a key given twice is an error.
 */
export function parseDirectives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /[ \t\r\n]/.test(text[i])) i++;
  };
  while (true) {
    skipSpace();
    while (text[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= text.length) return out;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_-]/.test(text[i])) i++;
    const key = text.slice(keyStart, i).toLowerCase();
    skipSpace();
    if (key === '' || text[i] !== '=') throw new SaslError(`DIGEST-MD5: malformed directive at offset ${keyStart}`);
    i++;
    skipSpace();
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new SaslError(`DIGEST-MD5: unterminated quoted value of ${key}`);
        const c = text[i++];
        if (c === '"') break;
        if (c === '\\') {
          if (i >= text.length) throw new SaslError(`DIGEST-MD5: unterminated quoted value of ${key}`);
          value += text[i++];
        } else {
          value += c;
        }
      }
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && !/[ \t\r\n]/.test(text[i])) i++;
      value = text.slice(start, i);
    }
    if (out.has(key)) throw new SaslError(`DIGEST-MD5: directive ${key} given twice`);
    out.set(key, value);
    skipSpace();
    if (i < text.length && text[i] !== ',') throw new SaslError(`DIGEST-MD5: expected a comma after ${key}`);
  }
}

/** One directive, its value quoted (with `"` and `\` escaped). */
export function quoted(key: string, value: string): string {
  return `${key}="${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** RFC 2831 2.1.2.1: with charset=utf-8, names and passwords are hashed as ISO 8859-1 when they fit in it. */
function hashBytes(s: string): Buffer {
  const fits = [...s].every((c) => c.codePointAt(0)! <= 0xff);
  return Buffer.from(s, fits ? 'latin1' : 'utf8');
}

const md5 = (...parts: (string | Buffer)[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * The response value (RFC 2831 2.1.2.1) with qop=auth. `client`: the digest-response's
 * `response`; otherwise the server's `rspauth`, which proves to the client that the server
 * knows the password too.
 */
export function responseValue(f: DigestFields, password: string, client: boolean): string {
  const userHash = md5(hashBytes(f.username), ':', hashBytes(f.realm), ':', hashBytes(password));
  const a1 = Buffer.concat([userHash, Buffer.from(`:${f.nonce}:${f.cnonce}${f.authzid === undefined ? '' : `:${f.authzid}`}`, 'utf8')]);
  const a2 = `${client ? 'AUTHENTICATE' : ''}:${f.digestUri}`;
  const ha1 = md5(a1).toString('hex');
  const ha2 = md5(a2).toString('hex');
  return md5(`${ha1}:${f.nonce}:${f.nc}:${f.cnonce}:${f.qop}:${ha2}`).toString('hex');
}

/** Decodes a token as UTF-8, refusing bytes that are not. */
export function tokenText(token: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(token);
  } catch {
    throw new SaslError('DIGEST-MD5: the token is not UTF-8 text');
  }
}
