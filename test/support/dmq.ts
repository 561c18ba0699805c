import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compareCoords, parseCoordText } from '../../src/shared/binlog/position.js';
import { freePort } from '../harness/ports.js';
import type { Endpoint } from '../harness/servers.js';
import { after, before } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { exampleFiles, masterPosition } from './fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/dmq.js');

export interface DmqServer {
  port: number;
  addr: string;
  dumpDir: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr. */
  output(): string;
  /** SIGKILL: no cleanup, as a crashed host. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function waitForHealth(addr: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dmq serve exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`http://${addr}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`dmq serve did not become healthy on ${addr}:\n${output()}`);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

interface ServeOptions {
  port?: number;
  dumpDir?: string;
  env?: Record<string, string>;
  /** `dmq serve --role`: all (default) or api; workers come from startDmqWorker. */
  role?: 'all' | 'api';
}

/** A `dmq serve` child process with its output recorded (and kept under DMQ_TEST_LOGS). */
function spawnServe(role: string, logName: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'serve', '--role', role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // For debugging a scenario: DMQ_TEST_LOGS=<dir> keeps each server's log in a file there.
  const keep = process.env.DMQ_TEST_LOGS
    ? createWriteStream(join(process.env.DMQ_TEST_LOGS, `dmq-${logName}.log`), { flags: 'a' })
    : undefined;
  const record = (d: Buffer) => {
    out += d.toString();
    keep?.write(d);
  };
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  return {
    child,
    output: () => out,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Start `dmq serve` (the built bin/dmq.js) against the test stack. */
export async function startDmq(options: ServeOptions = {}): Promise<DmqServer> {
  const stack = await getStack();
  const port = options.port ?? (await freePort());
  const dumpDir = options.dumpDir ?? (await mkdtemp(join(tmpdir(), 'dmq-dump-')));
  const proc = spawnServe(options.role ?? 'all', String(port), {
    REDIS_URL: stack.redis.url,
    DMQ_PORT: String(port),
    DMQ_HOST: '127.0.0.1',
    DMQ_DUMP_DIR: dumpDir,
    ...options.env,
  });
  const addr = `127.0.0.1:${port}`;
  await waitForHealth(addr, proc.child, proc.output);
  return { ...proc, port, addr, dumpDir };
}

export interface DmqWorker {
  pid: number;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no cleanup, as a crashed host. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Start `dmq serve --role worker` (processors and binlog readers, no API) on the test stack's Redis. */
export async function startDmqWorker(options: { dumpDir: string; env?: Record<string, string> }): Promise<DmqWorker> {
  const stack = await getStack();
  const proc = spawnServe('worker', `worker-${Date.now()}`, { REDIS_URL: stack.redis.url, DMQ_DUMP_DIR: options.dumpDir, ...options.env });
  const deadline = Date.now() + 30_000;
  while (!proc.output().includes('dmq processors running')) {
    if (proc.child.exitCode !== null) throw new Error(`dmq worker exited with ${proc.child.exitCode}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`dmq worker did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...proc, pid: proc.child.pid! };
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

/** Run the dmq CLI against a server, as a user would; `input` is piped to its standard input. */
export function runCli(addr: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, '--master-addr', addr, ...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        // left empty: the test asserts on stdout/stderr instead
      }
      resolvePromise({ code: code ?? -1, stdout, stderr, json });
    });
  });
}

interface SubTask {
  stage: string;
  unit: string;
  result: { errors: { ErrCode: string; ErrScope: string; Message: string; Workaround: string }[] } | null;
  load: { finishedRows: number; completedChunks: number };
  dump: { totalChunks: number; completedChunks: number; finishedRows: number };
  sync?: { totalEvents: number; synced: boolean; masterBinlog: string; syncerBinlog: string; secondsBehindMaster: number | null };
}

export interface TaskStatus {
  stage: string;
  sources: { sourceStatus: { source: string }; subTaskStatus: SubTask[] }[];
}

export async function taskStatus(addr: string, task: string, token?: string): Promise<TaskStatus> {
  const res = await fetch(
    `http://${addr}/api/v1/tasks/${encodeURIComponent(task)}/status`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  if (!res.ok) throw new Error(`status of ${task}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as TaskStatus;
}

/** Every source of the task has reached the Sync unit (or the task stopped running, which the caller then reports). */
export const inSync = (s: TaskStatus) => s.stage !== 'Running' || s.sources.every((src) => src.subTaskStatus[0]!.unit === 'Sync');

/** Poll until `done(status)`; fail with the last status if it does not come in time. */
export async function waitForStatus(
  addr: string,
  task: string,
  done: (s: TaskStatus) => boolean,
  timeoutMs = 120_000,
  token?: string,
): Promise<TaskStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskStatus | undefined;
  while (Date.now() < deadline) {
    last = await taskStatus(addr, task, token);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`task ${task} did not reach the expected state in ${timeoutMs} ms; last status:\n${JSON.stringify(last, null, 2)}`);
}

/**
 * Waits until every source of the task (`upstreams[i]` feeds `sources[i]`) has applied all its
 * binlog written so far and is synced: `synced` alone may still describe the moment before the
 * test's last writes were read. With writers still running it can never be synced: `synced:
 * false` waits only for what was written before the call.
 */
export async function waitForCaughtUp(
  addr: string,
  task: string,
  upstreams: Endpoint[],
  timeoutMs = 60_000,
  options: { synced: boolean } = { synced: true },
): Promise<TaskStatus> {
  const ends = await Promise.all(upstreams.map(masterPosition));
  return waitForStatus(
    addr,
    task,
    (s) =>
      s.stage !== 'Running' ||
      s.sources.every((src, i) => {
        const sync = src.subTaskStatus[0]!.sync;
        return (
          (sync?.synced === true || (!options.synced && sync !== undefined)) &&
          sync.syncerBinlog !== '' &&
          compareCoords(parseCoordText(sync.syncerBinlog), ends[i]!) >= 0
        );
      }),
    timeoutMs,
  );
}

/**
 * For a test file: clean databases and one `dmq serve` before its tests, stopped after them.
 * Returns the running server.
 */
export function dmqForFile(options: { env?: Record<string, string>; registerSources?: 1 | 2 } = {}): () => DmqServer {
  let server: DmqServer | undefined;
  before(async () => {
    await resetDatabases();
    server = await startDmq(options.env ? { env: options.env } : {});
    if (options.registerSources) {
      const { sources } = await exampleFiles();
      const created = await runCli(server.addr, ['operate-source', 'create', ...sources.slice(0, options.registerSources)]);
      if (created.code !== 0) throw new Error(`operate-source create failed: ${created.stdout}${created.stderr}`);
    }
  });
  after(async () => {
    await server?.stop();
  });
  return () => server!;
}
