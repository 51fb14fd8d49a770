/**
 * The server side of one DIGEST-MD5 exchange, as Java's DigestMD5Server runs it for ZooKeeper:
 * any first token is answered with a challenge (realm zk-sasl-md5, qop auth implied, md5-sess);
 * the client's digest-response is checked and answered with rspauth; the exchange is then
 * complete and any further token is a failure.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  parseDirectives, quoted, responseValue, SaslError, tokenText, ZK_DIGEST_URI, ZK_SASL_REALM, type DigestFields,
} from '../../protocol/sasl-digest-md5.ts';

/** Java's DigestMD5Server draws 30 random bytes and sends them base64-encoded (40 characters). */
const NONCE_BYTES = 30;

export interface DigestMd5Step {
  /** The token to send back. */
  reply: Buffer;
  /** Set once the client is authenticated: the user it proved to be. */
  user?: string;
}

export class DigestMd5ServerExchange {
  private nonce: string | null = null;
  private done = false;

  constructor(
    private readonly passwordOf: (user: string) => string | undefined,
    private readonly randomBytes: (n: number) => Buffer,
  ) {}

  /** One token from the client; throws SaslError when authentication fails. */
  evaluate(token: Buffer): DigestMd5Step {
    if (this.done) throw new SaslError('DIGEST-MD5: authentication already completed');
    if (this.nonce === null) {
      // Java's server ignores what the first token holds (DIGEST-MD5 has no initial response).
      this.nonce = this.randomBytes(NONCE_BYTES).toString('base64');
      const challenge = `${quoted('realm', ZK_SASL_REALM)},${quoted('nonce', this.nonce)},charset=utf-8,algorithm=md5-sess`;
      return { reply: Buffer.from(challenge, 'utf8') };
    }
    this.done = true;
    const { fields, response } = this.checkResponse(parseDirectives(tokenText(token)));
    const password = this.passwordOf(fields.username);
    if (password === undefined) throw new SaslError(`DIGEST-MD5: no such user: ${fields.username}`);
    const expected = Buffer.from(responseValue(fields, password, true), 'latin1');
    const given = Buffer.from(response, 'latin1');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new SaslError('DIGEST-MD5: digest response format violation. Mismatched response.');
    }
    return { reply: Buffer.from(`rspauth=${responseValue(fields, password, false)}`, 'utf8'), user: fields.username };
  }

  /** The directives of a digest-response, checked against what this server offered. */
  private checkResponse(d: Map<string, string>): { fields: DigestFields; response: string } {
    const need = (key: string): string => {
      const v = d.get(key);
      if (v === undefined) throw new SaslError(`DIGEST-MD5: digest response format violation: missing ${key}`);
      return v;
    };
    const charset = d.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') throw new SaslError(`DIGEST-MD5: unsupported charset ${charset}`);
    const realm = d.get('realm') ?? '';
    if (realm !== ZK_SASL_REALM) throw new SaslError(`DIGEST-MD5: digest response format violation. Nonexistent realm: ${realm}`);
    const nonce = need('nonce');
    if (nonce !== this.nonce) throw new SaslError('DIGEST-MD5: digest response format violation. Mismatched nonce.');
    const nc = need('nc');
    if (!/^[0-9a-fA-F]{8}$/.test(nc) || parseInt(nc, 16) !== 1) throw new SaslError('DIGEST-MD5: nonce count does not match');
    const qop = d.get('qop') ?? 'auth';
    if (qop !== 'auth') throw new SaslError(`DIGEST-MD5: qop ${qop} was not offered (only auth)`);
    const digestUri = need('digest-uri');
    if (digestUri !== ZK_DIGEST_URI) throw new SaslError(`DIGEST-MD5: digest response format violation. Mismatched URI: ${digestUri}; expecting: ${ZK_DIGEST_URI}`);
    const fields = { username: need('username'), realm, nonce, cnonce: need('cnonce'), nc, qop, digestUri, authzid: d.get('authzid') };
    return { fields, response: need('response') };
  }
}
