/**
 * Transcript files: a sequence of blocks, each a command line, a line `----`, then the expected
 * output up to the next blank line or the end of the file. Lines starting with `#` and blank lines
 * between blocks are kept as they are, so a file can be rewritten with new outputs unchanged
 * otherwise.
 *
 *   # a comment
 *   propose 1 "some data" k=v
 *   ----
 *   ok
 */

export interface Case {
  /** Comment and blank lines before the command. */
  before: string[];
  /** 1-based line number of the command. */
  line: number;
  /** The command line as written. */
  text: string;
  command: string;
  args: Args;
  expected: string;
}

export interface Transcript {
  cases: Case[];
  /** Comment and blank lines after the last block. */
  after: string[];
}

export function parseTranscript(text: string, file: string): Transcript {
  const lines = text.replace(/\n$/, '').split('\n');
  const cases: Case[] = [];
  let pending: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('#')) {
      pending.push(line);
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`${file}:${i + 2}: expected '----' after the command`);
    const start = i;
    const expected: string[] = [];
    for (i += 2; i < lines.length && lines[i].trim() !== ''; i++) expected.push(lines[i]);
    // The blank line that ends the block belongs to what comes before the next one.
    i--;
    const [command, ...tokens] = tokenize(line);
    cases.push({ before: pending, line: start + 1, text: line, command, args: new Args(tokens), expected: expected.join('\n') });
    pending = [];
  }
  return { cases, after: pending };
}

/** The file again, with each block's output replaced by `outputs[i]`. */
export function renderTranscript(t: Transcript, outputs: readonly string[]): string {
  const lines: string[] = [];
  t.cases.forEach((c, i) => lines.push(...c.before, c.text, '----', outputs[i] ?? c.expected));
  lines.push(...t.after);
  return `${lines.join('\n')}\n`;
}

/** Words separated by spaces; "double quotes" keep spaces, in a word or a value (k="a b"). */
function tokenize(line: string): string[] {
  return [...line.matchAll(/(?:[^\s"]+=)?"[^"]*"|\S+/g)].map((m) => m[0].replace(/"([^"]*)"$/, '$1'));
}

/**
 * A command's arguments: positional words, and `key=value` pairs. Every pair must be read by the
 * command (finish() checks), so a misspelt key is an error rather than silently ignored.
 */
export class Args {
  readonly positional: string[] = [];
  private readonly named = new Map<string, string>();
  private readonly read = new Set<string>();

  constructor(tokens: readonly string[]) {
    for (const t of tokens) {
      const eq = t.indexOf('=');
      if (eq > 0) this.named.set(t.slice(0, eq), t.slice(eq + 1));
      else this.positional.push(t);
    }
  }

  /** The positional words as member ids. */
  ids(): number[] {
    return this.positional.map((p) => toInt(p, 'a member id'));
  }

  /** The member id at position `at`, and nothing after it unless `more` words are expected. */
  id(at = 0, more = 0): number {
    if (this.positional.length !== at + 1 + more) throw new Error(`expected ${at + 1 + more} words, got ${this.positional.length}`);
    return toInt(this.positional[at], 'a member id');
  }

  has(key: string): boolean {
    return this.named.has(key);
  }

  string(key: string): string | undefined {
    this.read.add(key);
    return this.named.get(key);
  }

  int(key: string, fallback: number): number {
    const v = this.string(key);
    return v === undefined ? fallback : toInt(v, key);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.string(key);
    if (v === undefined) return fallback;
    if (v !== 'true' && v !== 'false') throw new Error(`${key}: expected true or false, got ${v}`);
    return v === 'true';
  }

  /** A comma-separated list of ids, parentheses allowed: `drop=2,3` or `voters=(1,2,3)`. */
  ints(key: string): number[] {
    const v = this.string(key);
    if (v === undefined) return [];
    return v.replace(/^\((.*)\)$/, '$1').split(',').filter((s) => s !== '').map((s) => toInt(s, key));
  }

  finish(): void {
    const unknown = [...this.named.keys()].filter((k) => !this.read.has(k));
    if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(', ')}`);
  }
}

function toInt(s: string, what: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`${what}: expected a number, got ${s}`);
  return Number(s);
}
