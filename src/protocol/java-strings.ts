/** Java's String.split and Long.parseLong, for text that ZooKeeper's Java code parses. */

/** Java's String.split / Pattern.split with no limit: no match keeps the input; trailing empty parts go. */
export function javaSplit(s: string, sep: string | RegExp): string[] {
  const parts = s.split(sep);
  if (parts.length === 1) return parts;
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '') end--;
  return parts.slice(0, end);
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

const ND = /\p{Nd}/u;
const isDecimalDigit = (c: number): boolean => c >= 0 && ND.test(String.fromCharCode(c));

/**
 * Character.digit(c, 10) for one UTF-16 unit: ASCII digits and every other BMP decimal digit (those
 * come in runs of ten, 0 to 9, so a digit's value is its offset in its run of digits, modulo 10).
 */
function javaDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c < 0x80 || (c >= 0xd800 && c <= 0xdfff) || !isDecimalDigit(c)) return -1;
  let start = c;
  while (isDecimalDigit(start - 1)) start--;
  return (c - start) % 10;
}

/** Long.parseLong(s): an optional sign, then decimal digits, within the range of a long; null when it is not one. */
export function parseLong(s: string): bigint | null {
  let i = 0;
  let negative = false;
  if (s.length > 0 && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    i = 1;
  }
  if (i >= s.length) return null;
  let v = 0n;
  for (; i < s.length; i++) {
    const d = javaDigit(s.charCodeAt(i));
    if (d < 0) return null;
    v = v * 10n + BigInt(d);
  }
  if (negative) v = -v;
  return v < LONG_MIN || v > LONG_MAX ? null : v;
}

/** Integer.parseInt(s); null when it is not an int. */
export function parseInt32(s: string): number | null {
  const v = parseLong(s);
  return v === null || v < -(2n ** 31n) || v >= 2n ** 31n ? null : Number(v);
}
