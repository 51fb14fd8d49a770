/** The whole matrix: its parts, the servers' options, and one run of every cell against a server. */
import type { RunningServer, ServerOptions } from '../../support/servers.ts';
import { SUPER_DIGEST } from '../../support/servers.ts';
import { aclIds } from './acl-ids.ts';
import { addAuth } from './addauth.ts';
import { SUPER, sessionWith } from './accesses.ts';
import { permissions } from './permissions.ts';
import { system } from './system.ts';
import type { MatrixOptions, Outcomes, Part } from './table.ts';

/** The replicated run's options (the standalone servers: servers.ts): TTL znodes, the super user (password "test"). */
export const SERVER_OPTIONS: ServerOptions = { superDigest: SUPER_DIGEST, extendedTypesEnabled: true };

export const PARTS: readonly { name: string; part: Part }[] = [
  { name: 'permissions', part: permissions },
  { name: 'system', part: system },
  { name: 'ids', part: aclIds },
  { name: 'addauth', part: addAuth },
];

/** Every cell of every part against `server`, each part under its own root `/acl-matrix-<part>`. */
export async function runMatrix(server: RunningServer, options: MatrixOptions = {}): Promise<Outcomes> {
  const owner = await sessionWith(server, SUPER);
  const all: Outcomes = new Map();
  try {
    for (const { name, part } of PARTS) {
      for (const [k, v] of await part.run(server, owner, `/acl-matrix-${name}`, options)) all.set(k, v);
    }
  } finally {
    await owner.close();
  }
  return all;
}
