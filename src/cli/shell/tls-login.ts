/**
 * `ensemble cli`'s TLS, for a server's secure client port: from --tls-ca, --tls-cert and --tls-key
 * (PEM files; any of them, or --tls alone, turns TLS on), else as zkCli.sh takes it, from
 * -Dzookeeper.client.secure=true and the -Dzookeeper.ssl.* key and trust store properties in
 * CLIENT_JVMFLAGS or JVMFLAGS (PEM or PKCS12 key stores, PEM trust stores).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { TLS_KEYS, clientTlsOptions, tlsSettings } from '../../server/net/tls-settings.ts';
import { jvmPropertyOf } from './jvm-flags.ts';

export interface TlsFlags {
  tls?: boolean;
  /** PEM: the CA certificates to trust (default: the system's). */
  ca?: string;
  /** PEM: the client certificate, and its key (for the x509 scheme, or a server with ssl.clientAuth=need). */
  cert?: string;
  key?: string;
}

/** The client's tls option, or undefined for a plain connection. Throws when a file cannot be read. */
export function tlsLogin(flags: TlsFlags, env: NodeJS.ProcessEnv): ConnectionOptions | undefined {
  if (flags.tls === true || flags.ca !== undefined || flags.cert !== undefined || flags.key !== undefined) {
    if ((flags.cert === undefined) !== (flags.key === undefined)) throw new Error('--tls-cert and --tls-key go together');
    const read = (what: string, file: string | undefined): Buffer | undefined => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (e) {
        throw new Error(`${what} ${file} cannot be read: ${(e as Error).message}`);
      }
    };
    const [ca, cert, key] = [read('--tls-ca', flags.ca), read('--tls-cert', flags.cert), read('--tls-key', flags.key)];
    return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
  }
  if (jvmPropertyOf(env, 'zookeeper.client.secure')?.toLowerCase() !== 'true') return undefined;
  const keys = new Map<string, string>();
  for (const k of TLS_KEYS) {
    const v = jvmPropertyOf(env, `zookeeper.ssl.${k}`);
    if (v !== undefined) keys.set(k, v);
  }
  return clientTlsOptions(tlsSettings('zookeeper.ssl.', keys, 'CLIENT_JVMFLAGS'));
}
