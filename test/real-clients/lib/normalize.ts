/**
 * Normalization of client transcripts so that two servers can be compared: values that
 * legitimately differ between runs (zxids, session ids, times) are masked, while the
 * relations between them within one transcript are kept where that is cheap.
 */

/**
 * Replaces each distinct 0x… number (except 0x0) by a label in order of first appearance.
 * Numbers for which `keep` returns true are left as they are.
 */
export function renumberHex(text: string, prefix = 'H', keep: (value: bigint) => boolean = () => false): string {
  const labels = new Map<string, string>();
  return text.replace(/\b0x([0-9a-fA-F]+)\b/g, (m, hex: string) => {
    const value = BigInt(`0x${hex}`);
    if (value === 0n) return '0x0';
    if (keep(value)) return m;
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

/** zkCli's Closed notification as rendered: the event thread's two writes. */
const CLOSED_EVENT = ['', 'WATCHER::', '', 'WatchedEvent state:Closed type:None path:null'];

/**
 * Drops zkCli's Closed notification from the end of its output after `quit`: its event thread
 * prints it while the main thread calls System.exit, so all of it, its first write only, or none
 * of it appears (seen every way, against either server).
 */
export function withoutClosedEvent(lines: string[]): string[] {
  for (const n of [CLOSED_EVENT.length, 3, 2]) {
    const at = lines.length - n;
    if (at >= 0 && CLOSED_EVENT.slice(0, n).every((l, i) => lines[at + i] === l)) return lines.slice(0, at);
  }
  return lines;
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

/**
 * Lines that only a Java client prints and that say nothing about the command: SLF4J's
 * warnings about missing bindings, and log lines should a logging binding be on the class path.
 */
export function isJavaNoiseLine(line: string): boolean {
  return (
    /^SLF4J: /.test(line) ||
    /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/.test(line) ||
    /^\[[^\]]+\] (INFO|WARN|ERROR|DEBUG) /.test(line)
  );
}

/**
 * Removes what only a Java client prints (see isJavaNoiseLine). SLF4J's warnings are removed
 * wherever they start, not only at the start of a line: another thread may print one between
 * two writes of a line, e.g. between `Exception in thread "main" ` and the exception.
 */
export function stripJavaNoise(text: string): string {
  return text
    .replace(/SLF4J: [^\n]*\n/g, '')
    .split('\n')
    .filter((line) => !isJavaNoiseLine(line))
    .join('\n');
}

/**
 * Drops the frames of a Java stack trace (`\tat …`, `\t... N more`), keeping its first line
 * (`Exception in thread "main" java.lang.NumberFormatException: For input string: "abc"`) and
 * any `Caused by:` lines.
 */
export function stripJavaStackFrames(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\tat [\w$.<>/]+\(.*\)$/.test(line) && !/^\t\.\.\. \d+ more$/.test(line))
    .join('\n');
}
