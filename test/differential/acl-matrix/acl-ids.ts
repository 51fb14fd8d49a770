/**
 * Which ACLs a create accepts (PrepRequestProcessor.fixupACL): every scheme, well and badly formed,
 * for callers with different identities, and the ACL the znode then has (read by the super user).
 */
import type { ACL } from '../../../src/protocol/records.ts';
import type { RawClient } from '../../support/raw-client.ts';
import type { RunningServer } from '../../support/servers.ts';
import { ALICE_DIGEST, sessionWith } from './accesses.ts';
import { aclText, outcome } from './outcome.ts';
import { CALLERS } from './system.ts';
import { cellKey, cellOutcome, type Outcomes, type Part } from './table.ts';

const acl = (scheme: string, id: string, perms = 31): ACL => ({ perms, id: { scheme, id } });

const CANDIDATES: readonly { key: string; label: string; acl: ACL[] | null }[] = [
  { key: 'world', label: 'world:anyone', acl: [acl('world', 'anyone')] },
  { key: 'world-other', label: 'world:someone', acl: [acl('world', 'someone')] },
  { key: 'world-none', label: 'world:anyone with no permission', acl: [acl('world', 'anyone', 0)] },
  { key: 'world-extra-bits', label: 'world:anyone with bits beyond ALL (0x7f)', acl: [acl('world', 'anyone', 0x7f)] },
  { key: 'duplicate', label: 'world:anyone twice, and a digest twice', acl: [acl('world', 'anyone', 1), acl('digest', ALICE_DIGEST), acl('world', 'anyone', 1), acl('digest', ALICE_DIGEST)] },
  { key: 'auth', label: 'auth (no id)', acl: [acl('auth', '')] },
  { key: 'auth-id', label: 'auth:bob (the id is ignored)', acl: [acl('auth', 'bob')] },
  { key: 'auth-and-world', label: 'auth and world:anyone:r', acl: [acl('world', 'anyone', 1), acl('auth', '')] },
  { key: 'digest', label: 'digest:alice:<hash>', acl: [acl('digest', ALICE_DIGEST)] },
  { key: 'digest-no-colon', label: 'digest:alice (no hash)', acl: [acl('digest', 'alice')] },
  { key: 'digest-two-colons', label: 'digest:a:b:c', acl: [acl('digest', 'a:b:c')] },
  { key: 'digest-empty-hash', label: 'digest:alice: (empty hash)', acl: [acl('digest', 'alice:')] },
  { key: 'ip', label: 'ip:127.0.0.1', acl: [acl('ip', '127.0.0.1')] },
  { key: 'ip-subnet', label: 'ip:10.0.0.0/8', acl: [acl('ip', '10.0.0.0/8')] },
  { key: 'ip-bits-too-many', label: 'ip:10.0.0.0/33', acl: [acl('ip', '10.0.0.0/33')] },
  { key: 'ip-v6', label: 'ip:::1', acl: [acl('ip', '::1')] },
  { key: 'ip-name', label: 'ip:localhost', acl: [acl('ip', 'localhost')] },
  { key: 'super', label: 'super:x (no such provider)', acl: [acl('super', 'x')] },
  { key: 'sasl', label: 'sasl:alice (SASL\'s provider registered)', acl: [acl('sasl', 'alice')] },
  { key: 'sasl-realm', label: 'sasl:alice@EXAMPLE.COM', acl: [acl('sasl', 'alice@EXAMPLE.COM')] },
  { key: 'sasl-bad', label: 'sasl:a@b@c (not a Kerberos name)', acl: [acl('sasl', 'a@b@c')] },
  { key: 'x509', label: 'x509:CN=alice (a secure client port: the x509 provider)', acl: [acl('x509', 'CN=alice')] },
  { key: 'unknown', label: 'kerberos:alice (unknown scheme)', acl: [acl('kerberos', 'alice')] },
  { key: 'empty', label: 'an empty list', acl: [] },
  { key: 'null', label: 'no list (null)', acl: null },
];

async function run(server: RunningServer, owner: RawClient, root: string): Promise<Outcomes> {
  const out: Outcomes = new Map();
  await owner.tryCreate(root, '');
  const callers = await Promise.all(CALLERS.map((k) => sessionWith(server, k.auths)));
  try {
    for (const candidate of CANDIDATES) {
      for (const [i, k] of CALLERS.entries()) {
        const path = `${root}/${candidate.key}-${k.key}`;
        out.set(cellKey('ids', candidate.key, k.key), await cellOutcome(async () => {
          const created = await callers[i].tryCreate(path, '', { acl: candidate.acl });
          if (created.err !== 0) return outcome(created);
          return outcome(await owner.tryGetACL(path), (v) => aclText(v.acl));
        }));
      }
    }
  } finally {
    await Promise.all(callers.map((c) => c.close()));
  }
  return out;
}

export const aclIds: Part = {
  tables: [{
    key: 'ids',
    title: 'ACLs a create accepts',
    intro: 'The ACL given to create2, and the ACL the znode then has (read by the super user), or the error.',
    rowHeading: 'ACL given',
    rows: CANDIDATES.map((c) => ({ key: c.key, label: c.label })),
    columns: CALLERS,
  }],
  run,
};
