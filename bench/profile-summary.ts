/**
 * Summarizes V8 .cpuprofile files (from `npm run bench:client -- --profile DIR`, which profiles
 * each worker's measured phase; `node --cpu-prof` output works too): self time per function,
 * self time per source file, and total (inclusive) time of the top functions.
 *
 *   node --import tsx bench/profile-summary.ts [--top 30] FILE.cpuprofile...
 *
 * Times are shares of the profile's non-idle samples. With several files, the files are merged.
 * The profiler samples wall-clock time of the JS thread: time the thread spent preempted inside
 * a system call (a socket write that wakes the server, say) is charged to that native function.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './servers.ts';
import { markdownTable } from './stats.ts';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const IDLE = new Set(['(idle)', '(program)']);

/** Repository files relative to the root; the benchmark's compiled client (a temporary directory) as build/...; packages by name. */
function shortUrl(url: string): string {
  if (url === '') return '';
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      return url;
    }
    const build = /\/ensemble-bench-build-[^/]+\/(.*)$/.exec(path);
    if (build) return `build/${build[1]}`;
    path = relative(REPO_ROOT, path);
    if (path.startsWith('..')) return fileURLToPath(url);
  }
  return path.replace(/^node_modules\//, '');
}

function key(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  const url = shortUrl(f.url);
  return url === '' ? name : `${name} ${url}:${f.lineNumber + 1}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { top: { type: 'string', default: '30' } },
    allowPositionals: true,
    strict: true,
  });
  const top = Number(values.top);
  if (positionals.length === 0) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts [--top N] FILE.cpuprofile...\n');
    process.exitCode = 2;
    return;
  }
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    for (let i = 0; i < profile.samples.length; i++) {
      // timeDeltas[i] is the time since the previous sample: charge it to this sample's node.
      const dt = profile.timeDeltas[i] ?? 0;
      const node = byId.get(profile.samples[i]);
      if (node === undefined) continue;
      const name = node.callFrame.functionName;
      if (IDLE.has(name)) {
        if (name === '(idle)') idle += dt;
        else busy += dt;
        if (name === '(idle)') continue;
      } else {
        busy += dt;
      }
      const k = key(node.callFrame);
      self.set(k, (self.get(k) ?? 0) + dt);
      const url = shortUrl(node.callFrame.url);
      const fileKey = url === '' ? `(${name.replace(/[()]/g, '')})` : url.replace(/^(node:)?internal\/.*$/, 'node:internal/*');
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + dt);
      // Inclusive: every distinct function on the stack gets the sample once.
      const seen = new Set<string>();
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const k2 = key(byId.get(id)!.callFrame);
        if (seen.has(k2)) continue;
        seen.add(k2);
        inclusive.set(k2, (inclusive.get(k2) ?? 0) + dt);
      }
    }
  }
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`;
  const ms = (us: number): string => (us / 1000).toFixed(0);
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

  process.stdout.write(`busy ${ms(busy)} ms, idle ${ms(idle)} ms (${positionals.length} profile(s)); shares are of busy time\n\n`);
  process.stdout.write('## self time by function\n\n');
  process.stdout.write(markdownTable(['self', 'ms', 'function'], sorted(self).slice(0, top).map(([k, v]) => [pct(v), ms(v), k]), [true, true, false]) + '\n\n');
  process.stdout.write('## self time by file\n\n');
  process.stdout.write(markdownTable(['self', 'ms', 'file'], sorted(byFile).slice(0, top).map(([k, v]) => [pct(v), ms(v), k]), [true, true, false]) + '\n\n');
  process.stdout.write('## total time (self + callees) by function\n\n');
  const inc = sorted(inclusive).filter(([k]) => !IDLE.has(k) && k !== '(root)');
  process.stdout.write(markdownTable(['total', 'ms', 'function'], inc.slice(0, top).map(([k, v]) => [pct(v), ms(v), k]), [true, true, false]) + '\n');
}

// Piped into head: stop quietly when the reader goes away.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main();
