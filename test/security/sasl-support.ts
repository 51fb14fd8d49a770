/**
 * SASL DIGEST-MD5 for tests of both servers: one JAAS file (users, and zkCli's Client sections),
 * the zoo.cfg keys, and a client authenticated as a user.
 *
 *   const servers = withBothServers(SASL_SERVER_OPTIONS);
 *   const bob = await saslConnect(servers.ensemble(), 'bob');   // sasl:bob
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectOptions, type ZooKeeperClient } from '../../src/client/index.ts';
import type { RunningServer, ServerOptions } from '../support/servers.ts';

/** The users of the JAAS file's Server section and their passwords. */
export const SASL_USERS = { bob: 'bobsecret', alice: 'alice "quoted" secret', super: 'adminsecret', jörg: 'pässwörd€' } as const;
export type SaslUser = keyof typeof SASL_USERS;

const javaQuoted = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** A Client section for zkCli: username and password as a JAAS DigestLoginModule entry. */
const clientSection = (name: string, username: string, password: string): string =>
  `${name} {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n    username=${javaQuoted(username)}\n    password=${javaQuoted(password)};\n};\n`;

/**
 * The JAAS file both servers read: comments of both kinds, quoting, and sections for zkCli:
 * Client (bob), WrongPassword (bob, a wrong password), Stranger (a user not in the file).
 */
export const JAAS_TEXT = `/*
 * The server's DIGEST-MD5 users.
 */
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    ${Object.entries(SASL_USERS).map(([u, p]) => `user_${u}=${javaQuoted(p)}`).join('\n    ')};  // one entry, three users
};
${clientSection('Client', 'bob', SASL_USERS.bob)}${clientSection('WrongPassword', 'bob', 'not-it')}${clientSection('Stranger', 'mallory', 'whatever')}`;

const dir = mkdtempSync(join(tmpdir(), 'sasl-'));
export const JAAS_FILE = join(dir, 'jaas.conf');
writeFileSync(JAAS_FILE, JAAS_TEXT);

/** What ZooKeeper needs to know sasl ACLs and the super user; Ensemble reads the same keys. */
export const SASL_ZOO_CFG: readonly string[] = [
  'authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
  'superUser=super',
];

export const SASL_SERVER_OPTIONS: ServerOptions = { jaasFile: JAAS_FILE, zooCfg: SASL_ZOO_CFG };

/** A client of `server` authenticated with SASL as `user` (its password from the file unless given). */
export function saslConnect(server: RunningServer, user: string, password?: string, options: ConnectOptions = {}): Promise<ZooKeeperClient> {
  return connect(server.connectString, {
    connectTimeoutMs: 30_000,
    ...options,
    sasl: { mechanism: 'DIGEST-MD5', username: user, password: password ?? SASL_USERS[user as SaslUser] ?? '' },
  });
}
