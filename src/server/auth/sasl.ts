/**
 * SASL on the server, as ZooKeeper 3.8 configures it: the JAAS file's Server section holds the
 * DIGEST-MD5 users; zoo.cfg names the super users and the section. Each connection gets its own
 * exchange; a completed one adds the `sasl` identity (and `super` for a super user).
 */
import type { Id } from '../../protocol/records.ts';
import { DigestMd5ServerExchange } from './sasl-digest-md5.ts';
import { jvmProperty, loadJaas, serverCredentials } from './sasl-jaas.ts';

export interface SaslSettings {
  /** java.security.auth.login.config: the JAAS file (`ensemble server --jaas`, or SERVER_JVMFLAGS). */
  jaasFile?: string;
  /** zookeeper.sasl.serverconfig: the JAAS section of the server's users (default Server). */
  section?: string;
  /** zookeeper.superUser and zookeeper.superUser.N: SASL users who are super users. */
  superUsers?: string[];
  /** zookeeper.SASLAuthenticationProvider.superPassword: the password of the user "super", whatever the JAAS file says. */
  superPassword?: string;
  /** authProvider.N names SASLAuthenticationProvider: sasl ACLs are valid (INVALIDACL otherwise, as in ZooKeeper). */
  provider?: boolean;
  /** sessionRequireClientSASLAuth: every connection must authenticate with SASL before its first request. */
  requireSasl?: boolean;
  /** enforce.auth.enabled and enforce.auth.schemes: every connection must have an identity of one of these schemes. */
  enforceAuth?: boolean;
  enforceSchemes?: string[];
  /** allowSaslFailedClients: a failed SASL exchange is answered as a finished one and the connection kept (unless sasl is enforced). */
  allowFailedClients?: boolean;
}

export const SASL_AUTH_PROVIDER = 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider';

/**
 * A zoo.cfg key (without its `zookeeper.` prefix) that SASL acts on: returns the settings with it,
 * or undefined if the key is not one of them (`authProvider.N` only when it names SASL's provider).
 */
export function withSaslKey(key: string, value: string, current: SaslSettings = {}): SaslSettings | undefined {
  const v = value.trim();
  // isSaslSuperUser: zookeeper.superUser, and any key that continues it after a dot.
  if (/^superUser(\..*)?$/.test(key)) return { ...current, superUsers: [...(current.superUsers ?? []), v] };
  if (key === 'sasl.serverconfig') return { ...current, section: v };
  if (key === 'SASLAuthenticationProvider.superPassword') return { ...current, superPassword: v };
  // Boolean.parseBoolean: "true" in any case, anything else false.
  if (key === 'sessionRequireClientSASLAuth') return { ...current, requireSasl: v.toLowerCase() === 'true' };
  if (key === 'enforce.auth.enabled') return { ...current, enforceAuth: v.toLowerCase() === 'true' };
  if (key === 'allowSaslFailedClients') return { ...current, allowFailedClients: v.toLowerCase() === 'true' };
  if (key === 'enforce.auth.schemes') return { ...current, enforceSchemes: v.split(',').map((x) => x.trim()) };
  if (/^authProvider\./.test(key) && v === SASL_AUTH_PROVIDER) return { ...current, provider: true };
  return undefined;
}

/** Settings from zoo.cfg, then from --property lines: the later win, super users add up. */
export function mergeSaslSettings(first: SaslSettings | undefined, then: SaslSettings | undefined): SaslSettings | undefined {
  if (first === undefined || then === undefined) return then ?? first;
  const superUsers = [...first.superUsers ?? [], ...then.superUsers ?? []];
  return { ...first, ...then, ...(superUsers.length > 0 && { superUsers }) };
}

const SASL_UNREGISTERED: ReadonlySet<string> = new Set(['sasl']);
const NONE: ReadonlySet<string> = new Set();

/** The ACL schemes without a provider: sasl, unless zoo.cfg registers SASLAuthenticationProvider. */
export function unregisteredSchemes(settings: SaslSettings | undefined): ReadonlySet<string> {
  return settings?.provider === true ? NONE : SASL_UNREGISTERED;
}

/** The JAAS file a ZooKeeper start script would pass: -Djava.security.auth.login.config=FILE in SERVER_JVMFLAGS or JVMFLAGS. */
export function jaasFileFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return [env.SERVER_JVMFLAGS, env.JVMFLAGS].map((f) => jvmProperty(f, 'java.security.auth.login.config')).find((f) => f !== undefined);
}

export class SaslAuthenticator {
  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly settings: SaslSettings,
    private readonly randomBytes: (n: number) => Buffer,
  ) {}

  /** Reads the JAAS file; undefined when none is configured. Throws what is wrong with the file. */
  static load(settings: SaslSettings | undefined, randomBytes: (n: number) => Buffer): SaslAuthenticator | undefined {
    if (settings?.jaasFile === undefined) return undefined;
    const users = serverCredentials(loadJaas(settings.jaasFile), settings.section ?? 'Server', settings.jaasFile);
    return new SaslAuthenticator(users, settings, randomBytes);
  }

  /** allowSaslFailedClients: a failed exchange leaves the connection open. */
  get keepsFailedClients(): boolean {
    return this.settings.allowFailedClients === true;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** A new exchange for one connection. */
  exchange(): DigestMd5ServerExchange {
    return new DigestMd5ServerExchange((user) => this.passwordOf(user), this.randomBytes);
  }

  /** SaslServerCallbackHandler's password lookup. */
  private passwordOf(user: string): string | undefined {
    if (user === 'super' && this.settings.superPassword !== undefined) return this.settings.superPassword;
    return this.users.get(user);
  }

  /** ZooKeeperServer.processSasl: the identities an authenticated user adds to its connection. */
  identitiesOf(user: string): Id[] {
    const ids: Id[] = [{ scheme: 'sasl', id: user }];
    if (user !== '' && (this.settings.superUsers ?? []).includes(user)) ids.push({ scheme: 'super', id: '' });
    return ids;
  }
}

/** The schemes Ensemble has a provider for besides sasl (ZooKeeper's ProviderRegistry defaults, and x509 for TLS). */
const BUILT_IN_SCHEMES = ['ip', 'digest', 'x509'];

/**
 * AuthenticationHelper: with enforcement on, a connection without an identity of an enforced
 * scheme has its first request (other than auth and SASL packets) answered
 * SESSIONCLOSEDREQUIRESASLAUTH, and is closed. sessionRequireClientSASLAuth enforces sasl, and
 * takes precedence over enforce.auth.*.
 */
export class AuthEnforcement {
  private constructor(private readonly schemes: readonly string[]) {}

  /** Undefined when nothing is enforced; throws, as ZooKeeper refuses to start, on a scheme it cannot enforce. */
  static of(settings: SaslSettings | undefined): AuthEnforcement | undefined {
    const schemes = settings?.requireSasl === true ? ['sasl'] : settings?.enforceAuth === true ? settings.enforceSchemes ?? [] : undefined;
    if (schemes === undefined) return undefined;
    if (schemes.length === 0) throw new Error('enforce.auth.enabled is true: enforce.auth.schemes must be configured');
    const unregistered = unregisteredSchemes(settings);
    for (const scheme of schemes) {
      if (unregistered.has(scheme) || (scheme !== 'sasl' && !BUILT_IN_SCHEMES.includes(scheme))) {
        throw new Error(`authentication scheme ${scheme} is not available${scheme === 'sasl' ? ` (zoo.cfg needs authProvider.N=${SASL_AUTH_PROVIDER})` : ''}: it cannot be enforced`);
      }
    }
    return new AuthEnforcement(schemes);
  }

  /** A SASL failure is then answered SESSIONCLOSEDREQUIRESASLAUTH rather than AUTHFAILED. */
  get saslRequired(): boolean {
    return this.schemes.includes('sasl');
  }

  /** Whether a connection with these identities may send requests. */
  allows(authInfo: readonly Id[]): boolean {
    return authInfo.some((id) => this.schemes.includes(id.scheme));
  }

  describe(): string {
    return this.schemes.join(',');
  }
}
