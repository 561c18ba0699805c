/** `dmq serve` as a child process of a benchmark, and the CLI and status calls made to it. */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../test/harness/ports.js';
import { tail } from '../../test/harness/proc.js';
import type { RedisServer } from '../../test/harness/servers.js';
import { runCli } from '../../test/support/dmq.js';
import { log } from './format.js';
import { addCleanup, spawnTracked, stopChild } from './processes.js';
import type { ProcessSampler } from './proc-stats.js';
import type { Server } from './sql.js';

const BIN = join(import.meta.dirname, '../../bin/dmq.js');
/** The sampler's label for the dmq process. */
export const DMQ = 'dmq';

export interface DmqProcess {
  addr: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  /** Stops the server (once) and its sampling; also registered as a cleanup. */
  stop(): Promise<void>;
}

async function waitForHealth(addr: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dmq serve exited with ${child.exitCode}; ${logPath} ends with:\n${await tail(logPath)}`);
    try {
      if ((await fetch(`http://${addr}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`dmq serve not healthy on ${addr} after 30 s; ${logPath} ends with:\n${await tail(logPath)}`);
    await sleep(100);
  }
}

interface ServeOptions {
  cpuProf?: string;
  /** `dmq serve --role`; all (the default) runs the API, the processors and the binlog readers. */
  role?: 'all' | 'api';
  /** The sampler's label and the log's name (default DMQ, dmq.log). */
  label?: string;
  /** More environment for the process (e.g. DMQ_COPY_PATH). */
  env?: Record<string, string>;
}

function spawnServe(dir: string, redis: RedisServer, role: string, label: string, env: Record<string, string>, cpuProf?: string) {
  const logPath = join(dir, `${label.replaceAll(' ', '-')}.log`);
  const fd = openSync(logPath, 'a');
  const profile = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];
  const child = spawnTracked(process.execPath, [...profile, BIN, 'serve', '--role', role], {
    env: { ...process.env, REDIS_URL: redis.url, DMQ_DUMP_DIR: join(dir, 'dmq-dump'), ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  return { child, logPath };
}

/** `dmq serve` on a free port with its log in `dir`, sampled under its label (DMQ) once healthy. */
export async function startDmq(dir: string, redis: RedisServer, sampler: ProcessSampler, options: ServeOptions = {}): Promise<DmqProcess> {
  const port = await freePort();
  const label = options.label ?? DMQ;
  const { child, logPath } = spawnServe(
    dir,
    redis,
    options.role ?? 'all',
    label,
    { ...options.env, DMQ_PORT: String(port), DMQ_HOST: '127.0.0.1' },
    options.cpuProf,
  );
  const addr = `127.0.0.1:${port}`;
  await waitForHealth(addr, child, logPath);
  const stop = async () => {
    await stopChild(child);
    sampler.untrack(label);
  };
  addCleanup(label, stop);
  sampler.track(label, child.pid!);
  log(`${label} up on ${addr} (pid ${child.pid}, log ${logPath})`);
  return { addr, child, pid: child.pid!, logPath, stop };
}

export interface DmqWorker {
  pid: number;
  stop(): Promise<void>;
}

/** `dmq serve --role worker` (processors and binlog readers, no API), sampled under `label` once running. */
export async function startDmqWorker(dir: string, redis: RedisServer, sampler: ProcessSampler, label: string): Promise<DmqWorker> {
  const { child, logPath } = spawnServe(dir, redis, 'worker', label, {});
  const deadline = Date.now() + 30_000;
  while (!(await readFile(logPath, 'utf8')).includes('dmq processors running')) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}; ${logPath} ends with:\n${await tail(logPath)}`);
    if (Date.now() > deadline) throw new Error(`${label} did not start within 30 s; ${logPath} ends with:\n${await tail(logPath)}`);
    await sleep(100);
  }
  const stop = async () => {
    await stopChild(child);
    sampler.untrack(label);
  };
  addCleanup(label, stop);
  sampler.track(label, child.pid!);
  return { pid: child.pid!, stop };
}

export async function cli(dmq: DmqProcess, args: string[]): Promise<void> {
  const result = await runCli(dmq.addr, args);
  if (result.code !== 0) throw new Error(`dmq ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
}

/** Writes a source.yaml for `upstream` into `dir` and registers it with `operate-source create`. */
export async function createSource(dmq: DmqProcess, dir: string, sourceId: string, upstream: Server): Promise<void> {
  const sourceYaml = join(dir, 'source.yaml');
  await writeFile(
    sourceYaml,
    `source-id: "${sourceId}"
enable-gtid: false
flavor: "mariadb"
from:
  host: "${upstream.host}"
  port: ${upstream.port}
  user: "${upstream.user}"
  password: "${upstream.password}"
`,
  );
  await cli(dmq, ['operate-source', 'create', sourceYaml]);
}

interface TaskSpec {
  name: string;
  mode: 'full' | 'incremental';
  target: Server;
  sourceId: string;
  /** The one schema the task moves. */
  schema: string;
  /** The instance's YAML lines after its block-allow-list, unindented. */
  instance: string[];
  /** Top-level YAML sections after block-allow-list (mydumpers, loaders, ...). */
  sections?: string;
}

/** Writes `dir`/task.yaml for one source and one schema; returns its path. */
export async function writeTask(dir: string, spec: TaskSpec): Promise<string> {
  const { target } = spec;
  const path = join(dir, 'task.yaml');
  await writeFile(
    path,
    `name: "${spec.name}"
task-mode: "${spec.mode}"
target-database:
  host: "${target.host}"
  port: ${target.port}
  user: "${target.user}"
  password: "${target.password}"
mysql-instances:
  - source-id: "${spec.sourceId}"
    block-allow-list: "bench"
${spec.instance.map((line) => `    ${line}\n`).join('')}block-allow-list:
  bench:
    do-dbs: ["${spec.schema}"]
${spec.sections ?? ''}`,
  );
  return path;
}

/** The parts of `query-status` (GET /api/v1/tasks/<name>/status) the benchmarks read. */
export interface SubTaskStatus {
  stage: string;
  unit: string;
  result: { errors: { ErrCode?: string; Message: string; Workaround?: string }[] } | null;
  dump: { totalChunks: number; completedChunks: number; finishedRows: number; finishedBytes: number };
  load: { completedChunks: number; finishedRows: number };
  /** Replicating modes only. */
  sync?: {
    syncerBinlog: string;
    masterBinlog: string;
    pendingBatches: number;
    synced: boolean;
    secondsBehindMaster: number | null;
    readerError: string;
  };
}

interface TaskStatusBody {
  stage?: string;
  msg?: string;
  sources?: { subTaskStatus: SubTaskStatus[] }[];
}

export async function taskStatus(addr: string, task: string): Promise<TaskStatusBody> {
  const res = await fetch(`http://${addr}/api/v1/tasks/${encodeURIComponent(task)}/status`);
  const body = (await res.json()) as TaskStatusBody;
  if (!res.ok) throw new Error(`query-status: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Why the task can no longer make progress (paused, stopped, or reporting errors), or undefined. */
export function taskFailure(status: TaskStatusBody, sub: SubTaskStatus): string | undefined {
  const errors = sub.result?.errors ?? [];
  if (status.stage !== 'Paused' && status.stage !== 'Stopped' && errors.length === 0) return undefined;
  const detail = errors.map((e) => `${e.ErrCode ?? ''} ${e.Message}${e.Workaround ? ` (workaround: ${e.Workaround})` : ''}`).join('\n');
  return `the dmq task is ${status.stage}:\n${detail || JSON.stringify(status, null, 2)}`;
}

/** Throws when the task can no longer make progress (paused, stopped, or showing errors). */
export async function throwIfFailed(addr: string, task: string): Promise<void> {
  const status = await taskStatus(addr, task);
  const sub = status.sources?.[0]?.subTaskStatus[0];
  const failure = sub && taskFailure(status, sub);
  if (failure) throw new Error(`task ${task}: ${failure}`);
}

/** Polls query-status until the task is Finished; returns when it was; throws at a failure or the timeout. */
export async function waitForFinished(addr: string, task: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await taskStatus(addr, task);
    if (status.stage === 'Finished') return Date.now();
    await throwIfFailed(addr, task);
    if (Date.now() > deadline) throw new Error(`task ${task} not Finished within ${timeoutMs / 1000} s (stage ${status.stage})`);
    await sleep(100);
  }
}

/** Runs `fn`; if it fails, the error carries the end of dmq's log, where the cause usually is. */
export async function withDmqLog<T>(dmq: DmqProcess, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${dmq.logPath} ends with:\n${await tail(dmq.logPath, 15)}`, { cause: err });
  }
}
