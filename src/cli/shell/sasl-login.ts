/**
 * `ensemble cli`'s SASL login, as zkCli.sh finds its own: a JAAS file's Client section (or the
 * section zookeeper.sasl.clientconfig names) with a DigestLoginModule username and password.
 * From --jaas/--jaas-section, else from -D flags in CLIENT_JVMFLAGS or JVMFLAGS.
 */
import type { SaslOptions } from '../../client/sasl.ts';
import { clientCredentials, loadJaas } from '../../server/auth/sasl-jaas.ts';
import { jvmProperty } from './jvm-flags.ts';

const DEFAULT_SECTION = 'Client';

/**
 * The SASL option for the shell's client, or undefined for none. An explicit --jaas whose section
 * is missing is an error; a JAAS file from the environment without the section means no SASL
 * (zkCli then connects without it too).
 */
export function saslLogin(jaasFile: string | undefined, section: string | undefined, env: NodeJS.ProcessEnv): SaslOptions | undefined {
  const flags = [env.CLIENT_JVMFLAGS, env.JVMFLAGS];
  const fromEnv = jaasFile === undefined;
  const file = jaasFile ?? flags.map((f) => jvmProperty(f, 'java.security.auth.login.config')).find((f) => f !== undefined);
  if (file === undefined) return undefined;
  const name = section ?? flags.map((f) => jvmProperty(f, 'zookeeper.sasl.clientconfig')).find((s) => s !== undefined) ?? DEFAULT_SECTION;
  const jaas = loadJaas(file);
  if (fromEnv && !jaas.has(name)) return undefined;
  return { mechanism: 'DIGEST-MD5', ...clientCredentials(jaas, name, file) };
}
