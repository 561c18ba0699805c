/**
 * Full-copy benchmark: dmq against mydumper + myloader on the same sysbench-like table.
 *
 *   npx tsx bench/full-copy.ts [--rows 1000000] [--threads 4] [--chunk-rows 100000] [--pool-size 4]
 *                              [--timeline] [--json out.json] [--cpu-prof dir] [--keep] [--no-build]
 *                              [--skip-reference] [--timeout 480]      (--help lists them)
 *
 * One run: private Redis, upstream MariaDB (binlog on) and target MariaDB on free ports in a temp
 * dir; N rows in sbtest.sbtest1 upstream; a `task-mode: full` dmq task (dmq serve as a child
 * process) timed from submit to Finished and verified; then mydumper and myloader timed on
 * the same data and verified; then a report. Everything started is stopped, even on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { qualify, quoteId } from '../src/shared/sql/quote.js';
import { freePort } from '../test/harness/ports.js';
import { removeNow, removeOnExit, tail } from '../test/harness/proc.js';
import { startMariadb, startRedis, UPSTREAM_PASSWORD, type MariadbServer, type RedisServer } from '../test/harness/servers.js';
import { runCli } from '../test/support/dmq.js';
import { CPU_COUNT, ProcessSampler, readProcess } from './proc-stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/dmq.js');
const SCHEMA = 'sbtest';
const TABLE = 'sbtest1';
const TASK = 'bench-full-copy';
const SOURCE_ID = 'bench-upstream';
/** dmq's default meta schema (DM's name); its tables carry per-chunk dump/load timestamps. */
const META_SCHEMA = 'dm_meta';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  rows: number;
  threads: number;
  chunkRows: number;
  poolSize: number;
  timeoutSec: number;
  timeline: boolean;
  json?: string;
  cpuProf?: string;
  keep: boolean;
  build: boolean;
  reference: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      threads: { type: 'string', default: '4' },
      'chunk-rows': { type: 'string', default: '100000' },
      'pool-size': { type: 'string', default: '4' },
      timeout: { type: 'string', default: '480' },
      timeline: { type: 'boolean', default: false },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'skip-reference': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: npx tsx bench/full-copy.ts [options]',
        '  --rows N            rows in sbtest.sbtest1 (default 1000000)',
        '  --threads N         dmq mydumpers.threads and mydumper -t (default 4)',
        '  --chunk-rows N      dmq mydumpers.rows and mydumper -r (default 100000)',
        '  --pool-size N       dmq loaders.pool-size and myloader -t (default 4)',
        '  --timeout S         give up on the dmq task after S seconds (default 480)',
        '  --timeline          also print CPU per process, second by second',
        '  --json FILE         also write the results as JSON',
        '  --cpu-prof DIR      run dmq serve under node --cpu-prof, profile written to DIR',
        '  --keep              keep the temp dir (server logs, dmq.log, dumps)',
        '  --no-build          use dist/ as it is, even if src/ is newer',
        '  --skip-reference    run only dmq, not mydumper/myloader',
      ].join('\n'),
    );
    process.exit(0);
  }
  const count = (name: string, text: string, min: number): number => {
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  return {
    rows: count('rows', values.rows, 1),
    threads: count('threads', values.threads, 1),
    chunkRows: count('chunk-rows', values['chunk-rows'], 1),
    poolSize: count('pool-size', values['pool-size'], 1),
    timeoutSec: count('timeout', values.timeout, 1),
    timeline: values.timeline,
    json: values.json,
    cpuProf: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    keep: values.keep,
    build: !values['no-build'],
    reference: !values['skip-reference'],
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

const MiB = 1024 * 1024;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const perSec = (n: number, ms: number) => (ms > 0 ? n / (ms / 1000) : 0);
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function log(message: string): void {
  const clock = new Date().toISOString().slice(11, 19);
  console.log(`[${clock}] ${message}`);
}

/** Columns aligned: the first (names) and, with `textLast`, the last (notes) to the left, numbers to the right. */
function table(rows: string[][], textLast = false): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  const last = widths.length - 1;
  const align = (cell: string, col: number) =>
    col === 0 || (textLast && col === last) ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!);
  return rows.map((r) => r.map(align).join('  ').trimEnd()).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started registers how to stop it; stops run in reverse, also on failure.

const cleanups: { what: string; run: () => Promise<void> }[] = [];
/** Children this script spawned (dmq, mydumper, myloader): killed if the script exits abruptly. */
const children = new Set<ChildProcess>();
/** On an abrupt exit (Ctrl-C): the temp dir, removed once these server pids are gone. */
const atExit: { dir?: string; serverPids: number[] } = { serverPids: [] };

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

function spawnTracked(command: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The exit code (null if killed by a signal); rejects if the command could not be started. */
async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  // once() rejects on 'error', which is what a failed spawn (ENOENT) emits instead of 'exit'.
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Prerequisites

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, cwd: ROOT });
  if (result.status !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')} exited with ${result.status ?? result.signal})`);
}

function ensureMydumper(): void {
  if (hasCommand('mydumper') && hasCommand('myloader')) return;
  if (process.getuid?.() !== 0) throw new Error('mydumper/myloader are not installed: run `sudo apt-get install -y mydumper`');
  log('mydumper/myloader missing: apt-get install -y mydumper');
  try {
    run('apt-get', ['install', '-y', 'mydumper'], 'apt-get install mydumper');
  } catch {
    run('apt-get', ['update'], 'apt-get update');
    run('apt-get', ['install', '-y', 'mydumper'], 'apt-get install mydumper');
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** bin/dmq.js runs dist/: rebuild it when src/ changed since, so the numbers are of this code. */
function ensureBuilt(build: boolean): void {
  const built = join(ROOT, 'dist/cli/main.js');
  const stale = !existsSync(built) || statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'));
  if (!stale) return;
  if (!build) {
    if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` (or drop --no-build)');
    log('warning: src/ is newer than dist/ and --no-build was given; measuring the old build');
    return;
  }
  log('dist/ is missing or older than src/: npm run build');
  run('npm', ['run', 'build', '--silent'], 'npm run build');
}

// ---------------------------------------------------------------------------------------------
// SQL

type Server = Pick<MariadbServer, 'host' | 'port' | 'user' | 'password'>;

async function withConnection<T>(server: Server, fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const { host, port, user, password } = server;
  const conn = await mysql.createConnection({ host, port, user, password, supportBigNumbers: true, bigNumberStrings: true });
  try {
    await conn.query("SET time_zone = '+00:00'");
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

async function queryOne(conn: mysql.Connection, sql: string, params: unknown[] = []): Promise<RowDataPacket> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, params);
  if (!rows[0]) throw new Error(`no row from: ${sql}`);
  return rows[0];
}

/** A sysbench group: 11 random digits. c is 10 groups joined by '-', pad 5 (as oltp_common.lua). */
const DIGITS = "LPAD(FLOOR(RAND() * 100000000000), 11, '0')";
const groups = (n: number) => `CONCAT_WS('-', ${Array.from({ length: n }, () => DIGITS).join(', ')})`;

const CREATE_TABLE = `CREATE TABLE ${qualify(SCHEMA, TABLE)} (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  KEY k_1 (k)
) ENGINE=InnoDB`;

/**
 * N rows in slices of 100k from MariaDB's Sequence engine, two connections at a time (one per
 * core). The upstream's binlog is skipped for the seed: a full copy reads the table, not the log.
 */
async function seedUpstream(upstream: Server, rows: number): Promise<void> {
  await withConnection(upstream, async (conn) => {
    await conn.query(`CREATE DATABASE ${quoteId(SCHEMA)}`);
    await conn.query(CREATE_TABLE);
  });
  const slice = 100_000;
  const starts: number[] = [];
  for (let start = 1; start <= rows; start += slice) starts.push(start);
  const insertSlices = async () => {
    await withConnection(upstream, async (conn) => {
      await conn.query('SET SESSION sql_log_bin = 0');
      for (let start = starts.shift(); start !== undefined; start = starts.shift()) {
        const end = Math.min(rows, start + slice - 1);
        await conn.query(
          `INSERT INTO ${qualify(SCHEMA, TABLE)} (id, k, c, pad)
           SELECT seq, FLOOR(1 + RAND() * ${rows}), ${groups(10)}, ${groups(5)} FROM ${qualify(SCHEMA, `seq_${start}_to_${end}`)}`,
        );
      }
    });
  };
  await Promise.all([insertSlices(), insertSlices()]);
  await withConnection(upstream, async (conn) => {
    await conn.query(`ANALYZE TABLE ${qualify(SCHEMA, TABLE)}`);
  });
}

interface TableFacts {
  rows: number;
  dataLength: number;
  indexLength: number;
  checksum: string;
}

async function tableFacts(server: Server, withSize = false): Promise<TableFacts> {
  return withConnection(server, async (conn) => {
    const count = await queryOne(conn, `SELECT COUNT(*) AS n FROM ${qualify(SCHEMA, TABLE)}`);
    const checksum = await queryOne(conn, `CHECKSUM TABLE ${qualify(SCHEMA, TABLE)}`);
    let dataLength = 0;
    let indexLength = 0;
    if (withSize) {
      const size = await queryOne(
        conn,
        'SELECT DATA_LENGTH AS data, INDEX_LENGTH AS idx FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        [SCHEMA, TABLE],
      );
      dataLength = Number(size.data);
      indexLength = Number(size.idx);
    }
    return { rows: Number(count.n), dataLength, indexLength, checksum: String(checksum.Checksum) };
  });
}

async function dropCopies(target: Server): Promise<void> {
  await withConnection(target, async (conn) => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(SCHEMA)}`);
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(META_SCHEMA)}`);
  });
}

function verify(what: string, expected: TableFacts, actual: TableFacts): string {
  const problems: string[] = [];
  if (actual.rows !== expected.rows) problems.push(`${int(actual.rows)} rows instead of ${int(expected.rows)}`);
  if (actual.checksum !== expected.checksum) problems.push(`CHECKSUM TABLE ${actual.checksum} instead of ${expected.checksum}`);
  if (problems.length > 0) throw new Error(`${what}: the target table differs from the upstream: ${problems.join('; ')}`);
  return `${int(actual.rows)} rows, CHECKSUM ${actual.checksum} = upstream`;
}

/** Wait until a server's background work (purge, flushing) after a bulk change has settled. */
async function waitForQuiet(sampler: ProcessSampler, labels: string[], maxMs = 30_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const from = sampler.sampleNow();
    await sleep(1000);
    const to = sampler.sampleNow();
    if (labels.every((l) => sampler.usage(l, from, to).cores < 0.1) || Date.now() > deadline) return;
  }
}

/** The machine should be idle apart from the servers before a measured run. */
function warnIfBusy(sampler: ProcessSampler): void {
  const to = sampler.sampleNow();
  const { busy } = sampler.systemUsage(to - 1000, to);
  if (busy > 0.2) log(`warning: the machine was ${pct(busy)} busy in the last second before the run; other work will disturb the numbers`);
}

// ---------------------------------------------------------------------------------------------
// dmq

interface DmqProcess {
  addr: string;
  child: ChildProcess;
  logPath: string;
}

async function startDmq(dir: string, redis: RedisServer, cpuProf: string | undefined): Promise<DmqProcess> {
  const port = await freePort();
  const logPath = join(dir, 'dmq.log');
  const fd = openSync(logPath, 'a');
  const profile = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];
  const child = spawnTracked(process.execPath, [...profile, BIN, 'serve'], {
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      DMQ_PORT: String(port),
      DMQ_HOST: '127.0.0.1',
      DMQ_DUMP_DIR: join(dir, 'dmq-dump'),
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const addr = `127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dmq serve exited with ${child.exitCode}; ${logPath} ends with:\n${await tail(logPath)}`);
    try {
      if ((await fetch(`http://${addr}/healthz`)).ok) return { addr, child, logPath };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`dmq serve not healthy on ${addr} after 30 s; ${logPath} ends with:\n${await tail(logPath)}`);
    await sleep(100);
  }
}

async function cli(dmq: DmqProcess, args: string[]): Promise<void> {
  const result = await runCli(dmq.addr, args);
  if (result.code !== 0) throw new Error(`dmq ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
}

/** The parts of `query-status` (GET /api/v1/tasks/<name>/status) this benchmark reads. */
interface SubTaskStatus {
  stage: string;
  unit: string;
  result: { errors: { ErrCode?: string; Message: string; Workaround?: string }[] } | null;
  dump: { totalChunks: number; completedChunks: number; finishedRows: number; finishedBytes: number };
  load: { completedChunks: number; finishedRows: number };
}

interface TaskStatusBody {
  stage?: string;
  msg?: string;
  sources?: { subTaskStatus: SubTaskStatus[] }[];
}

async function taskStatus(addr: string): Promise<TaskStatusBody> {
  const res = await fetch(`http://${addr}/api/v1/tasks/${encodeURIComponent(TASK)}/status`);
  const body = (await res.json()) as TaskStatusBody;
  if (!res.ok) throw new Error(`query-status: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** When, seen by polling query-status, the task reached each step. */
interface StatusMarks {
  dumpUnit?: number;
  allDumped?: number;
  loadUnit?: number;
  finished?: number;
}

async function waitForFinished(dmq: DmqProcess, timeoutMs: number): Promise<{ marks: StatusMarks; last: SubTaskStatus }> {
  const marks: StatusMarks = {};
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    if (dmq.child.exitCode !== null) throw new Error(`dmq serve exited with ${dmq.child.exitCode} during the copy`);
    const status = await taskStatus(dmq.addr);
    const now = Date.now();
    const sub = status.sources?.[0]?.subTaskStatus[0];
    if (sub) {
      if (marks.dumpUnit === undefined && sub.unit !== 'Check') marks.dumpUnit = now;
      if (marks.allDumped === undefined && sub.dump.totalChunks > 0 && sub.dump.completedChunks === sub.dump.totalChunks) marks.allDumped = now;
      if (marks.loadUnit === undefined && sub.unit === 'Load') marks.loadUnit = now;
      const errors = sub.result?.errors ?? [];
      if (status.stage === 'Finished') return { marks: { ...marks, finished: now }, last: sub };
      if (status.stage === 'Paused' || status.stage === 'Stopped' || errors.length > 0) {
        const detail = errors.map((e) => `${e.ErrCode ?? ''} ${e.Message}${e.Workaround ? ` (workaround: ${e.Workaround})` : ''}`).join('\n');
        throw new Error(`the dmq task is ${status.stage}:\n${detail || JSON.stringify(status, null, 2)}`);
      }
      if (now - lastReport >= 5000) {
        lastReport = now;
        log(`  ${sub.unit}: dumped ${sub.dump.completedChunks}/${sub.dump.totalChunks} chunks (${int(sub.dump.finishedRows)} rows), ` +
          `loaded ${sub.load.completedChunks} chunks (${int(sub.load.finishedRows)} rows)`);
      }
    }
    if (now > deadline) {
      const last = sub ? { stage: sub.stage, unit: sub.unit, dump: sub.dump, load: sub.load } : status;
      throw new Error(`the dmq task did not finish in ${timeoutMs / 1000} s; last status: ${JSON.stringify(last)}`);
    }
    await sleep(200);
  }
}

/** Exact times from dmq's checkpoints on the target (written with NOW(3) by the target itself). */
interface MetaTimes {
  planned: number;
  firstDumped: number;
  lastDumped: number;
  lastLoaded: number;
  chunks: number;
  fileBytes: number;
}

async function readMetaTimes(target: Server): Promise<MetaTimes | undefined> {
  try {
    return await withConnection(target, async (conn) => {
      const source = await queryOne(
        conn,
        `SELECT UNIX_TIMESTAMP(planned_at) * 1000 AS planned FROM ${qualify(META_SCHEMA, `${TASK}_dump_meta`)} WHERE source_id = ?`,
        [SOURCE_ID],
      );
      const chunks = await queryOne(
        conn,
        `SELECT COUNT(*) AS n, SUM(file_bytes) AS bytes, UNIX_TIMESTAMP(MIN(dumped_at)) * 1000 AS first_dumped,
                UNIX_TIMESTAMP(MAX(dumped_at)) * 1000 AS last_dumped, UNIX_TIMESTAMP(MAX(loaded_at)) * 1000 AS last_loaded
         FROM ${qualify(META_SCHEMA, `${TASK}_loader_checkpoint`)} WHERE source_id = ?`,
        [SOURCE_ID],
      );
      return {
        planned: Number(source.planned),
        firstDumped: Number(chunks.first_dumped),
        lastDumped: Number(chunks.last_dumped),
        lastLoaded: Number(chunks.last_loaded),
        chunks: Number(chunks.n),
        fileBytes: Number(chunks.bytes),
      };
    });
  } catch (err) {
    log(`warning: cannot read dmq's checkpoint times (${(err as Error).message}); phases come from query-status polling only`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Phase {
  name: string;
  from: number;
  to: number;
  /** Rows this phase moved, for rows/s; omitted for setup phases. */
  rows?: number;
  note?: string;
}

interface DmqResult {
  submitted: number;
  finished: number;
  phases: Phase[];
  peakRss: number;
  /** Resident set of the idle server just before the task was submitted. */
  idleRss: number;
  dumpBytes: number;
  chunks: number;
  verified: string;
}

interface ToolResult {
  name: string;
  from: number;
  to: number;
  peakRss: number;
}

interface ReferenceResult {
  mydumper: ToolResult;
  myloader: ToolResult;
  dumpBytes: number;
  verified: string;
}

async function runDmq(
  options: Options,
  dir: string,
  redis: RedisServer,
  upstream: MariadbServer,
  target: MariadbServer,
  expected: TableFacts,
  sampler: ProcessSampler,
): Promise<DmqResult> {
  const dmq = await startDmq(dir, redis, options.cpuProf);
  const stop = async () => {
    await stopChild(dmq.child);
    sampler.untrack('dmq');
  };
  cleanups.push({ what: 'dmq serve', run: stop });
  sampler.track('dmq', dmq.child.pid!);
  log(`dmq serve up on ${dmq.addr} (pid ${dmq.child.pid}, log ${dmq.logPath})`);

  const sourceYaml = join(dir, 'source.yaml');
  await writeFile(
    sourceYaml,
    `source-id: "${SOURCE_ID}"
enable-gtid: false
flavor: "mariadb"
from:
  host: "${upstream.host}"
  port: ${upstream.port}
  user: "${upstream.user}"
  password: "${upstream.password}"
`,
  );
  const taskYaml = join(dir, 'task.yaml');
  await writeFile(
    taskYaml,
    `name: "${TASK}"
task-mode: "full"
target-database:
  host: "${target.host}"
  port: ${target.port}
  user: "${target.user}"
  password: "${target.password}"
mysql-instances:
  - source-id: "${SOURCE_ID}"
    block-allow-list: "bench"
    mydumper-config-name: "bench"
    loader-config-name: "bench"
block-allow-list:
  bench:
    do-dbs: ["${SCHEMA}"]
mydumpers:
  bench:
    threads: ${options.threads}
    rows: ${options.chunkRows}
loaders:
  bench:
    pool-size: ${options.poolSize}
`,
  );
  await cli(dmq, ['operate-source', 'create', sourceYaml]);

  log(`dmq start-task (task-mode full, mydumpers threads ${options.threads} rows ${options.chunkRows}, loaders pool-size ${options.poolSize})`);
  const idleRss = readProcess(dmq.child.pid!)?.rssBytes ?? 0;
  const submitted = sampler.sampleNow();
  await cli(dmq, ['start-task', taskYaml]);
  let marks: StatusMarks;
  try {
    ({ marks } = await waitForFinished(dmq, options.timeoutSec * 1000));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${dmq.logPath} ends with:\n${await tail(dmq.logPath, 15)}`, { cause: err });
  }
  const finished = sampler.sampleNow();
  const peakRss = sampler.peakRss('dmq');
  log(`dmq task Finished after ${secs(finished - submitted)}`);
  await stop();

  const verified = verify('dmq', expected, await tableFacts(target));
  log(`dmq copy verified: ${verified}`);

  const meta = await readMetaTimes(target);
  const rows = expected.rows;
  const phases: Phase[] = [{ name: 'dmq total (submit → Finished)', from: submitted, to: finished, rows }];
  if (meta) {
    phases.push(
      { name: '  precheck + plan', from: submitted, to: meta.planned, note: 'submit → plan recorded' },
      { name: '  dump', from: meta.planned, to: meta.lastDumped, rows, note: 'plan → last chunk dumped; loads run alongside' },
      { name: '  load', from: meta.firstDumped, to: meta.lastLoaded, rows, note: 'first chunk dumped → last chunk loaded' },
      { name: '  load after dump', from: meta.lastDumped, to: meta.lastLoaded, note: 'last chunk dumped → last chunk loaded' },
      { name: '  until Finished', from: meta.lastLoaded, to: finished, note: 'last chunk loaded → stage Finished seen' },
    );
  } else {
    if (marks.dumpUnit !== undefined) phases.push({ name: '  precheck + plan', from: submitted, to: marks.dumpUnit });
    if (marks.dumpUnit !== undefined && marks.allDumped !== undefined) {
      phases.push({ name: '  dump', from: marks.dumpUnit, to: marks.allDumped, rows, note: 'loads run alongside' });
      phases.push({ name: '  load after dump', from: marks.allDumped, to: finished });
    }
  }
  return { submitted, finished, phases, peakRss, idleRss, dumpBytes: meta?.fileBytes ?? 0, chunks: meta?.chunks ?? 0, verified };
}

async function runTool(name: string, args: string[], logPath: string, sampler: ProcessSampler): Promise<ToolResult> {
  log(`${name} ${args.join(' ')}`);
  const fd = openSync(logPath, 'w');
  const from = sampler.sampleNow();
  const child = spawnTracked(name, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid !== undefined) sampler.track(name, child.pid);
  const code = await exitOf(child);
  const to = sampler.sampleNow();
  sampler.untrack(name);
  if (code !== 0) throw new Error(`${name} exited with ${code}; ${logPath} ends with:\n${await tail(logPath)}`);
  log(`${name} done in ${secs(to - from)}`);
  return { name, from, to, peakRss: sampler.peakRss(name) };
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function runReference(
  options: Options,
  dir: string,
  upstream: MariadbServer,
  target: MariadbServer,
  expected: TableFacts,
  sampler: ProcessSampler,
): Promise<ReferenceResult> {
  const out = join(dir, 'mydumper-out');
  const mydumper = await runTool(
    'mydumper',
    ['-h', upstream.host, '-P', String(upstream.port), '-u', upstream.user, '-p', upstream.password,
      '-B', SCHEMA, '-t', String(options.threads), '-r', String(options.chunkRows), '-o', out],
    join(dir, 'mydumper.log'),
    sampler,
  );
  const dumpBytes = await directorySize(out);
  const myloader = await runTool(
    'myloader',
    ['-h', target.host, '-P', String(target.port), '-u', target.user, ...(target.password ? ['-p', target.password] : []),
      '-t', String(options.poolSize), '-d', out],
    join(dir, 'myloader.log'),
    sampler,
  );
  const verified = verify('myloader', expected, await tableFacts(target));
  log(`myloader copy verified: ${verified}`);
  return { mydumper, myloader, dumpBytes, verified };
}

// ---------------------------------------------------------------------------------------------
// Report

const PROCESS_LABELS = ['dmq', 'mydumper', 'myloader', 'upstream mariadbd', 'target mariadbd', 'redis', 'bench'];
const CPU_HEADER = [...PROCESS_LABELS, 'other', 'machine busy', 'iowait'];

/**
 * One row of the CPU tables. `other` is whatever the machine did besides the tracked processes
 * (the CLI invocations, the kernel, and anything else running on the host: if it is large,
 * the numbers are disturbed).
 */
function cpuUsage(sampler: ProcessSampler, from: number, to: number) {
  const system = sampler.systemUsage(from, to);
  const cores = PROCESS_LABELS.map((label) => sampler.usage(label, from, to).cores);
  const other = Math.max(0, system.busy * CPU_COUNT - cores.reduce((a, b) => a + b, 0));
  return { cores, other, ...system };
}

function cpuRow(sampler: ProcessSampler, name: string, from: number, to: number): string[] {
  const { cores, other, busy, iowait } = cpuUsage(sampler, from, to);
  const cell = (c: number) => (c >= 0.005 ? c.toFixed(2) : '-');
  return [name, ...cores.map(cell), cell(other), pct(busy), pct(iowait)];
}

function report(options: Options, facts: TableFacts, dmq: DmqResult, reference: ReferenceResult | undefined, sampler: ProcessSampler): string {
  const lines: string[] = [];
  const rows = facts.rows;
  lines.push('');
  lines.push(`=== dmq full-copy benchmark: ${SCHEMA}.${TABLE}, ${int(rows)} rows ===`);
  lines.push(
    `table: data_length ${mib(facts.dataLength)}, index_length ${mib(facts.indexLength)} (upstream, after ANALYZE); ` +
      `${CPU_COUNT} CPUs; MariaDB servers with innodb_buffer_pool_size 128M`,
  );
  lines.push(
    `settings: dmq mydumpers threads ${options.threads} rows ${options.chunkRows}, loaders pool-size ${options.poolSize} | ` +
      `mydumper -t ${options.threads} -r ${options.chunkRows} | myloader -t ${options.poolSize}`,
  );
  lines.push('rates: rows/s and MiB/s of data_length over the phase\'s wall time');
  lines.push('');

  const timing: string[][] = [['phase', 'wall', 'rows/s', 'MiB/s', 'peak RSS', 'note']];
  const add = (name: string, ms: number, phaseRows: number | undefined, rss: string, note = '') =>
    timing.push([
      name,
      secs(ms),
      phaseRows === undefined ? '' : int(perSec(phaseRows, ms)),
      phaseRows === undefined ? '' : (perSec(facts.dataLength, ms) / MiB).toFixed(1),
      rss,
      note,
    ]);
  dmq.phases.forEach((p, i) => add(p.name, p.to - p.from, p.rows, i === 0 ? mib(dmq.peakRss) : '', i === 0 ? `RSS ${mib(dmq.idleRss)} when idle before submit` : p.note ?? ''));
  if (reference) {
    const { mydumper, myloader } = reference;
    const total = myloader.to - mydumper.from;
    add('mydumper + myloader', total, rows, '', 'mydumper start → myloader exit');
    add('  mydumper', mydumper.to - mydumper.from, rows, mib(mydumper.peakRss), `${mib(reference.dumpBytes)} of files`);
    add('  myloader', myloader.to - myloader.from, rows, mib(myloader.peakRss));
  }
  lines.push(table(timing, true));
  lines.push('');
  lines.push(`dmq chunk files: ${dmq.chunks} chunks, ${mib(dmq.dumpBytes)}`);
  lines.push(`verified: dmq ${dmq.verified}${reference ? `; myloader ${reference.verified}` : ''}`);

  if (reference) {
    const dmqMs = dmq.finished - dmq.submitted;
    const refMs = reference.myloader.to - reference.mydumper.from;
    lines.push('');
    lines.push(`ratio dmq / (mydumper + myloader): ${(dmqMs / refMs).toFixed(2)}x  (${secs(dmqMs)} vs ${secs(refMs)})`);
    const dump = dmq.phases.find((p) => p.name.trim() === 'dump');
    const load = dmq.phases.find((p) => p.name.trim() === 'load');
    if (dump) {
      const ms = reference.mydumper.to - reference.mydumper.from;
      lines.push(`  dump: dmq ${secs(dump.to - dump.from)} vs mydumper ${secs(ms)} → ${((dump.to - dump.from) / ms).toFixed(2)}x (dmq loads at the same time)`);
    }
    if (load) {
      const ms = reference.myloader.to - reference.myloader.from;
      lines.push(`  load: dmq ${secs(load.to - load.from)} vs myloader ${secs(ms)} → ${((load.to - load.from) / ms).toFixed(2)}x (dmq's window overlaps its dump)`);
    }
  }

  lines.push('');
  lines.push(`CPU: average cores busy per process over each phase (${CPU_COUNT} cores = whole machine), sampled from /proc every 100 ms`);
  const cpu: string[][] = [['phase', ...CPU_HEADER]];
  for (const p of dmq.phases) cpu.push(cpuRow(sampler, p.name, p.from, p.to));
  if (reference) {
    cpu.push(cpuRow(sampler, 'mydumper + myloader', reference.mydumper.from, reference.myloader.to));
    cpu.push(cpuRow(sampler, '  mydumper', reference.mydumper.from, reference.mydumper.to));
    cpu.push(cpuRow(sampler, '  myloader', reference.myloader.from, reference.myloader.to));
  }
  lines.push(table(cpu));

  // CPU-seconds are what each approach costs, whatever else ran on the host at the same time.
  const runs = [{ name: 'dmq (submit → Finished)', from: dmq.submitted, to: dmq.finished }];
  if (reference) runs.push({ name: 'mydumper + myloader', from: reference.mydumper.from, to: reference.myloader.to });
  lines.push('');
  lines.push('CPU time (core-seconds) per process over each whole run; "sum" excludes the bench script');
  const costs: string[][] = [['run', ...PROCESS_LABELS.filter((l) => l !== 'bench'), 'sum']];
  for (const r of runs) {
    const used = PROCESS_LABELS.filter((l) => l !== 'bench').map((l) => sampler.usage(l, r.from, r.to).cpuSeconds);
    costs.push([r.name, ...used.map((c) => (c >= 0.05 ? c.toFixed(1) : '-')), used.reduce((a, b) => a + b, 0).toFixed(1)]);
  }
  lines.push(table(costs));
  const busiest = [
    ...dmq.phases.filter((p) => !p.name.startsWith(' ')),
    ...(reference ? [{ name: 'mydumper + myloader', from: reference.mydumper.from, to: reference.myloader.to }] : []),
  ].map((p) => ({ name: p.name, other: cpuUsage(sampler, p.from, p.to).other }));
  for (const { name, other } of busiest) {
    if (other > 0.25) {
      lines.push(`warning: during "${name}" processes outside the benchmark kept ${other.toFixed(2)} cores busy; ` +
        'its numbers are disturbed (check `ps` for other work on this host)');
    }
  }

  if (options.timeline) {
    lines.push('');
    lines.push('CPU timeline (cores per process, 1 s steps; t = seconds since dmq submit)');
    const timeline: string[][] = [['t', ...CPU_HEADER]];
    const end = reference ? reference.myloader.to : dmq.finished;
    for (let t = dmq.submitted; t < end; t += 1000) {
      const row = cpuRow(sampler, String(Math.round((t - dmq.submitted) / 1000)), t, Math.min(end, t + 1000));
      timeline.push(row);
    }
    lines.push(table(timeline));
  }
  return lines.join('\n');
}

function resultJson(options: Options, facts: TableFacts, dmq: DmqResult, reference: ReferenceResult | undefined, sampler: ProcessSampler) {
  const cpu = (from: number, to: number) =>
    Object.fromEntries(PROCESS_LABELS.map((l) => [l, Number(sampler.usage(l, from, to).cores.toFixed(3))]));
  const phase = (name: string, from: number, to: number) => ({ name: name.trim(), seconds: (to - from) / 1000, cpuCores: cpu(from, to) });
  return {
    options,
    table: { rows: facts.rows, dataLength: facts.dataLength, indexLength: facts.indexLength },
    dmq: {
      seconds: (dmq.finished - dmq.submitted) / 1000,
      rowsPerSecond: perSec(facts.rows, dmq.finished - dmq.submitted),
      peakRssBytes: dmq.peakRss,
      idleRssBytes: dmq.idleRss,
      chunkFileBytes: dmq.dumpBytes,
      phases: dmq.phases.map((p) => phase(p.name, p.from, p.to)),
    },
    reference: reference && {
      seconds: (reference.myloader.to - reference.mydumper.from) / 1000,
      mydumper: { ...phase('mydumper', reference.mydumper.from, reference.mydumper.to), peakRssBytes: reference.mydumper.peakRss, fileBytes: reference.dumpBytes },
      myloader: { ...phase('myloader', reference.myloader.from, reference.myloader.to), peakRssBytes: reference.myloader.peakRss },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  ensureMydumper();
  ensureBuilt(options.build);

  const dir = await mkdtemp(join(tmpdir(), 'dmq-bench-'));
  if (!options.keep) {
    removeOnExit(dir);
    atExit.dir = dir;
    cleanups.push({ what: `temp dir ${dir}`, run: () => removeNow(dir) });
  }
  log(`servers in ${dir}${options.keep ? ' (kept)' : ''}`);

  const started = await Promise.allSettled([
    startRedis({ dir: join(dir, 'redis') }),
    startMariadb({ dir: join(dir, 'upstream'), serverId: 1, binlog: true, rootPassword: UPSTREAM_PASSWORD }),
    startMariadb({ dir: join(dir, 'target'), serverId: 3, binlog: false, rootPassword: '' }),
  ]);
  for (const [i, result] of started.entries()) {
    if (result.status !== 'fulfilled') continue;
    atExit.serverPids.push(result.value.pid);
    cleanups.push({ what: ['redis', 'upstream mariadbd', 'target mariadbd'][i]!, run: () => result.value.stop() });
  }
  const [redisStarted, upstreamStarted, targetStarted] = started;
  if (redisStarted.status === 'rejected' || upstreamStarted.status === 'rejected' || targetStarted.status === 'rejected') {
    const reasons = started.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    throw new Error(`servers did not start:\n${reasons.join('\n')}`);
  }
  const redis = redisStarted.value;
  const upstream = upstreamStarted.value;
  const target = targetStarted.value;
  log(`redis :${redis.port}, upstream mariadbd :${upstream.port} (binlog), target mariadbd :${target.port}`);

  const sampler = new ProcessSampler();
  sampler.track('redis', redis.pid);
  sampler.track('upstream mariadbd', upstream.pid);
  sampler.track('target mariadbd', target.pid);
  sampler.track('bench', process.pid);
  sampler.start(100);
  cleanups.push({ what: 'sampler', run: async () => sampler.stop() });

  log(`seeding ${SCHEMA}.${TABLE} with ${int(options.rows)} rows`);
  const seedStart = Date.now();
  await seedUpstream(upstream, options.rows);
  const facts = await tableFacts(upstream, true);
  if (facts.rows !== options.rows) throw new Error(`seeding made ${facts.rows} rows instead of ${options.rows}`);
  log(`seeded in ${secs(Date.now() - seedStart)}: data_length ${mib(facts.dataLength)}, index_length ${mib(facts.indexLength)}, CHECKSUM ${facts.checksum}`);
  await waitForQuiet(sampler, ['upstream mariadbd', 'target mariadbd']);
  warnIfBusy(sampler);

  const dmq = await runDmq(options, dir, redis, upstream, target, facts, sampler);

  let reference: ReferenceResult | undefined;
  if (options.reference) {
    await dropCopies(target);
    await waitForQuiet(sampler, ['upstream mariadbd', 'target mariadbd']);
    warnIfBusy(sampler);
    reference = await runReference(options, dir, upstream, target, facts, sampler);
  }
  sampler.stop();

  console.log(report(options, facts, dmq, reference, sampler));
  if (options.json) {
    await writeFile(options.json, JSON.stringify(resultJson(options, facts, dmq, reference, sampler), null, 2) + '\n');
    log(`results written to ${options.json}`);
  }
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
  if (atExit.dir !== undefined) console.error('(rerun with --keep to keep the temp dir with dmq.log, the servers\' err.log and the tool logs)');
} finally {
  await runCleanups();
}
process.exit(failed ? 1 : 0);
