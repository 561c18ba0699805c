/**
 * What a benchmark starts — child processes, servers, its temp dir — and how all of it is
 * stopped: in reverse order when the run ends, failed or not, and by force on an abrupt exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeNow, removeOnExit } from '../../test/harness/proc.js';
import { log } from './format.js';
import { ProcessSampler } from './proc-stats.js';

const cleanups: { what: string; run: () => Promise<void> }[] = [];
/** Children this script spawned (dmq, tools): killed if the script exits abruptly. */
const children = new Set<ChildProcess>();
/** On an abrupt exit (Ctrl-C): the temp dir, removed once these server pids are gone. */
const atExit: { dir?: string; serverPids: number[] } = { serverPids: [] };

/** Everything started registers how to stop it; stops run in reverse, also on failure. */
export function addCleanup(what: string, run: () => Promise<void>): void {
  cleanups.push({ what, run });
}

/** Gone or a zombie: either way its files are closed. */
function processDone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  // The harness's exit hook kills the servers and removes the temp dir too, but that removal can
  // race the servers' last writes: kill them here, wait (synchronously: this is an exit hook)
  // until they are gone, then remove the dir.
  if (atExit.dir === undefined || !existsSync(atExit.dir)) return;
  for (const pid of atExit.serverPids) {
    if (!processDone(pid)) process.kill(pid, 'SIGKILL');
  }
  const deadline = Date.now() + 5_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!atExit.serverPids.every(processDone) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
  rmSync(atExit.dir, { recursive: true, force: true, maxRetries: 3 });
});

export function spawnTracked(command: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The exit code (null if killed by a signal); rejects if the command could not be started. */
export async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  // once() rejects on 'error', which is what a failed spawn (ENOENT) emits instead of 'exit'.
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exitOf(child);
  clearTimeout(timer);
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const { what, run } = cleanups.pop()!;
    try {
      await run();
    } catch (err) {
      console.error(`cleanup: stopping ${what} failed: ${(err as Error).message}`);
    }
  }
}

/** A temp dir for the servers and logs, removed at the end unless `keep`. */
export async function benchDir(keep: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-bench-'));
  if (!keep) {
    removeOnExit(dir);
    atExit.dir = dir;
    addCleanup(`temp dir ${dir}`, () => removeNow(dir));
  }
  log(`servers in ${dir}${keep ? ' (kept)' : ''}`);
  return dir;
}

interface Server {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts servers side by side; each one that came up is stopped at cleanup even when another
 * failed to start.
 */
export async function startServers<T extends Server[]>(labels: string[], starting: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const started = await Promise.allSettled(starting);
  for (const [i, result] of started.entries()) {
    if (result.status !== 'fulfilled') continue;
    const server = result.value as Server;
    atExit.serverPids.push(server.pid);
    addCleanup(labels[i]!, () => server.stop());
  }
  const reasons = started.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  if (reasons.length > 0) throw new Error(`servers did not start:\n${reasons.join('\n')}`);
  return started.map((r) => (r as PromiseFulfilledResult<Server>).value) as T;
}

/** Samples each server under its label, and this script as `bench`, every 100 ms until cleanup. */
export function startSampler(labels: string[], servers: Server[]): ProcessSampler {
  const sampler = new ProcessSampler();
  for (const [i, server] of servers.entries()) sampler.track(labels[i]!, server.pid);
  sampler.track('bench', process.pid);
  sampler.start(100);
  addCleanup('sampler', async () => sampler.stop());
  return sampler;
}

/** Runs a benchmark's main, then every cleanup, and exits non-zero if anything failed. */
export async function runBench(main: () => Promise<void>): Promise<never> {
  let failed = false;
  try {
    await main();
  } catch (err) {
    failed = true;
    console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
    if (atExit.dir !== undefined)
      console.error("(rerun with --keep to keep the temp dir with dmq.log, the servers' err.log and the tool logs)");
  } finally {
    await runCleanups();
  }
  process.exit(failed ? 1 : 0);
}
