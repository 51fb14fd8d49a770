/**
 * What Linux's /proc says about a process and the machine: CPU time (utime + stime of every thread
 * of the process, which for a JVM includes its GC and JIT threads, for Node its libuv pool), the
 * resident set size, and the machine's busy CPU time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** utime + stime, in clock ticks, from the text of /proc/<pid>/stat. */
export function parseStatCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces and ')': split after the last ')'.
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // afterName[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(afterName[14 - 3]);
  const stime = Number(afterName[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat line: ${stat.slice(0, 120)}`);
  return utime + stime;
}

/** VmRSS in bytes from the text of /proc/<pid>/status. */
export function parseVmRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (m === null) throw new Error('no VmRSS line in /proc status');
  return Number(m[1]) * 1024;
}

/** Busy and total clock ticks of all CPUs together, from the text of /proc/stat. */
export function parseMachineTicks(procStat: string): { busyTicks: number; totalTicks: number } {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no cpu line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const totalTicks = user + nice + system + idle + iowait + irq + softirq + (steal || 0);
  return { busyTicks: totalTicks - idle - iowait, totalTicks };
}

let ticksPerSecond: number | undefined;

/** USER_HZ: the unit of /proc CPU times (100 on every common Linux build). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds the process has used so far, NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    return parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

export function processRssBytes(pid: number): number {
  try {
    return parseVmRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** CPU seconds the whole machine has been busy so far (all cores together). */
export function machineBusySeconds(): number {
  return parseMachineTicks(readFileSync('/proc/stat', 'utf8')).busyTicks / clockTicksPerSecond();
}
