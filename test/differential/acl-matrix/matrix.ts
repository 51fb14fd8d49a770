/** The whole matrix: its parts, the servers' options, and one run of every cell against a server. */
import type { RunningServer, ServerOptions } from '../../support/servers.ts';
import { SUPER_DIGEST } from '../../support/servers.ts';
import { aclIds } from './acl-ids.ts';
import { addAuth } from './addauth.ts';
import { SUPER, sessionWith } from './accesses.ts';
import { SASL_SERVER_OPTIONS } from '../../security/sasl-support.ts';
import { permissions } from './permissions.ts';
import { system } from './system.ts';
import type { MatrixOptions, Outcomes, Part } from './table.ts';

/**
 * TTL znodes need extended types; the super user needs superDigest (password "test"); SASL needs
 * the JAAS file and its provider registered.
 */
export const SERVER_OPTIONS: ServerOptions = { superDigest: SUPER_DIGEST, extendedTypesEnabled: true, ...SASL_SERVER_OPTIONS };

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
