/**
 * Apache ZooKeeper's TLS keys (X509Util: `ssl.*` for the client port, `ssl.quorum.*` between
 * members) read into settings, and those settings turned into Node's `tls` options. Parsing reads
 * no file; the options are built when a listener or a connection needs them, so that a missing or
 * unreadable store stops the server at startup with a message that names the key.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, getCiphers, type ConnectionOptions, type SecureContextOptions, type SecureVersion, type TLSSocket, type TlsOptions } from 'node:tls';
import { extname } from 'node:path';

export type ClientAuth = 'none' | 'want' | 'need';

export interface StoreSettings {
  location: string;
  /** PEM, PKCS12 (JKS and BCFKS are refused); undefined: from the file name, as ZooKeeper. */
  type?: string;
  password?: string;
  /** A file holding the password (ZooKeeper 3.8's keyStore.passwordPath). */
  passwordPath?: string;
}

export interface TlsSettings {
  /** Where the keys are read from (`ssl.` or `ssl.quorum.`), for messages. */
  prefix: string;
  keyStore?: StoreSettings;
  /** Undefined: the system's trusted roots (as Java's default trust store). */
  trustStore?: StoreSettings;
  /** ssl.protocol: TLSv1.2 by default, as ZooKeeper 3.8. */
  protocol: string;
  enabledProtocols?: string[];
  /** Java (IANA) names: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256… */
  cipherSuites?: string[];
  /** ssl.clientAuth: need by default, as ZooKeeper. */
  clientAuth: ClientAuth;
  /** ssl.hostnameVerification (default true): a peer's certificate must name the host connected to. */
  hostnameVerification: boolean;
}

/** The keys after the prefix that Ensemble acts on; ZooKeeper's others (crl, ocsp…) are only recognised. */
export const TLS_KEYS = [
  'keyStore.location', 'keyStore.password', 'keyStore.passwordPath', 'keyStore.type',
  'trustStore.location', 'trustStore.password', 'trustStore.passwordPath', 'trustStore.type',
  'protocol', 'enabledProtocols', 'ciphersuites', 'clientAuth', 'hostnameVerification',
] as const;

/** Settings from the TLS keys given (by their name after `prefix`); throws on a value ZooKeeper refuses. */
export function tlsSettings(prefix: string, values: ReadonlyMap<string, string>, origin: string): TlsSettings {
  const get = (k: string): string | undefined => {
    const v = values.get(k)?.trim();
    return v === '' ? undefined : v;
  };
  const store = (name: 'keyStore' | 'trustStore'): StoreSettings | undefined => {
    const location = get(`${name}.location`);
    if (location === undefined) return undefined;
    return { location, type: get(`${name}.type`), password: values.get(`${name}.password`), passwordPath: get(`${name}.passwordPath`) };
  };
  const clientAuth = (get('clientAuth') ?? 'need').toLowerCase();
  if (clientAuth !== 'none' && clientAuth !== 'want' && clientAuth !== 'need') {
    throw new Error(`${origin}: ${prefix}clientAuth must be none, want or need, got "${get('clientAuth')}"`);
  }
  const list = (k: string): string[] | undefined => get(k)?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return {
    prefix,
    keyStore: store('keyStore'),
    trustStore: store('trustStore'),
    protocol: get('protocol') ?? 'TLSv1.2',
    enabledProtocols: list('enabledProtocols'),
    cipherSuites: list('ciphersuites'),
    clientAuth,
    hostnameVerification: (get('hostnameVerification') ?? 'true').toLowerCase() !== 'false',
  };
}

/** Options of a TLS listener: its certificate, whom it trusts, and whether it asks clients for theirs. */
export function serverTlsOptions(s: TlsSettings): TlsOptions {
  if (s.keyStore === undefined) throw new Error(`${s.prefix}keyStore.location is not set: a TLS port needs a certificate and its key`);
  return {
    ...commonOptions(s),
    requestCert: s.clientAuth !== 'none',
    // 'want' accepts a client without a certificate; one that sends an untrusted one is refused after the handshake (peerCertificate).
    rejectUnauthorized: s.clientAuth === 'need',
  };
}

/**
 * The listener's options, checked by OpenSSL as a listener would load them: a wrong password or a
 * key that is not the certificate's is an error that names the key store.
 */
export function checkedServerTlsOptions(s: TlsSettings): TlsOptions {
  const options = serverTlsOptions(s);
  try {
    createSecureContext(options);
  } catch (err) {
    throw new Error(`${s.prefix}keyStore.location=${s.keyStore?.location} cannot be used: ${(err as Error).message} (is ${s.prefix}keyStore.password right, and the key the certificate's?)`);
  }
  return options;
}

/**
 * Options of a TLS client (a zkCli-style client, or a member connecting to another): the server's
 * certificate is checked against the host connected to unless hostnameVerification is off.
 */
export function clientTlsOptions(s: TlsSettings): ConnectionOptions {
  return {
    ...commonOptions(s),
    rejectUnauthorized: true,
    ...(s.hostnameVerification ? {} : { checkServerIdentity: () => undefined }),
  };
}

function commonOptions(s: TlsSettings): SecureContextOptions {
  const options: SecureContextOptions = { ...versions(s), ...keyMaterial(s), ...trusted(s) };
  if (s.cipherSuites !== undefined) options.ciphers = s.cipherSuites.map((c) => opensslCipher(s, c)).join(':');
  return options;
}

/**
 * What a TLS listener decides once the handshake is done: the client's certificate, if it sent a
 * trusted one; null if it sent none (allowed unless clientAuth=need, which the handshake enforced);
 * 'refuse' if it sent one that is not trusted (Java's trust manager fails such a handshake even
 * with clientAuth=want).
 */
export function peerCertificate(socket: TLSSocket): Buffer | null | 'refuse' {
  const cert = socket.getPeerCertificate();
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return null;
  return socket.authorized ? cert.raw : 'refuse';
}

/** Java's protocol names are Node's, oldest first. */
const ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** enabledProtocols (or the one protocol) as the lowest and highest version allowed; "TLS" alone leaves Node's defaults. */
function versions(s: TlsSettings): { minVersion?: SecureVersion; maxVersion?: SecureVersion } {
  const names = s.enabledProtocols ?? (s.protocol === 'TLS' ? [] : [s.protocol]);
  if (names.length === 0) return {};
  const known = names.map((n) => {
    const at = ORDER.indexOf(n as SecureVersion);
    if (at < 0) {
      const key = s.enabledProtocols === undefined ? 'protocol' : 'enabledProtocols';
      throw new Error(`${s.prefix}${key}: unknown protocol "${n}" (expected TLSv1.2, TLSv1.3, TLSv1.1 or TLSv1)`);
    }
    return at;
  });
  return { minVersion: ORDER[Math.min(...known)], maxVersion: ORDER[Math.max(...known)] };
}

/** KeyStoreFileType.fromFilename: the type from the file's extension when ssl.*.type is not set. */
function storeType(s: TlsSettings, name: 'keyStore' | 'trustStore', store: StoreSettings): 'PEM' | 'PKCS12' {
  const ext = extname(store.location).toLowerCase();
  const byExtension: Record<string, string> = { '.pem': 'PEM', '.crt': 'PEM', '.p12': 'PKCS12', '.pfx': 'PKCS12', '.jks': 'JKS', '.bcfks': 'BCFKS' };
  const type = (store.type ?? byExtension[ext])?.toUpperCase();
  if (type === undefined) {
    throw new Error(`${s.prefix}${name}.location=${store.location}: the store's type cannot be told from its name: set ${s.prefix}${name}.type (PEM or PKCS12)`);
  }
  if (type === 'JKS' || type === 'BCFKS') {
    const to = name === 'keyStore'
      ? `convert it to PKCS12 (keytool -importkeystore -srckeystore ${store.location} -destkeystore ${store.location.replace(/\.[^./]*$/, '')}.p12 -deststoretype PKCS12) and set ${s.prefix}${name}.type=PKCS12`
      : `export its certificates to PEM (keytool -exportcert -rfc -alias <alias> -keystore ${store.location} >> trust.pem) and set ${s.prefix}${name}.type=PEM`;
    throw new Error(`${s.prefix}${name}.location=${store.location} is a ${type} store, which Ensemble cannot read: ${to}`);
  }
  if (type !== 'PEM' && type !== 'PKCS12') throw new Error(`${s.prefix}${name}.type=${type} is not supported: use PEM or PKCS12`);
  return type;
}

function readStore(s: TlsSettings, name: 'keyStore' | 'trustStore', store: StoreSettings): Buffer {
  try {
    return readFileSync(store.location);
  } catch (err) {
    throw new Error(`${s.prefix}${name}.location=${store.location} cannot be read: ${(err as Error).message}`);
  }
}

function password(s: TlsSettings, name: 'keyStore' | 'trustStore', store: StoreSettings): string | undefined {
  if (store.passwordPath === undefined) return store.password;
  try {
    return readFileSync(store.passwordPath, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`${s.prefix}${name}.passwordPath=${store.passwordPath} cannot be read: ${(err as Error).message}`);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string, wanted: (label: string) => boolean): string[] {
  return [...text.matchAll(PEM_BLOCK)].filter((m) => wanted(m[1])).map((m) => m[0]);
}

/** The key store: a PEM file with a private key and its certificate chain, or a PKCS12 file. */
function keyMaterial(s: TlsSettings): SecureContextOptions {
  const store = s.keyStore;
  if (store === undefined) return {};
  const type = storeType(s, 'keyStore', store);
  const bytes = readStore(s, 'keyStore', store);
  const passphrase = password(s, 'keyStore', store);
  if (type === 'PKCS12') return { pfx: bytes, ...(passphrase !== undefined && { passphrase }) };
  const text = bytes.toString('utf8');
  const keys = pemBlocks(text, (l) => l.endsWith('PRIVATE KEY'));
  const certs = pemBlocks(text, (l) => l === 'CERTIFICATE');
  if (keys.length !== 1 || certs.length === 0) {
    throw new Error(`${s.prefix}keyStore.location=${store.location}: a PEM key store holds one private key and its certificate chain; found ${keys.length} keys and ${certs.length} certificates`);
  }
  return { key: keys[0], cert: certs.join('\n'), ...(passphrase !== undefined && passphrase !== '' && { passphrase }) };
}

/** The trust store: PEM certificates (Node reads no trust-only PKCS12 file). */
function trusted(s: TlsSettings): SecureContextOptions {
  const store = s.trustStore;
  if (store === undefined) return {};
  if (storeType(s, 'trustStore', store) === 'PKCS12') {
    throw new Error(`${s.prefix}trustStore.location=${store.location} is a PKCS12 trust store, which Ensemble cannot read: export its certificates to PEM (openssl pkcs12 -in ${store.location} -nokeys -out trust.pem) and set ${s.prefix}trustStore.type=PEM`);
  }
  const certs = pemBlocks(readStore(s, 'trustStore', store).toString('utf8'), (l) => l === 'CERTIFICATE' || l === 'TRUSTED CERTIFICATE');
  if (certs.length === 0) throw new Error(`${s.prefix}trustStore.location=${store.location} holds no PEM certificate`);
  return { ca: certs };
}

/** A Java (IANA) cipher suite name as OpenSSL's: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 → ECDHE-RSA-AES128-GCM-SHA256. */
export function opensslCipherName(java: string): string {
  // TLS 1.3's suites have the same names in both.
  if (/^TLS_(AES|CHACHA20)_/.test(java)) return java;
  const m = /^TLS_(?:(.*)_)?WITH_(.*)$/.exec(java) ?? /^TLS_(RSA)_(.*)$/.exec(java);
  if (!m) return java;
  const exchange = m[1] === undefined || m[1] === 'RSA' ? [] : m[1].split('_');
  const cipher = m[2]
    .replace(/^AES_(\d+)_/, 'AES$1_')
    .replace(/_CBC_/, '_')
    .replace(/^CHACHA20_POLY1305_SHA256$/, 'CHACHA20_POLY1305')
    .split('_');
  return [...exchange, ...cipher].join('-');
}

function opensslCipher(s: TlsSettings, java: string): string {
  const name = opensslCipherName(java);
  const isTls13 = name.startsWith('TLS_');
  if (!isTls13 && !getCiphers().includes(name.toLowerCase())) {
    throw new Error(`${s.prefix}ciphersuites: "${java}" is not a cipher suite this Node.js (OpenSSL) knows`);
  }
  return name;
}
