/** What a benchmark report says about where it ran and what it measured. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { REPO_ROOT } from './servers.ts';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  java: string;
  loadAvg1AtStart: number;
}

export function describeMachine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    /* not Linux */
  }
  // `java -version` writes to stderr.
  const javaVersion = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const java = `${javaVersion.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '').slice(0, 2).join('; ') || 'unknown';
  return {
    cores: cpus().length,
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `Linux ${release()}`,
    node: process.version,
    java,
    loadAvg1AtStart: loadavg()[0],
  };
}

/** The commit measured, and the files under src/ that differed from it when the benchmark started. */
export function describeSource(): { commit: string; srcChanges: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' });
    return { commit, srcChanges: status.split('\n').map((l) => l.trim()).filter((l) => l !== '') };
  } catch {
    return { commit: 'unknown', srcChanges: [] };
  }
}
