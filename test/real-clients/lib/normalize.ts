/**
 * Normalization of client transcripts so that two servers can be compared: values that
 * legitimately differ between runs (zxids, session ids, times) are masked, while the
 * relations between them within one transcript are kept where that is cheap.
 */

/** Replaces each distinct 0x… number (except 0x0) by a label in order of first appearance. */
export function renumberHex(text: string, prefix = 'H'): string {
  const labels = new Map<string, string>();
  return text.replace(/\b0x([0-9a-fA-F]+)\b/g, (_m, hex: string) => {
    const value = BigInt(`0x${hex}`);
    if (value === 0n) return '0x0';
    const key = value.toString(16);
    let label = labels.get(key);
    if (label === undefined) {
      label = `<${prefix}${labels.size + 1}>`;
      labels.set(key, label);
    }
    return label;
  });
}

/** Masks every 0x… number except 0x0. */
export function maskHex(text: string): string {
  return text.replace(/\b0x[0-9a-fA-F]+\b/g, (m) => (/^0x0+$/.test(m) ? '0x0' : '0x<hex>'));
}

/** Java's Date.toString(), e.g. "Wed Nov 25 22:03:02 UTC 2026", and C's ctime() format. */
export function maskDates(text: string): string {
  return text
    .replace(/\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2}(?: [A-Z]{2,5})? \d{4}\b/g, '<date>');
}

/** Line-ending and trailing-whitespace normalization. */
export function tidy(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n')
    .replace(/\n+$/, '\n');
}
