/** CPU per process over a benchmark's phases, from a ProcessSampler: tables, warnings, and waiting for calm. */
import { setTimeout as sleep } from 'node:timers/promises';
import { log, pct, table } from './format.js';
import { CPU_COUNT, type ProcessSampler } from './proc-stats.js';

export interface Window {
  name: string;
  from: number;
  to: number;
}

/** The CPU tables of one report, with one column per sampled process label (in this order). */
export class CpuReport {
  constructor(
    private readonly sampler: ProcessSampler,
    private readonly labels: string[],
  ) {}

  private get header(): string[] {
    return [...this.labels, 'other', 'machine busy', 'iowait'];
  }

  /**
   * `other` is whatever the machine did besides the tracked processes (the CLI invocations,
   * the kernel, and anything else running on the host: if it is large, the numbers are disturbed).
   */
  usage(from: number, to: number) {
    const system = this.sampler.systemUsage(from, to);
    const cores = this.labels.map((label) => this.sampler.usage(label, from, to).cores);
    const other = Math.max(0, system.busy * CPU_COUNT - cores.reduce((a, b) => a + b, 0));
    return { cores, other, ...system };
  }

  private row(name: string, from: number, to: number): string[] {
    const { cores, other, busy, iowait } = this.usage(from, to);
    const cell = (c: number) => (c >= 0.005 ? c.toFixed(2) : '-');
    return [name, ...cores.map(cell), cell(other), pct(busy), pct(iowait)];
  }

  /** Average cores busy per process over each phase. */
  phases(phases: Window[]): string {
    const rows = [['phase', ...this.header], ...phases.map((p) => this.row(p.name, p.from, p.to))];
    return [
      `CPU: average cores busy per process over each phase (${CPU_COUNT} cores = whole machine), sampled from /proc every 100 ms`,
      table(rows),
    ].join('\n');
  }

  /** Core-seconds per process: what each run cost, whatever else ran on the host at the same time. */
  costs(runs: Window[]): string {
    const labels = this.labels.filter((l) => l !== 'bench');
    const rows = [['run', ...labels, 'sum']];
    for (const r of runs) {
      const used = labels.map((l) => this.sampler.usage(l, r.from, r.to).cpuSeconds);
      rows.push([r.name, ...used.map((c) => (c >= 0.05 ? c.toFixed(1) : '-')), used.reduce((a, b) => a + b, 0).toFixed(1)]);
    }
    return ['CPU time (core-seconds) per process over each whole run; "sum" excludes the bench script', table(rows)].join('\n');
  }

  /** One line per run during which processes outside the benchmark used a fair share of the CPUs. */
  disturbances(runs: Window[]): string[] {
    return runs.flatMap(({ name, from, to }) => {
      const { other } = this.usage(from, to);
      if (other <= 0.25) return [];
      return [
        `warning: during "${name}" processes outside the benchmark kept ${other.toFixed(2)} cores busy; ` +
          'its numbers are disturbed (check `ps` for other work on this host)',
      ];
    });
  }

  /** The same figures second by second; t counts seconds since `from`, which `origin` names. */
  timeline(from: number, to: number, origin: string): string {
    const rows = [['t', ...this.header]];
    for (let t = from; t < to; t += 1000) rows.push(this.row(String(Math.round((t - from) / 1000)), t, Math.min(to, t + 1000)));
    return [`CPU timeline (cores per process, 1 s steps; t = seconds since ${origin})`, table(rows)].join('\n');
  }
}

/** Wait until a server's background work (purge, flushing) after a bulk change has settled. */
export async function waitForQuiet(sampler: ProcessSampler, labels: string[], maxMs = 30_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const from = sampler.sampleNow();
    await sleep(1000);
    const to = sampler.sampleNow();
    if (labels.every((l) => sampler.usage(l, from, to).cores < 0.1) || Date.now() > deadline) return;
  }
}

/** The machine should be idle apart from the servers before a measured run. */
export function warnIfBusy(sampler: ProcessSampler): void {
  const to = sampler.sampleNow();
  const { busy } = sampler.systemUsage(to - 1000, to);
  if (busy > 0.2) log(`warning: the machine was ${pct(busy)} busy in the last second before the run; other work will disturb the numbers`);
}
