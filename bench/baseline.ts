/**
 * `--baseline REV`: Ensemble as it was at an earlier commit, checked out into a temporary git
 * worktree (with this repository's node_modules linked in) and compiled there, so that it runs as
 * a third server beside the current one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './servers.ts';

const run = promisify(execFile);

export interface Baseline {
  /** The revision as given on the command line. */
  rev: string;
  /** Its commit, abbreviated. */
  commit: string;
  subject: string;
  /** The worktree: the checkout whose bin/ensemble.js runs. */
  dir: string;
  /** How the report names this server: ensemble@<commit>. */
  name: string;
}

async function git(args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  return stdout.trim();
}

/** The worktree of a baseline, known as soon as it exists, so that an interrupt can remove it. */
export type OnWorktree = (baseline: Baseline) => void;

/** Checks REV out into a temporary worktree and compiles it there (tsconfig.build.json). */
export async function buildBaseline(rev: string, onWorktree: OnWorktree): Promise<Baseline> {
  const commit = await git(['rev-parse', '--short', '--verify', `${rev}^{commit}`]).catch(() => {
    throw new Error(`--baseline: "${rev}" is not a commit of this repository`);
  });
  const subject = await git(['log', '-1', '--format=%s', commit]);
  const dir = await mkdtemp(join(tmpdir(), `bench-baseline-${commit}-`));
  const baseline: Baseline = { rev, commit, subject, dir, name: `ensemble@${commit}` };
  onWorktree(baseline);
  await git(['worktree', 'add', '--detach', dir, commit]);
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: dir, encoding: 'utf8' }).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`--baseline: ${commit} does not compile:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  });
  return baseline;
}

/** Removes the worktree (and its registration in the repository). */
export async function removeBaseline(baseline: Baseline): Promise<void> {
  // The link first: nothing below may reach into the repository's own node_modules.
  await rm(join(baseline.dir, 'node_modules'), { force: true });
  try {
    await git(['worktree', 'remove', '--force', baseline.dir]);
  } catch {
    // Not (or not fully) added as a worktree: delete the directory and forget the registration.
    await rm(baseline.dir, { recursive: true, force: true });
    await git(['worktree', 'prune']).catch(() => undefined);
  }
}
