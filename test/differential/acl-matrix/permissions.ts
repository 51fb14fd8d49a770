/**
 * The permission matrix: for every operation (a table each), every access (scheme and caller, the
 * rows) × every permission the target's ACL grants (the columns). Every cell has its own target
 * znode `<root>/<access>/<permission>/<operation>`.
 */
import { Perms } from '../../../src/protocol/constants.ts';
import { RawClient } from '../../support/raw-client.ts';
import type { RunningServer } from '../../support/servers.ts';
import { ACCESSES } from './accesses.ts';
import { OPERATIONS, type Cell, type Operation } from './operations.ts';
import { cellKey, cellOutcome, inPool, type MatrixOptions, type Outcomes, type Part, type Table } from './table.ts';

export const PERMISSION_COLUMNS = [
  { key: 'none', label: 'none', perms: 0 },
  { key: 'read', label: 'READ', perms: Perms.READ },
  { key: 'write', label: 'WRITE', perms: Perms.WRITE },
  { key: 'create', label: 'CREATE', perms: Perms.CREATE },
  { key: 'delete', label: 'DELETE', perms: Perms.DELETE },
  { key: 'admin', label: 'ADMIN', perms: Perms.ADMIN },
  { key: 'all', label: 'ALL', perms: Perms.ALL },
] as const;

/** Cells of one caller in flight at once: enough to keep both servers busy, few enough for any limit. */
const CONCURRENT_CELLS = 16;

const ROWS = ACCESSES.map((a) => ({ key: a.key, label: `${a.scheme}: ${a.caller}` }));

function tableOf(op: Operation): Table {
  return {
    key: `op:${op.key}`,
    title: op.label,
    intro: `Checks: ${op.checks}.`,
    rowHeading: 'ACL scheme: caller',
    rows: ROWS,
    columns: PERMISSION_COLUMNS,
  };
}

async function createAll(owner: RawClient, paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    const r = await owner.tryCreate(p, '');
    if (r.err !== 0) throw new Error(`creating ${p}: error ${r.err}`);
  }
}

async function run(server: RunningServer, owner: RawClient, root: string, options: MatrixOptions): Promise<Outcomes> {
  const out: Outcomes = new Map();
  await createAll(owner, [root]);
  for (const access of ACCESSES.filter((a) => !(options.replicated && a.standaloneOnly))) {
    const base = `${root}/${access.key}`;
    await createAll(owner, [base, ...PERMISSION_COLUMNS.map((p) => `${base}/${p.key}`)]);
    const caller = await access.connect(server);
    const creator = access.connectCreator ? await access.connectCreator(server) : owner;
    try {
      const cells = PERMISSION_COLUMNS.flatMap((perm) => OPERATIONS.map((op) => ({ perm, op })));
      await inPool(cells, CONCURRENT_CELLS, async ({ perm, op }) => {
        // Created with its ACL, never given it by setACL: ZooKeeper's leader would check requests
        // against the ACL before the setACL for a while after it answered (a follower applies and
        // answers first), which would make cells depend on timing. The super user adds the child.
        const node = `${base}/${perm.key}/${op.key}`;
        const made = await creator.tryCreate(node, 'secret', { acl: access.acl(perm.perms) });
        const kid = await owner.tryCreate(`${node}/k`, 'kid');
        if (made.err !== 0 || kid.err !== 0) throw new Error(`${server.name}: creating ${node} and its child answered ${made.err}, ${kid.err}`);
        const cell: Cell = {
          caller, owner, node, free: `${node}-free`, setupZxid: kid.zxid, acl: access.acl(perm.perms),
          newCaller: () => access.connect(server),
          reconnect: (c) => access.reconnect?.(server, c) ?? RawClient.connect(server.host, server.port, { sessionId: c.sessionId, passwd: c.session.passwd, timeoutMs: 30_000 }),
        };
        out.set(cellKey(`op:${op.key}`, access.key, perm.key), await cellOutcome(() => op.run(cell)));
      });
    } finally {
      await caller.close();
      if (creator !== owner) await creator.close();
    }
  }
  return out;
}

export const permissions: Part = {
  tables: OPERATIONS.map(tableOf),
  run,
};

export const PERMISSIONS_INTRO = [
  'Each table is one operation. A row is an ACL scheme and the way the calling session is',
  'authenticated; a column is the permission the target znode\'s ACL grants that identity (for',
  'create and delete: the parent\'s ACL). Every cell ran against its own fresh znode, holding the',
  'data "secret" and one child `k` with an open ACL; watch cells record the events the caller',
  'received after the super user changed the znode.',
  '',
  'The sasl rows authenticate with SASL DIGEST-MD5 against the JAAS file of `test/security/sasl-support.ts`,',
  'with SASLAuthenticationProvider registered and `super` a superUser; the x509 rows connect to the secure',
  'client port (ssl.clientAuth=want) with the certificates of `test/security/tls-certs.ts`. Both servers',
  'read the same zoo.cfg lines (`test/differential/acl-matrix/servers.ts`). The replicated run',
  '(`acl-matrix-replicated.test.ts`) has neither: its members have no JAAS file and no secure port.',
  '',
  'Not in the matrix: `check` outside a multi (opcode 13). ZooKeeper 3.8.0 never answers one it allows',
  'with its default connection factory, and with NettyServerCnxnFactory (which a secure client port',
  'needs) the whole server stopped accepting connections after one here; its followers leave their',
  'leader over it. A check inside a multi is in the matrix.',
].join('\n');
