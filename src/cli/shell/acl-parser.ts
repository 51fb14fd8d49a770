/** zkCli's ACL strings: "scheme:id:perms[,scheme:id:perms…]", perms from the letters c d r w a. */
import type { ACL } from '../../client/types.ts';
import { javaSplit } from '../../protocol/java-strings.ts';

const PERM_BITS: Readonly<Record<string, number>> = { r: 1, w: 2, c: 4, d: 8, a: 16 };

/** Parses an ACL string; entries or letters it cannot read are reported through `warn` and skipped. */
export function parseAcl(text: string, warn: (line: string) => void): ACL[] {
  const acl: ACL[] = [];
  for (const entry of javaSplit(text, ',')) {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    if (first === -1 || first === last) {
      warn(`${entry} does not have the form scheme:id:perm`);
      continue;
    }
    let perms = 0;
    for (const letter of entry.slice(last + 1)) {
      const bit = PERM_BITS[letter];
      if (bit === undefined) warn(`Unknown perm type: ${letter}`);
      else perms |= bit;
    }
    acl.push({ perms, id: { scheme: entry.slice(0, first), id: entry.slice(first + 1, last) } });
  }
  return acl;
}
