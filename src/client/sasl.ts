/**
 * The client side of SASL DIGEST-MD5 as ZooKeeper's Java client (ZooKeeperSaslClient) runs it:
 * an empty first token, the digest-response to the server's challenge (realm zk-sasl-md5,
 * digest-uri zookeeper/zk-sasl-md5, qop auth), then the server's rspauth is checked.
 */
import { randomBytes } from 'node:crypto';
import {
  parseDirectives, quoted, responseValue, SaslError, tokenText, ZK_DIGEST_URI, ZK_SASL_REALM, type DigestFields,
} from '../protocol/sasl-digest-md5.ts';

export { SaslError };

/** connect()'s `sasl` option. */
export interface SaslOptions {
  mechanism: 'DIGEST-MD5';
  username: string;
  password: string;
}

export class DigestMd5ClientExchange {
  private fields: DigestFields | null = null;
  /** The server's rspauth has been checked: the server knows the password too. */
  complete = false;

  constructor(private readonly options: SaslOptions, private readonly cnonce = randomBytes(24).toString('base64')) {
    if (options.mechanism !== 'DIGEST-MD5') throw new Error(`SASL mechanism ${String(options.mechanism)} is not supported (only DIGEST-MD5)`);
  }

  /** DIGEST-MD5 has no initial response: the exchange opens with an empty token. */
  initial(): Buffer {
    return Buffer.alloc(0);
  }

  /** The next token for what the server sent; null once the exchange is complete. Throws SaslError. */
  evaluate(serverToken: Buffer): Buffer | null {
    const d = parseDirectives(tokenText(serverToken));
    if (this.fields === null) return this.respond(d);
    if (this.complete) throw new SaslError('DIGEST-MD5: authentication already completed');
    const rspauth = d.get('rspauth');
    if (rspauth === undefined || rspauth !== responseValue(this.fields, this.options.password, false)) {
      throw new SaslError('DIGEST-MD5: the server did not prove it knows the password (rspauth)');
    }
    this.complete = true;
    return null;
  }

  private respond(challenge: Map<string, string>): Buffer {
    const nonce = challenge.get('nonce');
    if (nonce === undefined) throw new SaslError('DIGEST-MD5: the server sent no challenge (is SASL configured on it?)');
    const qops = (challenge.get('qop') ?? 'auth').split(',').map((q) => q.trim());
    if (!qops.includes('auth')) throw new SaslError(`DIGEST-MD5: the server offers qop ${qops.join(',')}, not auth`);
    const realm = challenge.get('realm') ?? ZK_SASL_REALM;
    const f: DigestFields = {
      username: this.options.username, realm, nonce, cnonce: this.cnonce, nc: '00000001', qop: 'auth', digestUri: ZK_DIGEST_URI,
    };
    this.fields = f;
    const parts = [
      'charset=utf-8', quoted('username', f.username), quoted('realm', f.realm), quoted('nonce', f.nonce), `nc=${f.nc}`,
      quoted('cnonce', f.cnonce), quoted('digest-uri', f.digestUri), 'maxbuf=65536',
      `response=${responseValue(f, this.options.password, true)}`, `qop=${f.qop}`,
    ];
    return Buffer.from(parts.join(','), 'utf8');
  }
}
