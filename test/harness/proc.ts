import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Child servers and temp dirs of temp stacks: cleaned up however this process ends. */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      } catch {
        // a server killed a moment ago may still hold files; a leftover temp dir is harmless
      }
    }
  });
  // Without these, a signal would end the process without running the 'exit' hook above.
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [signal, code] of signals) process.once(signal, () => process.exit(code));
}

export function removeOnExit(dir: string): void {
  hookExit();
  tempDirs.add(dir);
}

export async function removeNow(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  tempDirs.delete(dir);
}

/** mariadbd lives in /usr/sbin, which a non-root PATH often lacks. */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  throw new Error(`${name} not found in PATH or /usr/sbin: run bash scripts/install-deps.sh`);
}

/**
 * A daemon is detached into its own session so it outlives this process; any other server is
 * killed when this process exits. Both are unref'd so a waiting server never keeps a test
 * process alive.
 */
export function spawnServer(binary: string, args: string[], daemon: boolean): ChildProcess {
  const path = binary.includes('/') ? binary : findBinary(binary);
  const child = spawn(path, args, { detached: daemon, stdio: 'ignore' });
  child.unref();
  if (!daemon) {
    hookExit();
    children.add(child);
    child.once('exit', () => children.delete(child));
  }
  return child;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process, or '' if there is none: guards against reused pids. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after the grace period. */
export async function terminate(pid: number, exited: () => boolean, graceMs = 20_000): Promise<void> {
  if (exited()) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!exited()) {
    if (Date.now() > deadline) {
      signal(pid, 'SIGKILL');
      await waitFor(exited, 5_000);
      return;
    }
    await sleep(50);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`process did not exit within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export async function tail(path: string, lines = 25): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

/**
 * Polls `ready` until it is true; fails early, with the server's log tail, if the server exits
 * or cannot be spawned, because a bare timeout would hide why.
 */
export async function waitUntilReady(
  child: ChildProcess,
  what: string,
  logFile: string,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`${what} could not be started: ${spawnError.message}`);
    if (hasExited(child)) {
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new Error(`${what} exited during startup (${how}); ${logFile} ends with:\n${await tail(logFile)}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${timeoutMs} ms; ${logFile} ends with:\n${await tail(logFile)}`);
    }
    await sleep(50);
  }
}
