// A process's CPU time and memory as the kernel counts them (/proc), for the benchmarks that
// report a broker's cost: utime + stime in clock ticks, and its resident set.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second (getconf CLK_TCK; 100 where it cannot be asked). */
export function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** utime + stime of a process in clock ticks, and its RSS in bytes. */
export function procStats(pid: number): { ticks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 'NaN');
  return { ticks, rssBytes: rssKb * 1024 };
}
