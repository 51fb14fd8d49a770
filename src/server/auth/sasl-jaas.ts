/**
 * JAAS login configuration files, as Java's ConfigFile reads them, and the DIGEST-MD5 credentials
 * ZooKeeper takes from them: the server's `user_<name>="<password>"` options (section Server) and
 * a client's `username`/`password` (section Client).
 *
 *   Server {
 *     org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_bob="secret";   // comments: // and slash-star
 *   };
 */
import { readFileSync } from 'node:fs';

export const DIGEST_LOGIN_MODULE = 'org.apache.zookeeper.server.auth.DigestLoginModule';
const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);

export interface JaasEntry {
  loginModule: string;
  flag: string;
  options: Map<string, string>;
}

/** Section name -> its login module entries. */
export type JaasConfig = Map<string, JaasEntry[]>;

interface Token { text: string; quoted: boolean; line: number }

/** Words (module class names, option keys and values), quoted strings, and { } ; = . */
function tokenize(text: string, origin: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${origin}: line ${line}: ${what}`);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment');
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 2;
    } else if (c === '"' || c === "'") {
      const startLine = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail('unterminated quoted string');
        const ch = text[i++];
        if (ch === c) break;
        if (ch === '\\' && i < text.length) {
          const e = text[i++];
          value += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e;
        } else {
          value += ch;
        }
      }
      tokens.push({ text: value, quoted: true, line: startLine });
    } else if ('{};='.includes(c)) {
      tokens.push({ text: c, quoted: false, line });
      i++;
    } else if (/[\w$.\-*\u0080-\uffff]/.test(c)) {
      const start = i;
      while (i < text.length && /[\w$.\-*\u0080-\uffff]/.test(text[i])) i++;
      tokens.push({ text: text.slice(start, i), quoted: false, line });
    } else {
      fail(`unexpected character "${c}"`);
    }
  }
  return tokens;
}

/** Parses a JAAS file's text; `origin` names it in errors. */
export function parseJaas(text: string, origin = 'JAAS configuration'): JaasConfig {
  const tokens = tokenize(text, origin);
  const config: JaasConfig = new Map();
  let i = 0;
  const fail = (what: string): never => {
    const at = tokens[Math.min(i, tokens.length - 1)];
    throw new Error(`${origin}: ${at ? `line ${at.line}: ` : ''}${what}`);
  };
  const word = (what: string): string => {
    const t = tokens[i];
    if (t === undefined || (!t.quoted && '{};='.includes(t.text))) fail(`expected ${what}${t ? `, found "${t.text}"` : ' before the end'}`);
    i++;
    return t.text;
  };
  const expect = (punct: string): void => {
    const t = tokens[i];
    if (t === undefined || t.quoted || t.text !== punct) fail(`expected "${punct}"${t ? `, found "${t.text}"` : ' before the end'}`);
    i++;
  };
  const at = (punct: string): boolean => tokens[i] !== undefined && !tokens[i].quoted && tokens[i].text === punct;
  while (i < tokens.length) {
    const name = word('a section name');
    if (config.has(name)) fail(`section ${name} is given twice`);
    expect('{');
    const entries: JaasEntry[] = [];
    while (!at('}')) {
      const loginModule = word('a login module class name');
      const flag = word('a control flag (required, requisite, sufficient or optional)');
      if (!FLAGS.has(flag.toLowerCase())) fail(`"${flag}" is not a control flag (required, requisite, sufficient or optional)`);
      const options = new Map<string, string>();
      while (!at(';')) {
        const key = word('an option name or ";"');
        expect('=');
        options.set(key, word(`a value for ${key}`));
      }
      expect(';');
      entries.push({ loginModule, flag: flag.toLowerCase(), options });
    }
    expect('}');
    expect(';');
    config.set(name, entries);
  }
  return config;
}

/** The DigestLoginModule entries of a section; anything else there is refused by name. */
function digestEntries(config: JaasConfig, section: string, origin: string): JaasEntry[] {
  const entries = config.get(section);
  if (entries === undefined) {
    const found = [...config.keys()];
    throw new Error(`${origin}: no JAAS configuration section named '${section}' was found${found.length > 0 ? ` (sections: ${found.join(', ')})` : ''}`);
  }
  for (const e of entries) {
    if (/Krb5LoginModule$/.test(e.loginModule)) {
      throw new Error(`${origin}: section ${section}: ${e.loginModule}: Kerberos (GSSAPI) is not supported, only DIGEST-MD5 with ${DIGEST_LOGIN_MODULE}`);
    }
    if (e.loginModule !== DIGEST_LOGIN_MODULE) {
      throw new Error(`${origin}: section ${section}: login module ${e.loginModule} is not supported, only ${DIGEST_LOGIN_MODULE}`);
    }
  }
  return entries;
}

/** SaslServerCallbackHandler: every `user_<name>` option of the section is a user and its password. */
export function serverCredentials(config: JaasConfig, section: string, origin: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const e of digestEntries(config, section, origin)) {
    for (const [key, value] of e.options) if (key.startsWith('user_')) users.set(key.slice('user_'.length), value);
  }
  return users;
}

/** A client section's DigestLoginModule `username` and `password`. */
export function clientCredentials(config: JaasConfig, section: string, origin: string): { username: string; password: string } {
  for (const e of digestEntries(config, section, origin)) {
    const username = e.options.get('username');
    const password = e.options.get('password');
    if (username !== undefined && password !== undefined) return { username, password };
  }
  throw new Error(`${origin}: section ${section} has no DigestLoginModule entry with both username and password`);
}

/** A -Dname=value flag in a JVM flags string (SERVER_JVMFLAGS, CLIENT_JVMFLAGS...), quoted or not. */
export function jvmProperty(flags: string | undefined, name: string): string | undefined {
  if (flags === undefined) return undefined;
  const m = new RegExp(`-D${name.replace(/\./g, '\\.')}=("[^"]*"|'[^']*'|\\S+)`).exec(flags);
  return m?.[1].replace(/^["']|["']$/g, '');
}

export function loadJaas(file: string): JaasConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the JAAS configuration ${file}: ${(e as Error).message}`);
  }
  return parseJaas(text, file);
}
