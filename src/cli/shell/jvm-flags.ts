/** Java system properties given to zkCli.sh in CLIENT_JVMFLAGS or JVMFLAGS, which `ensemble cli` honours too. */

/** A -Dname=value flag in a JVM flags string, quoted or not. */
export function jvmProperty(flags: string | undefined, name: string): string | undefined {
  if (flags === undefined) return undefined;
  const m = new RegExp(`-D${name.replace(/\./g, '\\.')}=("[^"]*"|'[^']*'|\\S+)`).exec(flags);
  return m?.[1].replace(/^["']|["']$/g, '');
}

/** The property from CLIENT_JVMFLAGS, else from JVMFLAGS. */
export function jvmPropertyOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return [env.CLIENT_JVMFLAGS, env.JVMFLAGS].map((f) => jvmProperty(f, name)).find((v) => v !== undefined);
}
