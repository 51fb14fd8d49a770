/** Java system properties given to zkCli.sh in CLIENT_JVMFLAGS or JVMFLAGS, which `ensemble cli` honours too. */

import { jvmProperty } from '../../server/auth/sasl-jaas.ts';

export { jvmProperty };

/** The property from CLIENT_JVMFLAGS, else from JVMFLAGS. */
export function jvmPropertyOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return [env.CLIENT_JVMFLAGS, env.JVMFLAGS].map((f) => jvmProperty(f, name)).find((v) => v !== undefined);
}
