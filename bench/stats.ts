/** Small statistics and formatting helpers for the benchmark reports. */

export function median(values: readonly number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The smallest and largest of the values (NaN ignored; NaN, NaN when there are none). */
export function spread(values: readonly number[]): { min: number; max: number } {
  const s = values.filter((v) => !Number.isNaN(v));
  return s.length === 0 ? { min: NaN, max: NaN } : { min: Math.min(...s), max: Math.max(...s) };
}

/** a / b, NaN when either is missing or b is 0. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

/**
 * Ensemble's median over ZooKeeper's for each kind of run (a signal, a variant) that has rows. Rows
 * name their system `ensemble` or `zookeeper`.
 */
export function medianRatios<K, R extends { server: string; median: number }>(rows: readonly R[], kinds: readonly K[], kindOf: (r: R) => K): Array<{ kind: K; ratio: number }> {
  return kinds.flatMap((kind) => {
    const of = (server: string): number => rows.find((r) => kindOf(r) === kind && r.server === server)?.median ?? NaN;
    return rows.some((r) => kindOf(r) === kind) ? [{ kind, ratio: ratio(of('ensemble'), of('zookeeper')) }] : [];
  });
}

/** Nearest-rank percentile (p in 0..1) of values sorted ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** A number with a sensible number of digits for a table cell. */
export function fmt(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '-';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A GitHub-flavoured Markdown table (readable as plain text too). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number): string => (rightAligned[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
