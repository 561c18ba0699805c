/**
 * CPU and memory of chosen processes, sampled from /proc the way `ps` and `top` read it, so a
 * benchmark can say which process was busy in which phase. Linux only.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (100 on every common Linux). */
const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number.parseInt(out.stdout ?? '', 10);
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
})();

export const CPU_COUNT = cpus().length;

interface ProcessReading {
  /** utime + stime, in seconds. */
  cpuSeconds: number;
  /** Resident set now, and its high-water mark (VmHWM), in bytes. */
  rssBytes: number;
  peakRssBytes: number;
}

/** One process's CPU time and memory, or undefined once it has exited. */
export function readProcess(pid: number): ProcessReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), utime and stime; fields[0] here is field 3.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: ticks / CLOCK_TICKS, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Sets a process's VmHWM back to its current RSS (proc(5), clear_refs "5"), so the next reading
 * of peakRssBytes is the peak of what came after.
 */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

interface SystemReading {
  /** Jiffies summed over all CPUs. */
  busy: number;
  iowait: number;
  total: number;
}

function readSystem(): SystemReading {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    busy: user + nice + system + irq + softirq + steal,
    iowait,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

interface Sample<T> {
  at: number;
  value: T;
}

/** Of samples sorted by time, the last taken at or before `at`. */
function at<T>(samples: Sample<T>[], time: number): Sample<T> | undefined {
  let found: Sample<T> | undefined;
  for (const s of samples) {
    if (s.at > time) break;
    found = s;
  }
  return found;
}

interface WindowUsage {
  /** Average number of cores the process kept busy over the window (1.0 = one core all the time). */
  cores: number;
  cpuSeconds: number;
}

/**
 * Samples every tracked process (and the whole machine) at a fixed interval, and on demand at
 * phase boundaries so windows start and end on exact readings.
 */
export class ProcessSampler {
  private readonly tracked = new Map<string, number>();
  private readonly samples = new Map<string, Sample<ProcessReading>[]>();
  private readonly system: Sample<SystemReading>[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Follow `pid` under `label`; a label tracked again (a new run of a tool) starts a new series. */
  track(label: string, pid: number): void {
    this.tracked.set(label, pid);
    this.samples.set(label, []);
    this.sampleNow();
  }

  /** Stop following `label` but keep what was sampled. */
  untrack(label: string): void {
    this.tracked.delete(label);
  }

  start(intervalMs = 100): void {
    this.sampleNow();
    this.timer = setInterval(() => this.sampleNow(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sampleNow(): number {
    const now = Date.now();
    for (const [label, pid] of this.tracked) {
      const reading = readProcess(pid);
      if (reading) this.samples.get(label)?.push({ at: now, value: reading });
    }
    this.system.push({ at: now, value: readSystem() });
    return now;
  }

  labels(): string[] {
    return [...this.samples.keys()];
  }

  /**
   * CPU a process used between two times. A process first seen after `from` (a tool started
   * inside the window) counts from zero; one that exited counts up to its last reading.
   */
  usage(label: string, from: number, to: number): WindowUsage {
    const series = this.samples.get(label) ?? [];
    const end = at(series, to);
    if (!end || to <= from) return { cores: 0, cpuSeconds: 0 };
    const start = at(series, from);
    const cpuSeconds = end.value.cpuSeconds - (start?.value.cpuSeconds ?? 0);
    return { cpuSeconds, cores: cpuSeconds / ((to - from) / 1000) };
  }

  /** Largest resident set seen: the kernel's VmHWM, which catches peaks between samples. */
  peakRss(label: string): number {
    return Math.max(0, ...(this.samples.get(label) ?? []).map((s) => Math.max(s.value.peakRssBytes, s.value.rssBytes)));
  }

  /** Share of all CPUs busy, and waiting on I/O, between two times (0..1). */
  systemUsage(from: number, to: number): { busy: number; iowait: number } {
    const start = at(this.system, from) ?? this.system[0];
    const end = at(this.system, to);
    if (!start || !end || end.value.total === start.value.total) return { busy: 0, iowait: 0 };
    const total = end.value.total - start.value.total;
    return { busy: (end.value.busy - start.value.busy) / total, iowait: (end.value.iowait - start.value.iowait) / total };
  }
}
