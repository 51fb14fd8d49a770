/**
 * How zkCli reads a command line: words split as ZooKeeperMain splits them (a word, or a whole
 * "double" or 'single' quoted string with the quotes removed), then flags parsed as Apache
 * commons-cli's DefaultParser parses them, with the same error messages.
 */

// ZooKeeperMain's pattern, quirks included (JavaScript backtracks as Java does): a lone quote
// character sticks to the space before it.
const WORD = /\s*([^"']\S*|"[^"]*"|'[^']*')\s*/g;

/** Splits a line into words. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(WORD)) {
    const word = m[1];
    const quoted = word.length >= 2 && (word[0] === '"' || word[0] === "'") && word[word.length - 1] === word[0];
    words.push(quoted ? word.slice(1, -1) : word);
  }
  return words;
}

/** A flag parsing failure; `message` is what zkCli prints for it. */
export class ParseError extends Error {}

/** The parsed words of a command: flags (single letters) and the remaining words, the command name first. */
export interface ParsedLine {
  /** The command name and the words that are not flags or flag values. */
  args: string[];
  has(flag: string): boolean;
  /** The value given to a flag that takes one (the first, if given twice). */
  value(flag: string): string | undefined;
}

/**
 * Parses flags anywhere among the words. `spec` lists the flags, each followed by ':' when it
 * takes a value: a string of letters ('sv:' for -s and -v <value>), or a list of names for flags
 * longer than a letter (['add:', 'remove:', 's']). At most one of the `exclusive` flags may be
 * given (a commons-cli OptionGroup).
 */
export function parseFlags(words: readonly string[], spec: string | readonly string[], exclusive: readonly string[] = []): ParsedLine {
  const takesValue = new Map<string, boolean>();
  const names = typeof spec === 'string' ? (spec.match(/[^:]:?/g) ?? []) : spec;
  for (const name of names) takesValue.set(name.replace(/:$/, ''), name.endsWith(':'));
  const values = new Map<string, string[]>();
  const args: string[] = [];
  let pending: string | null = null; // a flag still waiting for its value
  let rest = false;

  const isFlag = (w: string): boolean => w.startsWith('-') && w.length >= 2 && (takesValue.has(w[1]) || takesValue.has(w.replace(/^-+/, '')));
  const isNegativeNumber = (w: string): boolean => /^-\d+(\.\d+)?$/.test(w);
  const unrecognized = (w: string): never => {
    throw new ParseError(`org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: ${w}`);
  };
  let selected: string | null = null; // the flag chosen from the exclusive group
  const flag = (name: string): void => {
    if (pending !== null) throw new ParseError(`org.apache.commons.cli.MissingArgumentException: Missing argument for option: ${pending}`);
    if (exclusive.includes(name)) {
      if (selected !== null && selected !== name) {
        throw new ParseError(`org.apache.commons.cli.AlreadySelectedException: The option '${name}' was specified but an option from this group has already been selected: '${selected}'`);
      }
      selected = name;
    }
    if (!values.has(name)) values.set(name, []);
    pending = takesValue.get(name) ? name : null;
  };

  for (const w of words) {
    if (rest) {
      args.push(w);
    } else if (w === '--') {
      rest = true;
    } else if (pending !== null && (!isFlag(w) || isNegativeNumber(w))) {
      values.get(pending)!.push(w);
      pending = null;
    } else if (w.startsWith('-') && w !== '-') {
      const body = w.replace(/^-+/, '');
      if (takesValue.has(body)) {
        flag(body);
        continue;
      }
      if (body.length === 1) unrecognized(w);
      // Concatenated flags (-sw), or a flag with its value attached (-v3).
      for (let i = 0; i < body.length; i++) {
        if (!takesValue.has(body[i])) unrecognized(w);
        flag(body[i]);
        if (pending !== null && i + 1 < body.length) {
          values.get(pending)!.push(body.slice(i + 1));
          pending = null;
          break;
        }
      }
    } else {
      args.push(w);
    }
  }
  if (pending !== null) throw new ParseError(`org.apache.commons.cli.MissingArgumentException: Missing argument for option: ${pending}`);
  return {
    args,
    has: (f) => values.has(f),
    value: (f) => values.get(f)?.[0],
  };
}

/** Java's Integer.decode: decimal, 0x/# hex, 0 octal, optional sign; null when it is not one. */
export function decodeInt(s: string): number | null {
  const m = /^([-+]?)(0[xX]|#|0(?=[0-7]))?([0-9a-fA-F]+)$/.exec(s);
  if (!m) return null;
  const radix = m[2] === undefined ? 10 : m[2] === '0' ? 8 : 16;
  const digits = m[3];
  if (radix === 10 && !/^\d+$/.test(digits)) return null;
  if (radix === 8 && !/^[0-7]+$/.test(digits)) return null;
  const n = parseInt(digits, radix) * (m[1] === '-' ? -1 : 1);
  return n >= -0x80000000 && n <= 0x7fffffff ? n : null;
}
