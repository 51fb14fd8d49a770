/**
 * The rows of the permission matrix: an ACL scheme with the ACL id under test, and how the calling
 * session is authenticated. A scheme is one entry with its own setup hook (`connect`), so a scheme
 * that authenticates differently (SASL, a TLS certificate) is one more entry here.
 */
import { DigestMd5ClientExchange } from '../../../src/client/sasl.ts';
import type { ConnectionOptions } from 'node:tls';
import { Err, OpCode } from '../../../src/protocol/constants.ts';
import { JuteReader, JuteWriter } from '../../../src/protocol/jute.ts';
import type { ACL } from '../../../src/protocol/records.ts';
import { RawClient } from '../../support/raw-client.ts';
import { SUPER_AUTH, type RunningServer } from '../../support/servers.ts';
import { SASL_USERS, type SaslUser } from '../../security/sasl-support.ts';
import { ALICE_DN, type CertFiles, type TestCerts } from '../../security/tls-certs.ts';
import { securePortOf, testCerts, tlsOptions } from './servers.ts';

/** base64(sha1("alice:secret")): the digest identity of alice. */
export const ALICE_DIGEST = 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=';
export const ALICE_AUTH = 'alice:secret';

/** An addauth the session sends right after connecting. */
export interface AddAuth {
  scheme: string;
  credential: string;
}

export interface Access {
  /** Short key (znode names, cell keys). */
  key: string;
  scheme: string;
  /** Who calls, in words (the table's row label). */
  caller: string;
  /** The ACL the target znode gets, granting `perms`. */
  acl(perms: number): ACL[];
  /** The calling session. */
  connect(server: RunningServer): Promise<RawClient>;
  /**
   * The session that creates the target with its ACL: by default the super user; the `auth` scheme
   * needs the identity it expands to.
   */
  connectCreator?(server: RunningServer): Promise<RawClient>;
  /**
   * A new connection to the session of `c` that has not authenticated again (as a reconnection before
   * it re-authenticates); by default on the plain client port.
   */
  reconnect?(server: RunningServer, c: RawClient): Promise<RawClient>;
  /** Needs what only the standalone servers are given (SASL's JAAS file, the secure client port). */
  standaloneOnly?: boolean;
}

/** A session on `server` that has sent these addauths, each answered OK. */
export async function sessionWith(server: RunningServer, auths: readonly AddAuth[]): Promise<RawClient> {
  const c = await RawClient.connect(server.host, server.port, { timeoutMs: 30_000 });
  for (const a of auths) {
    const r = await c.tryAuth(a.scheme, a.credential);
    if (r.err !== 0) throw new Error(`${server.name}: addauth ${a.scheme} ${a.credential} answered ${r.err}`);
  }
  return c;
}

/** A session authenticated with SASL DIGEST-MD5 as `user` of the JAAS file, as ZooKeeper's Java client does it. */
export async function saslSession(server: RunningServer, user: SaslUser): Promise<RawClient> {
  const c = await RawClient.connect(server.host, server.port, { timeoutMs: 30_000 });
  const exchange = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: user, password: SASL_USERS[user] });
  let token: Buffer | null = exchange.initial();
  while (token !== null) {
    const r = await c.tryRaw(OpCode.sasl, Buffer.from(new JuteWriter(64).buffer(token).bytes()));
    if (r.err !== Err.OK) throw new Error(`${server.name}: SASL as ${user} answered ${r.err}`);
    token = exchange.evaluate(new JuteReader(r.value!).buffer() ?? Buffer.alloc(0));
  }
  return c;
}

export const SUPER: readonly AddAuth[] = [{ scheme: 'digest', credential: SUPER_AUTH }];
const ALICE: readonly AddAuth[] = [{ scheme: 'digest', credential: ALICE_AUTH }];

const digestAlice = (perms: number): ACL[] => [{ perms, id: { scheme: 'digest', id: ALICE_DIGEST } }];
const ip = (id: string) => (perms: number): ACL[] => [{ perms, id: { scheme: 'ip', id } }];

/** An access whose caller is a session with these addauths. */
function byAddAuth(key: string, scheme: string, caller: string, acl: (perms: number) => ACL[], auths: readonly AddAuth[]): Access {
  return { key, scheme, caller, acl, connect: (s) => sessionWith(s, auths) };
}

export const ACCESSES: readonly Access[] = [
  byAddAuth('world', 'world', 'anyone (no addauth)', (perms) => [{ perms, id: { scheme: 'world', id: 'anyone' } }], []),
  byAddAuth('digest-right', 'digest', 'addauth digest with the right password', digestAlice, ALICE),
  byAddAuth('digest-wrong', 'digest', 'addauth digest with a wrong password', digestAlice, [{ scheme: 'digest', credential: 'alice:wrong' }]),
  byAddAuth('digest-none', 'digest', 'no addauth', digestAlice, []),
  byAddAuth('digest-several', 'digest', 'several addauths, the right one among them', digestAlice, [
    { scheme: 'digest', credential: 'bob:pw' }, { scheme: 'digest', credential: ALICE_AUTH }, { scheme: 'digest', credential: 'carol:pw' },
  ]),
  byAddAuth('mixed', 'world+digest', 'ACL world:anyone:r plus digest:alice with the permission, caller alice',
    (perms) => [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }, ...digestAlice(perms)], ALICE),
  {
    ...byAddAuth('auth-same', 'auth', 'the identity `auth` expanded to', (perms) => [{ perms, id: { scheme: 'auth', id: '' } }], ALICE),
    connectCreator: (s) => sessionWith(s, ALICE),
  },
  {
    ...byAddAuth('auth-other', 'auth', 'another digest identity', (perms) => [{ perms, id: { scheme: 'auth', id: '' } }], [{ scheme: 'digest', credential: 'bob:pw' }]),
    connectCreator: (s) => sessionWith(s, ALICE),
  },
  byAddAuth('ip-host', 'ip', 'ip:127.0.0.1, caller on 127.0.0.1', ip('127.0.0.1'), []),
  byAddAuth('ip-subnet', 'ip', 'ip:127.0.0.0/8, caller on 127.0.0.1', ip('127.0.0.0/8'), []),
  byAddAuth('ip-other', 'ip', 'ip:10.0.0.0/8, caller on 127.0.0.1', ip('10.0.0.0/8'), []),
  byAddAuth('super', 'super', 'the super user (superDigest), ACL digest:alice', digestAlice, SUPER),
  byAddAuth('super-wrong', 'super', 'addauth super with a wrong password, ACL digest:alice', digestAlice, [{ scheme: 'digest', credential: 'super:wrong' }]),
  saslAccess('sasl-same', 'SASL as bob', 'bob'),
  saslAccess('sasl-other', 'SASL as alice', 'alice'),
  saslAccess('sasl-super', 'SASL as super (a superUser)', 'super'),
  x509Access('x509-same', 'TLS with alice\'s certificate', (c) => c.alice),
  x509Access('x509-other', 'TLS with another certificate (CN=admin)', (c) => c.admin),
  x509Access('x509-none', 'TLS without a certificate', () => undefined),
];

/** ACL x509:<alice's subject>; the caller on the secure client port, with `who`'s certificate. */
function x509Access(key: string, caller: string, who: (c: TestCerts) => CertFiles | undefined): Access {
  const tls = (): ConnectionOptions => tlsOptions(who(testCerts()));
  return {
    key, scheme: 'x509', caller: `${caller}, ACL x509:${ALICE_DN}`, standaloneOnly: true,
    acl: (perms) => [{ perms, id: { scheme: 'x509', id: ALICE_DN } }],
    connect: (s) => RawClient.connect(s.host, securePortOf(s), { timeoutMs: 30_000, tls: tls() }),
    reconnect: (s, c) => RawClient.connect(s.host, securePortOf(s), { sessionId: c.sessionId, passwd: c.session.passwd, timeoutMs: 30_000, tls: tls() }),
  };
}

/** ACL sasl:bob; the caller authenticated with SASL DIGEST-MD5 as `user`. */
function saslAccess(key: string, caller: string, user: SaslUser): Access {
  return {
    key, scheme: 'sasl', caller: `${caller}, ACL sasl:bob`, standaloneOnly: true,
    acl: (perms) => [{ perms, id: { scheme: 'sasl', id: 'bob' } }],
    connect: (s) => saslSession(s, user),
  };
}

