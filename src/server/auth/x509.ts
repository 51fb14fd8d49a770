/**
 * ZooKeeper's x509 scheme (X509AuthenticationProvider): a client that presents a trusted
 * certificate on a TLS port is authenticated as its subject's distinguished name, as Java's
 * X500Principal.getName() writes it (RFC 2253: the last RDN first, CN=alice,O=Acme\, Inc.,C=DE);
 * that name is also X509AuthenticationProvider.superUser's.
 */
import type { Id } from '../../protocol/records.ts';

export const X509_SCHEME = 'x509';

/** The identities a connection gets from its client certificate (DER): super first when it is the super user, as ZooKeeper adds them. */
export function x509Identities(certDer: Buffer, superUser: string | undefined): Id[] {
  const name = subjectName(certDer);
  const ids: Id[] = [];
  if (superUser !== undefined && name === superUser) ids.push({ scheme: 'super', id: name });
  ids.push({ scheme: X509_SCHEME, id: name });
  return ids;
}

/** X509AuthenticationProvider.isValid: an ACL id must parse as a distinguished name. */
export function isValidX509Id(id: string): boolean {
  if (id.trim() === '') return true;
  // Each RDN is type=value, separated by unescaped commas (or semicolons), types a keyword or an OID.
  const rdns = id.split(/(?<!\\),|(?<!\\);/);
  return rdns.every((rdn) => rdn.split(/(?<!\\)\+/).every((ava) => /^\s*([A-Za-z][\w-]*|\d+(\.\d+)+)\s*=/.test(ava)));
}

/** One DER element: its tag, where it begins (its header), and where its contents begin and end. */
interface Tlv { tag: number; offset: number; start: number; end: number }

function tlv(der: Buffer, offset: number): Tlv {
  if (offset + 2 > der.length) throw new Error('truncated DER');
  const tag = der[offset];
  let len = der[offset + 1];
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, offset, start, end: start + len };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const t = tlv(der, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** The subject of a DER certificate, in RFC 2253 form. */
export function subjectName(certDer: Buffer): string {
  const cert = tlv(certDer, 0);
  const tbs = children(certDer, cert)[0];
  const fields = children(certDer, tbs);
  // [0] version is optional: subject is the 5th field after it (serial, signature, issuer, validity, subject).
  const first = fields[0].tag === 0xa0 ? 1 : 0;
  return rfc2253(certDer, fields[first + 4]);
}

/** The RFC 2253 keywords (Java's AVAKeyword with rfc2253Compliant); any other type is written as its OID. */
const KEYWORDS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.9': 'STREET', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
};

/** Tags of the string types Java writes as text (UTF8String, PrintableString, T61String, IA5String, UniversalString, BMPString). */
const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1c, 0x1e]);

function rfc2253(der: Buffer, name: Tlv): string {
  const rdns = children(der, name).map((set) => children(der, set).map((ava) => {
    const [type, value] = children(der, ava);
    const oid = oidOf(der.subarray(type.start, type.end));
    const keyword = KEYWORDS[oid];
    if (keyword === undefined || !STRING_TAGS.has(value.tag)) {
      return `${keyword ?? oid}=#${der.subarray(value.offset, value.end).toString('hex')}`;
    }
    return `${keyword}=${escape(stringValue(der, value))}`;
  }).join('+'));
  return rdns.reverse().join(',');
}

function stringValue(der: Buffer, v: Tlv): string {
  const bytes = der.subarray(v.start, v.end);
  if (v.tag === 0x1e) return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString('utf16le');
  if (v.tag === 0x1c) {
    let s = '';
    for (let i = 0; i + 3 < bytes.length; i += 4) s += String.fromCodePoint(bytes.readUInt32BE(i));
    return s;
  }
  if (v.tag === 0x14) return bytes.toString('latin1');
  return bytes.toString('utf8');
}

/** AVA.toRFC2253String's escaping: the special characters, a leading '#' or space, a trailing space. */
function escape(value: string): string {
  let out = value.replace(/[,=+<>#;"\\]/g, (c) => `\\${c}`).replaceAll('\u0000', '\\00');
  if (out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function oidOf(bytes: Buffer): string {
  const parts: number[] = [];
  let n = 0;
  for (const b of bytes) {
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(n);
      n = 0;
    }
  }
  const [first, ...rest] = parts;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - 40 * a, ...rest].join('.');
}
