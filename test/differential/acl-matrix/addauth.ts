/**
 * How a session gets its identities: addauth with every scheme and credentials well and badly
 * formed (each on a new session), then whoAmI, the ACL `auth` expands to, and whether the session
 * reads a znode whose ACL is digest:alice. An ip ACL id is checked too: whether create accepts it,
 * and whether a caller on 127.0.0.1 may then read.
 */
import type { RawClient } from '../../support/raw-client.ts';
import { SUPER_AUTH, type RunningServer } from '../../support/servers.ts';
import type { SaslUser } from '../../security/sasl-support.ts';
import { ALICE_AUTH, ALICE_DIGEST, saslSession, sessionWith } from './accesses.ts';
import { aclText, code, outcome, quoted } from './outcome.ts';
import { cellKey, cellOutcome, type MatrixOptions, type Outcomes, type Part } from './table.ts';

const AUTHS: readonly { key: string; label: string; scheme: string; credential: string; sasl?: SaslUser }[] = [
  { key: 'digest', label: 'digest alice:secret', scheme: 'digest', credential: ALICE_AUTH },
  { key: 'digest-wrong', label: 'digest alice:wrong', scheme: 'digest', credential: 'alice:wrong' },
  { key: 'digest-no-colon', label: 'digest alice (no password)', scheme: 'digest', credential: 'alice' },
  { key: 'digest-two-colons', label: 'digest alice:se:cret', scheme: 'digest', credential: 'alice:se:cret' },
  { key: 'digest-empty-user', label: 'digest :secret (empty user)', scheme: 'digest', credential: ':secret' },
  { key: 'digest-empty', label: 'digest with empty credentials', scheme: 'digest', credential: '' },
  { key: 'digest-unicode', label: 'digest with non-ASCII credentials (ålice:sécret)', scheme: 'digest', credential: 'ålice:sécret' },
  { key: 'super', label: 'digest super:test (the superDigest)', scheme: 'digest', credential: SUPER_AUTH },
  { key: 'super-wrong', label: 'digest super:wrong', scheme: 'digest', credential: 'super:wrong' },
  { key: 'ip', label: 'ip (any data: the connection\'s address is used)', scheme: 'ip', credential: '10.9.8.7' },
  { key: 'world', label: 'world anyone', scheme: 'world', credential: 'anyone' },
  { key: 'super-scheme', label: 'super (as a scheme)', scheme: 'super', credential: 'test' },
  { key: 'auth-scheme', label: 'auth (as a scheme)', scheme: 'auth', credential: '' },
  { key: 'sasl', label: 'sasl (as an auth packet)', scheme: 'sasl', credential: 'alice' },
  { key: 'x509', label: 'x509 (as an auth packet)', scheme: 'x509', credential: 'CN=alice' },
  { key: 'unknown', label: 'kerberos (unknown scheme)', scheme: 'kerberos', credential: 'alice' },
  { key: 'sasl-bob', label: 'SASL DIGEST-MD5 as bob, then addauth digest alice:secret', scheme: 'digest', credential: ALICE_AUTH, sasl: 'bob' },
  { key: 'sasl-super', label: 'SASL DIGEST-MD5 as super (a superUser), then addauth ip', scheme: 'ip', credential: '', sasl: 'super' },
];

const AUTH_COLUMNS = [
  { key: 'addauth', label: 'addauth' },
  { key: 'whoAmI', label: 'whoAmI' },
  { key: 'auth-acl', label: 'create with ACL auth, its ACL' },
  { key: 'read-alice', label: 'getData of a digest:alice znode' },
];

const IP_IDS: readonly string[] = [
  '127.0.0.1', '127.0.0.1/32', '127.0.0.0/8', '127.0.0.0/24', '127.0.0.2/31', '127.0.0.2/30', '0.0.0.0/0',
  '127.1.0.0/8', '127.1.0.0/16', '10.0.0.0/8', '127.000.000.001', '127.0.0.+1', '127.0.0.1/+32', '127.0.0.1/08',
  '127.0.0.1/-1', '127.0.0.1/33', '127.0.0', '127.0.0.256', '127.0.0.1/', '127.0.0.1/8/8', '::ffff:127.0.0.1', '',
];

const IP_COLUMNS = [
  { key: 'create', label: 'create with the ACL (by the super user)' },
  { key: 'read', label: 'getData by a caller on 127.0.0.1' },
];

async function runAuths(server: RunningServer, owner: RawClient, root: string, out: Outcomes, options: MatrixOptions): Promise<void> {
  const alice = `${root}/alice`;
  await owner.tryCreate(alice, 'alice data', { acl: [{ perms: 31, id: { scheme: 'digest', id: ALICE_DIGEST } }] });
  // The replicated run's members have no JAAS file.
  for (const a of AUTHS.filter((x) => !(options.replicated && x.sasl !== undefined))) {
    const c = a.sasl === undefined ? await sessionWith(server, []) : await saslSession(server, a.sasl);
    const set = (column: string, value: string): void => void out.set(cellKey('addauth', a.key, column), value);
    try {
      set('addauth', await cellOutcome(async () => code((await c.tryAuth(a.scheme, a.credential)).err)));
      set('whoAmI', await cellOutcome(async () => outcome(await c.tryWhoAmI(), (ids) => ids.map((i) => `${i.authScheme}:${i.user}`).join(' '))));
      set('auth-acl', await cellOutcome(async () => {
        const path = `${root}/auth-${a.key}`;
        const created = await c.tryCreate(path, '', { acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }] });
        return created.err !== 0 ? code(created.err) : outcome(await owner.tryGetACL(path), (v) => aclText(v.acl));
      }));
      set('read-alice', await cellOutcome(async () => outcome(await c.tryGetData(alice), (v) => quoted(v.data))));
    } finally {
      await c.close();
    }
  }
}

async function runIpIds(server: RunningServer, owner: RawClient, root: string, out: Outcomes): Promise<void> {
  const reader = await sessionWith(server, []);
  try {
    for (const [i, id] of IP_IDS.entries()) {
      const path = `${root}/ip-${i}`;
      const created = await owner.tryCreate(path, 'ip data', { acl: [{ perms: 31, id: { scheme: 'ip', id } }] });
      out.set(cellKey('ip', id, 'create'), code(created.err));
      out.set(cellKey('ip', id, 'read'), created.err !== 0 ? '—' : await cellOutcome(async () => outcome(await reader.tryGetData(path), (v) => quoted(v.data))));
    }
  } finally {
    await reader.close();
  }
}

async function run(server: RunningServer, owner: RawClient, root: string, options: MatrixOptions): Promise<Outcomes> {
  const out: Outcomes = new Map();
  await owner.tryCreate(root, '');
  await runAuths(server, owner, root, out, options);
  await runIpIds(server, owner, root, out);
  return out;
}

export const addAuth: Part = {
  tables: [
    {
      key: 'addauth',
      title: 'addauth: the identities a session gets',
      intro: 'Each row is a new session (authenticated with SASL first where the row says so) that sends one addauth, then whoAmI, a create with the ACL `auth` (its ACL read by the super user), and a getData of a znode whose ACL is digest:alice. A failed addauth closes the connection.',
      rowHeading: 'the session sends',
      rows: AUTHS.map((a) => ({ key: a.key, label: a.label })),
      columns: AUTH_COLUMNS,
    },
    {
      key: 'ip',
      title: 'ip ACL ids: accepted, and matched by 127.0.0.1',
      intro: 'ZooKeeper 3.8\'s IPAuthenticationProvider parses IPv4 only, each part and the mask bits with Integer.parseInt.',
      rowHeading: 'ip ACL id',
      rows: IP_IDS.map((id) => ({ key: id, label: id === '' ? '(empty)' : id })),
      columns: IP_COLUMNS,
    },
  ],
  run,
};
