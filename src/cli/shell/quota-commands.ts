/**
 * zkCli's quota commands. A quota is a pair of znodes under /zookeeper/quota<path>: the limits,
 * written here, and the statistics, which the server keeps up to date. As in zkCli 3.8, only the
 * messages say when a quota is exceeded (unless the server enforces hard limits).
 */
import type { ZooKeeperClient } from '../../client/client.ts';
import { NoNodeError, NodeExistsError } from '../../client/errors.ts';
import { LIMIT_NODE, QUOTA_ROOT, STAT_NODE, StatsTrack, limitPath, quotaPath, statPath, type StatsKey } from '../../protocol/stats-track.ts';
import { CliError, checkPath, parse, request, usageOf, visitSubTree, type CliCommand } from './commands.ts';
import { javaSplit, parseInt32, parseLong } from '../../protocol/java-strings.ts';

const trimQuotaPath = (path: string): string => path.slice(QUOTA_ROOT.length);

/** The quota flags: soft and hard limits on the number of nodes and on their bytes. */
const LIMIT_FLAGS: readonly { flag: string; key: StatsKey; description: string }[] = [
  { flag: 'n', key: 'count', description: 'num soft quota' },
  { flag: 'b', key: 'bytes', description: 'bytes soft quota' },
  { flag: 'N', key: 'countHardLimit', description: 'num hard quota' },
  { flag: 'B', key: 'byteHardLimit', description: 'bytes hard quota' },
];
const GROUP = LIMIT_FLAGS.map((f) => f.flag);

async function exists(client: ZooKeeperClient, path: string): Promise<boolean> {
  checkPath(path);
  return (await client.exists(path)) !== null;
}

async function readTrack(client: ZooKeeperClient, path: string): Promise<StatsTrack> {
  return new StatsTrack((await client.getData(path)).data);
}

/** Creates a node, or leaves the one that is there. */
async function ensureNode(client: ZooKeeperClient, path: string, data: Buffer | null = null): Promise<void> {
  try {
    await client.create(path, data);
  } catch (e) {
    if (!(e instanceof NodeExistsError)) throw e;
  }
}

const setQuota: CliCommand = {
  name: 'setquota',
  options: '-n|-b|-N|-B val path',
  async run(ctx, words) {
    const p = parse(words, 'n:b:N:B:', GROUP);
    if (!GROUP.some((f) => p.has(f))) {
      const options = LIMIT_FLAGS.map((f) => `-${f.flag} ${f.description}`).join(', ');
      throw new CliError(`org.apache.commons.cli.MissingOptionException: Missing required option: [${options}]`);
    }
    if (p.args.length < 2) throw new CliError(usageOf(setQuota));
    const path = p.args[1];
    if (path.startsWith(QUOTA_ROOT)) {
      ctx.err(`cannot set a quota under the path: ${QUOTA_ROOT}\n`);
      return;
    }
    const quota = new StatsTrack();
    for (const { key } of LIMIT_FLAGS) quota.set(key, -1n);
    for (const { flag, key } of LIMIT_FLAGS) {
      const value = p.value(flag);
      if (value === undefined) continue;
      const n = key === 'count' || key === 'countHardLimit' ? parseInt32(value) : parseLong(value);
      if (n === null) {
        ctx.err('NumberFormatException happens when parsing the option value\n');
        return;
      }
      const isCount = key === 'count' || key === 'countHardLimit';
      if (isCount ? n <= 0 : n < 0) {
        ctx.err(isCount ? 'the num quota must be greater than zero\n' : 'the bytes quota must be greater than or equal to zero\n');
        return;
      }
      quota.set(key, BigInt(n));
    }
    await request(path, () => createQuota(ctx.client, path, quota, (line) => ctx.out(`${line}\n`)));
  },
};

/** SetQuotaCommand.createQuota: checks, then the quota's znodes, created or updated. */
async function createQuota(client: ZooKeeperClient, path: string, quota: StatsTrack, warn: (line: string) => void): Promise<void> {
  if (!(await exists(client, path))) throw new CliError(`${path} does not exist.`);
  await checkNoQuotaBelow(client, path);
  await checkNoQuotaAbove(client, path);
  if (!(await client.exists(QUOTA_ROOT))) {
    try {
      await client.create('/zookeeper', null);
      await client.create(QUOTA_ROOT, null);
    } catch (e) {
      if (!(e instanceof NodeExistsError)) throw e;
    }
  }
  let node = QUOTA_ROOT;
  for (const part of javaSplit(path, '/').slice(1)) {
    node += `/${part}`;
    if (!(await client.exists(node))) await ensureNode(client, node);
  }
  const limits = `${node}/${LIMIT_NODE}`;
  const stats = `${node}/${STAT_NODE}`;
  if (!(await client.exists(limits))) {
    await client.create(limits, quota.bytesOf());
    const zero = new StatsTrack();
    zero.set('count', 0n);
    zero.set('bytes', 0n);
    await client.create(stats, zero.bytesOf());
    warnIfExceeded(await readTrack(client, limits), await readTrack(client, stats), warn);
    return;
  }
  const current = await readTrack(client, limits);
  for (const { key } of LIMIT_FLAGS) if (quota.get(key) > -1n) current.set(key, quota.get(key));
  warnIfExceeded(current, await readTrack(client, stats), warn);
  await client.setData(limits, current.bytesOf());
}

function warnIfExceeded(quota: StatsTrack, stats: StatsTrack, warn: (line: string) => void): void {
  const over = (soft: StatsKey, hard: StatsKey, used: bigint): boolean =>
    (quota.get(soft) > -1n && quota.get(soft) < used) || (quota.get(hard) > -1n && quota.get(hard) < used);
  if (over('count', 'countHardLimit', stats.get('count'))) warn(`[Warning]: the count quota you create is less than the existing count:${stats.get('count')}`);
  if (over('bytes', 'byteHardLimit', stats.get('bytes'))) warn(`[Warning]: the bytes quota you create is less than the existing bytes:${stats.get('bytes')}`);
}

/** The children of a node, or null when it has gone. */
async function childrenIfAny(client: ZooKeeperClient, path: string): Promise<string[] | null> {
  try {
    return await client.getChildren(path);
  } catch (e) {
    if (e instanceof NoNodeError) return null;
    throw e;
  }
}

/** No node below `path` may have a quota of its own. */
async function checkNoQuotaBelow(client: ZooKeeperClient, path: string): Promise<void> {
  const own = quotaPath(path);
  try {
    await visitSubTree(client, own, undefined, async (node) => {
      const children = await childrenIfAny(client, node);
      if (children === null) return;
      if (node !== own && children.includes(LIMIT_NODE)) throw new CliError(`${path} has a child ${trimQuotaPath(node)} which has a quota`);
    });
  } catch (e) {
    if (!(e instanceof NoNodeError)) throw e;
  }
}

/** No node above `path` may have a quota. */
async function checkNoQuotaAbove(client: ZooKeeperClient, path: string): Promise<void> {
  const parts = javaSplit(path, '/');
  let node = QUOTA_ROOT;
  for (let i = 1; i < parts.length - 1; i++) {
    node += `/${parts[i]}`;
    const children = await childrenIfAny(client, node);
    if (children === null || children.length === 0) return;
    if (node !== quotaPath(path) && children.includes(LIMIT_NODE)) throw new CliError(`${path} has a parent ${trimQuotaPath(node)} which has a quota`);
  }
}

const listQuota: CliCommand = {
  name: 'listquota',
  options: 'path',
  async run(ctx, words) {
    const p = parse(words, '');
    if (p.args.length < 2) throw new CliError(usageOf(listQuota));
    const path = p.args[1];
    ctx.err(`absolute path is ${limitPath(path)}\n`);
    checkPath(limitPath(path));
    let limits: StatsTrack;
    let stats: StatsTrack;
    try {
      limits = await request(path, () => readTrack(ctx.client, limitPath(path)));
      stats = await request(path, () => readTrack(ctx.client, statPath(path)));
    } catch (e) {
      if (e instanceof CliError && e.message.startsWith('Node does not exist')) {
        ctx.err(`quota for ${path} does not exist.\n`);
        return;
      }
      throw e;
    }
    ctx.out(`Output quota for ${path} ${limits}\n`);
    ctx.out(`Output stat for ${path} ${stats}\n`);
  },
};

const delQuota: CliCommand = {
  name: 'delquota',
  options: '[-n|-b|-N|-B] path',
  async run(ctx, words) {
    const p = parse(words, 'nbNB', GROUP);
    if (p.args.length < 2) throw new CliError(usageOf(delQuota));
    const path = p.args[1];
    const chosen = LIMIT_FLAGS.filter((f) => p.has(f.flag)).map((f) => f.key);
    try {
      await request(path, async () => {
        const limits = limitPath(path);
        checkPath(limits);
        if (!(await ctx.client.exists(limits))) {
          ctx.out(`Quota does not exist for ${path}\n`);
          return;
        }
        const current = await readTrack(ctx.client, limits);
        if (chosen.length === 0) {
          const parent = quotaPath(path);
          for (const child of await ctx.client.getChildren(parent)) await ctx.client.delete(`${parent}/${child}`);
          await trimQuotaTree(ctx.client, parent);
          return;
        }
        for (const key of chosen) current.set(key, -1n);
        await ctx.client.setData(limits, current.bytesOf());
      });
    } catch (e) {
      if (e instanceof CliError && e.message.startsWith('Node does not exist')) {
        ctx.err(`quota for ${path} does not exist.\n`);
        return;
      }
      throw e;
    }
  },
};

/** Removes the now empty znodes of a deleted quota, up to /zookeeper/quota. */
async function trimQuotaTree(client: ZooKeeperClient, path: string): Promise<void> {
  for (let node = path; node !== QUOTA_ROOT; node = node.slice(0, node.lastIndexOf('/'))) {
    if ((await client.getChildren(node)).length > 0) return;
    await client.delete(node);
  }
}

export const QUOTA_COMMANDS: readonly CliCommand[] = [setQuota, listQuota, delQuota];
