/**
 * The znode commands of zkCli 3.8, each mapped onto the client API, with zkCli's flags, usage
 * strings, output (stdout or stderr, as zkCli chooses) and error messages.
 */
import { readFileSync } from 'node:fs';
import type { ZooKeeperClient } from '../../client/client.ts';
import { NoNodeError, ZooKeeperError } from '../../client/errors.ts';
import { Ids, type ACL, type AddWatchMode, type CreateMode, type Stat, type Watcher, WatcherType } from '../../client/types.ts';
import { Err } from '../../protocol/constants.ts';
import { pathError } from '../../protocol/path.ts';
import { inHashTableOrder, javaHash } from '../../server/java-hash.ts';
import { parseAcl } from './acl-parser.ts';
import { aclEntry, failureMessage, keeperMessage, statJson, statLines } from './format.ts';
import { parseInt32, parseLong } from '../../protocol/java-strings.ts';
import { ParseError, parseFlags, type ParsedLine } from './line-parser.ts';
import { VERSION } from '../../version.ts';

/** A command failure: the message zkCli prints on stderr and the exit status it leaves. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface CommandContext {
  readonly client: ZooKeeperClient;
  /** The shell's watcher, which prints the events it receives. */
  readonly watcher: Watcher;
  out(text: string): void;
  err(text: string): void;
  /** Set with --json: takes the command's result in place of its printed output. */
  json?(value: unknown): void;
}

/** A command's result: as JSON with --json, otherwise printed as zkCli prints it. */
function result(ctx: CommandContext, value: () => unknown, text: () => string): void {
  if (ctx.json) ctx.json(value());
  else ctx.out(text());
}

export interface CliCommand {
  readonly name: string;
  /** The part of the usage line after the name. */
  readonly options: string;
  run(ctx: CommandContext, words: string[]): Promise<void>;
}

export const usageOf = (c: { name: string; options: string }): string => `${c.name} ${c.options}`;

/** ZooKeeper's TTL limit (EphemeralType.TTL's max value). */
const MAX_TTL = 0xffffffffffn;

export function parse(words: readonly string[], spec: string | readonly string[], exclusive: readonly string[] = []): ParsedLine {
  try {
    return parseFlags(words, spec, exclusive);
  } catch (e) {
    if (e instanceof ParseError) throw new CliError(e.message);
    throw e;
  }
}

/** PathUtils.validatePath's IllegalArgumentException message, for the paths zkCli checks before sending. */
export function checkPath(path: string, sequential = false): void {
  const why = pathError(path, sequential);
  if (why === null) return;
  const bare = why.startsWith('Path ');
  throw new CliError(bare ? why : `Invalid path string "${path}" caused by ${why}`);
}

/**
 * Runs a request; a ZooKeeper failure becomes zkCli's message for it, naming `path` when the
 * failure itself names none (a lost connection), as Java's exceptions do.
 */
export async function request<T>(path: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!(e instanceof ZooKeeperError)) throw e;
    const named = e.path === undefined && path !== undefined ? new ZooKeeperError(e.code, path) : e;
    throw new CliError(failureMessage(named));
  }
}

export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const text = (data: Buffer | null): string => (data === null ? 'null' : data.toString('utf8'));

/** The commands `get`, `ls` and `stat` still take a trailing "watch" word, with a deprecation note. */
function withOldWatchForm(ctx: CommandContext, words: string[], parsed: ParsedLine, spec: string, note: string): ParsedLine {
  if (parsed.args.length <= 2) return parsed;
  const rewritten = [...words];
  rewritten[2] = '-w';
  ctx.err(`${note}\n`);
  return parse(rewritten, spec);
}

function intFlag(value: string | undefined, fallback: number, message: string): number {
  if (value === undefined) return fallback;
  const n = parseInt32(value);
  if (n === null) throw new CliError(message);
  return n;
}

const version = (p: ParsedLine): number => intFlag(p.value('v'), -1, `-v argument must be an int value`);

/** ZKUtil.visitSubTreeDFS: the node, then each level's children in order, depth first. */
export async function visitSubTree(client: ZooKeeperClient, path: string, watch: Watcher | undefined, visit: (path: string) => Promise<void> | void): Promise<void> {
  checkPath(path);
  await client.getData(path, { watch });
  await visit(path);
  const walk = async (node: string): Promise<void> => {
    let children: string[];
    try {
      children = ((await client.getChildren(node, { watch })) as string[]).sort();
    } catch (e) {
      if (e instanceof NoNodeError) return; // deleted since it was listed
      throw e;
    }
    const prefix = node === '/' ? '/' : `${node}/`;
    for (const child of children) await visit(prefix + child);
    for (const child of children) await walk(prefix + child);
  };
  await walk(path);
}

const create: CliCommand = {
  name: 'create',
  options: '[-s] [-e] [-c] [-t ttl] path [data] [acl]',
  async run(ctx, words) {
    const p = parse(words, 'esct:');
    if (p.args.length < 2) throw new CliError(usageOf(create));
    const [e, s, c, t] = ['e', 's', 'c', 't'].map((f) => p.has(f));
    if (c && (e || s)) throw new CliError('-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.');
    let ttl = 0n;
    if (t) {
      const parsed = parseLong(p.value('t')!);
      if (parsed === null) throw new CliError('-t argument must be a long value');
      ttl = parsed;
    }
    if (t && e) throw new CliError('TTLs cannot be used with Ephemeral znodes');
    if (t && c) throw new CliError('TTLs cannot be used with Container znodes');
    const mode: CreateMode = e && s ? 'ephemeral_sequential'
      : e ? 'ephemeral'
      : s ? (t ? 'persistent_sequential_with_ttl' : 'persistent_sequential')
      : c ? 'container'
      : t ? 'persistent_with_ttl' : 'persistent';
    if (t && (ttl <= 0n || ttl > MAX_TTL)) throw new CliError(`ttl must be positive and cannot be larger than: ${MAX_TTL}`);
    const path = p.args[1];
    const data = p.args.length > 2 ? bytes(p.args[2]) : null;
    const acl: ACL[] = p.args.length > 3 ? parseAcl(p.args[3], (line) => ctx.err(`${line}\n`)) : Ids.OPEN_ACL_UNSAFE;
    checkPath(path, s);
    if (acl.length === 0) {
      ctx.err(`${keeperMessage(Err.INVALIDACL, undefined)}\n`);
      throw new CliError(failureMessage(new ZooKeeperError(Err.INVALIDACL)));
    }
    const created = await request(path, async () => {
      try {
        return await ctx.client.create(path, data, { mode, acl, ttl: t ? Number(ttl) : undefined });
      } catch (err) {
        if (err instanceof ZooKeeperError && err.code === Err.INVALIDACL) ctx.err(`${keeperMessage(err.code, err.path)}\n`);
        throw err;
      }
    });
    if (ctx.json) ctx.json({ path: created });
    else ctx.err(`Created ${created}\n`);
  },
};

const get: CliCommand = {
  name: 'get',
  options: '[-s] [-w] path',
  async run(ctx, words) {
    let p = parse(words, 'sw');
    if (p.args.length < 2) throw new CliError(usageOf(get));
    p = withOldWatchForm(ctx, words, p, 'sw', "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.");
    const path = p.args[1];
    checkPath(path);
    const { data, stat } = await request(path, () => ctx.client.getData(path, { watch: p.has('w') ? ctx.watcher : undefined }));
    result(ctx, () => ({ data: data === null ? null : text(data), stat: statJson(stat) }), () => `${text(data)}\n${p.has('s') ? statLines(stat) : ''}`);
  },
};

const LS_HELP = 'usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch\n';

const ls: CliCommand = {
  name: 'ls',
  options: '[-s] [-w] [-R] path',
  async run(ctx, words) {
    let p = parse(words, '?swR');
    if (p.has('?')) ctx.out(LS_HELP);
    p = withOldWatchForm(ctx, words, p, '?swR', "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.");
    if (p.args.length < 2) throw new CliError(usageOf(ls));
    const path = p.args[1];
    const watch = p.has('w') ? ctx.watcher : undefined;
    checkPath(path);
    if (p.has('R')) {
      const nodes: string[] = [];
      await request(path, () => visitSubTree(ctx.client, path, watch, (node) => (ctx.json ? void nodes.push(node) : ctx.out(`${node}\n`))));
      ctx.json?.(nodes);
      return;
    }
    const res = await request(path, () => ctx.client.getChildren(path, { watch, stat: p.has('s') }));
    const { children, stat } = Array.isArray(res) ? { children: res, stat: undefined } : res;
    const sorted = [...children].sort();
    result(ctx, () => (stat ? { children: sorted, stat: statJson(stat) } : sorted), () => `[${sorted.join(', ')}]\n${stat ? statLines(stat) : ''}`);
  },
};

const stat: CliCommand = {
  name: 'stat',
  options: '[-w] path',
  async run(ctx, words) {
    let p = parse(words, 'w');
    if (p.args.length < 2) throw new CliError(usageOf(stat));
    p = withOldWatchForm(ctx, words, p, 'w', "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.");
    const path = p.args[1];
    checkPath(path);
    const found = await request(path, () => ctx.client.exists(path, { watch: p.has('w') ? ctx.watcher : undefined }));
    if (found === null) throw new CliError(failureMessage(new NoNodeError(Err.NONODE, path)));
    result(ctx, () => statJson(found), () => statLines(found));
  },
};

const set: CliCommand = {
  name: 'set',
  options: '[-s] [-v version] path data',
  async run(ctx, words) {
    const p = parse(words, 'sv:');
    if (p.args.length < 3) throw new CliError(usageOf(set));
    const [, path, data] = p.args;
    const v = version(p);
    checkPath(path);
    const stat = await request(path, () => ctx.client.setData(path, bytes(data), { version: v }));
    if (ctx.json) ctx.json(statJson(stat));
    else if (p.has('s')) ctx.out(statLines(stat));
  },
};

const del: CliCommand = {
  name: 'delete',
  options: '[-v version] path',
  async run(ctx, words) {
    const p = parse(words, 'v:');
    if (p.args.length < 2) throw new CliError(usageOf(del));
    // zkCli 3.8 still accepts the old `delete path version` form, but ignores the version.
    if (p.args.length > 2) ctx.err("'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.\n");
    const path = p.args[1];
    const v = version(p);
    checkPath(path);
    await request(path, () => ctx.client.delete(path, { version: v }));
  },
};

const deleteAll: CliCommand = {
  name: 'deleteall',
  options: 'path [-b batch size]',
  async run(ctx, words) {
    const p = parse(words, 'b:');
    if (p.args.length < 2) throw new CliError(usageOf(deleteAll));
    const batch = intFlag(p.value('b'), 1000, '-b argument must be an int value');
    const path = p.args[1];
    checkPath(path);
    const ok = await request(path, () => deleteRecursive(ctx.client, path, batch));
    if (!ok) ctx.err('Failed to delete some node(s) in the subtree!\n');
  },
};

/** ZKUtil.deleteRecursive: list the subtree breadth first, then delete it deepest first, in multis of `batch`. */
async function deleteRecursive(client: ZooKeeperClient, root: string, batch: number): Promise<boolean> {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    const node = tree[i];
    for (const child of (await client.getChildren(node)) as string[]) tree.push(node === '/' ? `/${child}` : `${node}/${child}`);
  }
  let ops: { type: 'delete'; path: string }[] = [];
  for (let i = tree.length - 1; i >= 0; i--) {
    ops.push({ type: 'delete', path: tree[i] });
    if (ops.length === batch || i === 0) {
      try {
        await client.multi(ops);
      } catch (e) {
        if (e instanceof ZooKeeperError && e.code !== Err.CONNECTIONLOSS && e.code !== Err.SESSIONEXPIRED) return false;
        throw e;
      }
      ops = [];
    }
  }
  return true;
}

const getAcl: CliCommand = {
  name: 'getAcl',
  options: '[-s] path',
  async run(ctx, words) {
    const p = parse(words, 's');
    if (p.args.length < 2) throw new CliError(usageOf(getAcl));
    const path = p.args[1];
    checkPath(path);
    const { acl, stat } = await request(path, () => ctx.client.getACL(path));
    result(ctx, () => ({ acl: acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: a.perms })), stat: statJson(stat) }),
      () => acl.map(aclEntry).join('') + (p.has('s') ? statLines(stat) : ''));
  },
};

const setAcl: CliCommand = {
  name: 'setAcl',
  options: '[-s] [-v version] [-R] path acl',
  async run(ctx, words) {
    const p = parse(words, 'sv:R');
    if (p.args.length < 3) throw new CliError(usageOf(setAcl));
    const path = p.args[1];
    const acl = parseAcl(p.args[2], (line) => ctx.err(`${line}\n`));
    const v = version(p);
    checkPath(path);
    if (acl.length === 0) throw new CliError(failureMessage(new ZooKeeperError(Err.INVALIDACL)));
    if (p.has('R')) {
      await request(path, () =>
        visitSubTree(ctx.client, path, undefined, async (node) => {
          try {
            await ctx.client.setACL(node, acl, { version: v });
          } catch (e) {
            // zkCli prints these without a line break.
            if (e instanceof ZooKeeperError) ctx.out(keeperMessage(e.code, e.path));
            else throw e;
          }
        }),
      );
      return;
    }
    const result: Stat = await request(path, () => ctx.client.setACL(path, acl, { version: v }));
    if (p.has('s')) ctx.out(statLines(result));
  },
};

const addAuth: CliCommand = {
  name: 'addauth',
  options: 'scheme auth',
  async run(ctx, words) {
    const p = parse(words, '');
    if (p.args.length < 2) throw new CliError(usageOf(addAuth));
    const auth = p.args.length >= 3 ? bytes(p.args[2]) : null;
    // As in zkCli, a refusal is not this command's failure: the session ends with AuthFailed, which the watcher prints.
    await ctx.client.addAuthInfo(p.args[1], auth).catch(() => {});
  },
};

const sync: CliCommand = {
  name: 'sync',
  options: 'path',
  async run(ctx, words) {
    const p = parse(words, '');
    if (p.args.length < 2) throw new CliError(usageOf(sync));
    const path = p.args[1];
    checkPath(path);
    try {
      await ctx.client.sync(path);
      result(ctx, () => ({ ok: true }), () => 'Sync is OK\n');
    } catch (e) {
      if (!(e instanceof ZooKeeperError)) throw e;
      result(ctx, () => ({ ok: false, rc: e.code }), () => `Sync has failed. rc=${e.code}\n`);
    }
  },
};

const ADD_WATCH_MODES: Readonly<Record<string, AddWatchMode>> = { PERSISTENT: 'persistent', PERSISTENT_RECURSIVE: 'persistent_recursive' };

const addWatch: CliCommand = {
  name: 'addWatch',
  options: '[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE',
  async run(ctx, words) {
    const p = parse(words, 'm:');
    if (p.args.length !== 2) throw new CliError(usageOf(addWatch));
    let mode: AddWatchMode = 'persistent_recursive';
    if (p.has('m')) {
      const named = ADD_WATCH_MODES[p.value('m')!.toUpperCase()];
      if (named === undefined) throw new CliError(usageOf(addWatch));
      mode = named;
    }
    const path = p.args[1];
    checkPath(path);
    await request(path, () => ctx.client.addWatch(path, mode, ctx.watcher));
  },
};

const removeWatches: CliCommand = {
  name: 'removewatches',
  options: 'path [-c|-d|-a] [-l]',
  async run(ctx, words) {
    const p = parse(words, 'cdal');
    if (p.args.length < 2) throw new CliError(usageOf(removeWatches));
    const type: WatcherType = p.has('c') ? WatcherType.CHILDREN : p.has('d') ? WatcherType.DATA : WatcherType.ANY;
    const path = p.args[1];
    checkPath(path);
    await request(path, () => ctx.client.removeWatches(path, type, { local: p.has('l') }));
  },
};

const getEphemerals: CliCommand = {
  name: 'getEphemerals',
  options: 'path',
  async run(ctx, words) {
    const p = parse(words, '');
    const path = p.args.length > 1 ? p.args[1] : '/';
    checkPath(path);
    const paths = await request(path, () => ctx.client.getEphemerals(path));
    result(ctx, () => paths, () => `[${paths.join(', ')}]\n`);
  },
};

const getAllChildrenNumber: CliCommand = {
  name: 'getAllChildrenNumber',
  options: 'path',
  async run(ctx, words) {
    const p = parse(words, '');
    if (p.args.length < 2) throw new CliError(usageOf(getAllChildrenNumber));
    const path = p.args[1];
    checkPath(path);
    const count = await request(path, () => ctx.client.getAllChildrenNumber(path));
    result(ctx, () => count, () => `${count}\n`);
  },
};

const whoami: CliCommand = {
  name: 'whoami',
  options: '',
  async run(ctx) {
    const infos = await request(undefined, () => ctx.client.whoAmI());
    result(ctx, () => infos.map((i) => ({ scheme: i.authScheme, user: i.user })), () => `Auth scheme: User\n${infos.map((i) => `${i.authScheme}: ${i.user}\n`).join('')}`);
  },
};

const close: CliCommand = {
  name: 'close',
  options: '',
  async run(ctx) {
    await ctx.client.close();
  },
};

/**
 * ConfigUtils.getClientConfigStr: "version host:port,host:port" from the dynamic configuration,
 * the servers in the order zkCli walks the java.util.Properties it loads them into (Java 17: a
 * ConcurrentHashMap of 16 buckets, doubled once 3/4 full).
 */
function clientConfig(config: string): string {
  const entries = new Map<string, string>();
  for (const line of config.split('\n')) {
    const eq = line.indexOf('=');
    if (eq >= 0) entries.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  let capacity = 16;
  while (entries.size >= capacity * 0.75) capacity *= 2;
  const keys = [...entries.keys()];
  const servers: string[] = [];
  for (const key of inHashTableOrder(keys, keys.map(javaHash), [capacity])) {
    if (!key.startsWith('server.')) continue;
    const client = entries.get(key)!.split(';')[1];
    if (client !== undefined) servers.push(client.includes(':') ? client : `0.0.0.0:${client}`);
  }
  return `${entries.get('version') ?? ''} ${servers.join(',')}`;
}

const config: CliCommand = {
  name: 'config',
  options: '[-c] [-w] [-s]',
  async run(ctx, words) {
    const p = parse(words, 'cws');
    const { data, stat } = await request('/zookeeper/config', () => ctx.client.getData('/zookeeper/config', { watch: p.has('w') ? ctx.watcher : undefined }));
    const shown = p.has('c') ? clientConfig(text(data)) : text(data);
    result(ctx, () => ({ data: shown, stat: statJson(stat) }), () => `${shown}\n${p.has('s') ? statLines(stat) : ''}`);
  },
};

const versionCommand: CliCommand = {
  name: 'version',
  options: '',
  async run(ctx) {
    result(ctx, () => ({ version: VERSION }), () => `ZooKeeper CLI version: Ensemble ${VERSION}\n`);
  },
};

const reconfig: CliCommand = {
  name: 'reconfig',
  options: '[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]',
  async run(ctx, words) {
    const p = parse(words, ['s', 'v:', 'file:', 'members:', 'add:', 'remove:']);
    const [file, members, add, remove] = ['file', 'members', 'add', 'remove'].map((f) => p.has(f));
    if (!file && !members && !add && !remove) throw new CliError(usageOf(reconfig));
    let fromConfig = -1;
    if (p.has('v')) {
      const v = /^[0-9a-fA-F]+$/.test(p.value('v')!) ? parseInt(p.value('v')!, 16) : NaN;
      if (!Number.isSafeInteger(v)) throw new CliError('-v must be followed by a long (configuration version)');
      fromConfig = v;
    }
    if ((file || members) && (add || remove)) {
      throw new CliError("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)");
    }
    if (file && members) throw new CliError("Can't use -file and -members together (conflicting non-incremental modes)");
    let newMembers = p.value('members')?.toLowerCase();
    if (file) newMembers = membersFromFile(p.value('file')!);
    const { data, stat } = await request(undefined, () =>
      ctx.client.reconfig({ joining: p.value('add')?.toLowerCase(), leaving: p.value('remove')?.toLowerCase(), newMembers, fromConfig }),
    );
    ctx.out(`Committed new configuration:\n${text(data)}\n`);
    if (p.has('s')) ctx.out(statLines(stat));
  },
};

/** The `server.N=…` lines of a dynamic configuration file, as reconfig -file sends them. */
function membersFromFile(file: string): string {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
    throw new CliError(`Error processing ${file}${file} (${why})`);
  }
  return content
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^server\.\d+\s*=/.test(l))
    .join('\n');
}

/** zkCli's commands on znodes (the quota commands are in quota-commands.ts). */
export const ZNODE_COMMANDS: readonly CliCommand[] = [
  create, get, ls, stat, set, del, deleteAll, getAcl, setAcl, addAuth, sync, addWatch, removeWatches, getEphemerals,
  getAllChildrenNumber, whoami, close, config, versionCommand, reconfig,
];
