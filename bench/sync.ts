/**
 * Replication benchmark: dmq's binlog apply against a native MariaDB replica on the same binlog.
 *
 *   npx tsx bench/sync.ts [--target mariadb|tidb] [--rows 1000000] [--txns 50000] [--connections 4]
 *                         [--rates 100,1000,3000] [--lag-seconds 15] [--delay-ms 1] [--parallel-threads 4]
 *                         [--seed 1] [--timeout 900] [--json out.json] [--cpu-prof dir] [--keep] [--no-build]
 *                         [--big-only] (--help lists them)
 *
 * One run: private Redis, an upstream MariaDB (binlog on), two targets of dmq's (MariaDB, or
 * tidb-server with --target tidb; the second reached through a TCP relay that delays each
 * direction) and two replica MariaDBs on free ports in a temp dir; N rows in sbtest.sbtest1
 * upstream, copied to every copy with mydumper/myloader; then OLTP transactions upstream,
 * replayed from the same start position by dmq into each target (an incremental task each), by
 * one replica's single SQL thread and by the other's parallel threads (optimistic mode), each timed
 * from a standing start; then replication lag at steady write rates, and one transaction over
 * every row. Every copy is checked against the upstream; Redis's used_memory is sampled
 * throughout. Everything started is stopped, even on failure. `--big-only` runs the last part
 * alone: one target, dmq replicating into it from an idle start, then the one big transaction.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type mysql from 'mysql2/promise';
import { startMariadb, startRedis, UPSTREAM_PASSWORD, type TargetKind } from '../test/harness/servers.js';
import { CpuReport, waitForQuiet, warnIfBusy, type Window } from './lib/cpu-report.js';
import { cli, createSource, startDmq, taskStatus, throwIfFailed, withDmqLog, writeTask, type DmqProcess } from './lib/dmq-process.js';
import { int, log, mib, perSec, secs, table } from './lib/format.js';
import { integerOption, targetOption } from './lib/options.js';
import { ensureBuilt, ensureMydumper } from './lib/prerequisites.js';
import { CPU_COUNT, readProcess, resetPeakRss, type ProcessSampler } from './lib/proc-stats.js';
import { startOneTarget } from './lib/one-target.js';
import { addCleanup, benchDir, runBench, startSampler, startServers } from './lib/processes.js';
import { startDelayRelay } from './lib/delay-relay.js';
import {
  binlogBytes,
  coord,
  HEALTH_CHECK_MS,
  HEARTBEAT_ID,
  heartbeatValue,
  insertHeartbeatRow,
  masterPosition,
  oltpStatements,
  POLL_MS,
  waitForMarker,
  writeMarker,
  writeTransactions,
  type BinlogPosition,
  type WriteRun,
} from './lib/oltp.js';
import { startRedisMemorySampler } from './lib/redis-memory.js';
import { SBTEST1, SCHEMA, seed, TABLE, tableFacts, verify, type TableFacts } from './lib/sbtest.js';
import { connect, queryOne, serverVersion, withConnection, type Server } from './lib/sql.js';
import { describeTarget, startTarget, targetLabel } from './lib/target.js';
import { myloaderArgs, mydumperArgs, runTool } from './lib/tools.js';

const TASK = 'bench-sync';
/** The same replay into the second target, through the delaying relay. */
const RELAY_TASK = 'bench-sync-relay';
const SOURCE_ID = 'bench-upstream';
const relayedLabel = (target: TargetKind) => `relayed ${targetLabel(target)}`;
const processLabels = (target: TargetKind) => [
  'dmq',
  'upstream mariadbd',
  targetLabel(target),
  relayedLabel(target),
  'replica mariadbd',
  'parallel replica mariadbd',
  'redis',
  'bench',
];

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  target: TargetKind;
  rows: number;
  txns: number;
  connections: number;
  rates: number[];
  lagSeconds: number;
  delayMs: number;
  parallelThreads: number;
  /** syncers.worker-count of dmq's tasks: lanes per table; unset, one chain per table. */
  workerCount?: number;
  seed: number;
  timeoutSec: number;
  json?: string;
  cpuProf?: string;
  keep: boolean;
  build: boolean;
  /** Only the one big transaction, into one target: no relay, replicas, catch-up or lag runs. */
  bigOnly: boolean;
}

const HELP = [
  'usage: npx tsx bench/sync.ts [options]',
  '  --target KIND       what dmq applies into: mariadb or tidb (default mariadb); the replica stays MariaDB',
  '  --rows N            rows in sbtest.sbtest1 (default 1000000)',
  '  --txns N            OLTP transactions replayed from a standing start (default 50000)',
  '  --connections N     upstream connections writing them (default 4)',
  '  --rates R,R,...     steady write rates, txn/s, for the lag measurement (default 100,1000,3000)',
  '  --lag-seconds S     how long each rate is written (default 15)',
  "  --delay-ms D        the relay in front of dmq's second target delays each direction by D ms (default 1)",
  '  --parallel-threads N  slave_parallel_threads of the parallel replica, optimistic mode (default 4)',
  "  --worker-count N    syncers.worker-count of dmq's tasks: N lanes per table (default: unset, one chain per table)",
  "  --seed N            seed of the workload's random generator (default 1)",
  '  --timeout S         give up on any one wait for replication after S seconds (default 900)',
  '  --json FILE         also write the results as JSON',
  '  --cpu-prof DIR      run dmq serve under node --cpu-prof, profile written to DIR',
  '  --keep              keep the temp dir (server logs, dmq.log, tool logs)',
  '  --no-build          use dist/ as it is, even if src/ is newer',
  '  --big-only          only the one big transaction (dmq memory and apply time), into one target; --txns, --rates and the',
  '                      replica and relay options do not apply',
].join('\n');

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'mariadb' },
      rows: { type: 'string', default: '1000000' },
      txns: { type: 'string', default: '50000' },
      connections: { type: 'string', default: '4' },
      rates: { type: 'string', default: '100,1000,3000' },
      'lag-seconds': { type: 'string', default: '15' },
      'delay-ms': { type: 'string', default: '1' },
      'parallel-threads': { type: 'string', default: '4' },
      'worker-count': { type: 'string' },
      seed: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '900' },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'big-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  return {
    target: targetOption(values.target),
    rows: integerOption('rows', values.rows, 1),
    txns: integerOption('txns', values.txns, 1),
    connections: integerOption('connections', values.connections, 1),
    rates: values.rates.split(',').map((r) => integerOption('rates', r.trim(), 1)),
    lagSeconds: integerOption('lag-seconds', values['lag-seconds'], 1),
    delayMs: integerOption('delay-ms', values['delay-ms'], 1),
    parallelThreads: integerOption('parallel-threads', values['parallel-threads'], 2),
    ...(values['worker-count'] === undefined ? {} : { workerCount: integerOption('worker-count', values['worker-count'], 1) }),
    seed: integerOption('seed', values.seed, 0),
    timeoutSec: integerOption('timeout', values.timeout, 1),
    json: values.json,
    cpuProf: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    keep: values.keep,
    build: !values['no-build'],
    bigOnly: values['big-only'],
  };
}

interface Loop {
  /** Ends the loop after its current step; an error the loop met is thrown here. */
  stop(): Promise<void>;
}

/** Runs `step` every `ms` in the background until stopped. */
function every(ms: number, step: () => Promise<void>): Loop {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await step();
      await sleep(ms);
    }
  })();
  // Reported by stop(), not as an unhandled rejection that would end the run without its cleanups.
  done.catch(() => undefined);
  return {
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The same on one connection of its own, closed at stop. */
async function everyOn(server: Server, ms: number, step: (conn: mysql.Connection) => Promise<void>): Promise<Loop> {
  const conn = await connect(server);
  const loop = every(ms, () => step(conn));
  return {
    async stop() {
      try {
        await loop.stop();
      } finally {
        await conn.end().catch(() => conn.destroy());
      }
    },
  };
}

/** Writes the source's clock (ms) into the heartbeat row every POLL_MS until stopped. */
function startHeartbeat(upstream: Server): Promise<Loop> {
  return everyOn(upstream, POLL_MS, async (conn) => {
    await conn.query(`UPDATE ${SBTEST1} SET c = ? WHERE id = ?`, [String(Date.now()), HEARTBEAT_ID]);
  });
}

interface LagSample {
  at: number;
  lagMs: number;
}

/**
 * Reads the heartbeat row on the target every POLL_MS: lag = now − the source time it holds (one
 * machine, one clock). Resolution is about POLL_MS, the heartbeat's own interval.
 */
async function startLagPoller(target: Server): Promise<{ stop(): Promise<LagSample[]> }> {
  const samples: LagSample[] = [];
  const loop = await everyOn(target, POLL_MS, async (conn) => {
    const sent = Number(await heartbeatValue(conn));
    const at = Date.now();
    // Markers are not times.
    if (Number.isFinite(sent)) samples.push({ at, lagMs: at - sent });
  });
  return {
    async stop() {
      await loop.stop();
      return samples;
    },
  };
}

/** Nearest-rank percentile of unsorted values (0 for none). */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------------------------

/** One mydumper run, loaded into every copy at once: the same rows, byte for byte. */
async function copyTable(
  dir: string,
  upstream: Server,
  copies: { label: string; server: Server }[],
  sampler: ProcessSampler,
  expected: TableFacts,
): Promise<void> {
  const out = join(dir, 'mydumper-out');
  await runTool('mydumper', mydumperArgs(upstream, SCHEMA, 4, 100_000, out), join(dir, 'mydumper.log'), sampler);
  await Promise.all(
    copies.map(({ label, server }) =>
      runTool('myloader', myloaderArgs(server, 4, out), join(dir, `myloader-${label}.log`), sampler, `myloader ${label}`),
    ),
  );
  for (const { label, server } of copies) log(`${label} copy verified: ${verify(label, expected, await tableFacts(server))}`);
}

// ---------------------------------------------------------------------------------------------
// dmq

interface ApplyResult {
  from: number;
  to: number;
  /** When dmq's binlog reader logged its start (dmq only; its log's own clock). */
  readerStarted?: number;
  idleRss?: number;
  peakRss?: number;
  verified: string;
}

/** Throws when dmq has exited or its task can no longer make progress. */
async function dmqHealthy(dmq: DmqProcess, task = TASK): Promise<void> {
  if (dmq.child.exitCode !== null) throw new Error(`dmq serve exited with ${dmq.child.exitCode}`);
  await throwIfFailed(dmq.addr, task);
}

/** When dmq's log says the task's binlog reader started (pino's `time`, ms), if it does. */
async function readerStartTime(dmq: DmqProcess, task: string): Promise<number | undefined> {
  for (const line of (await readFile(dmq.logPath, 'utf8')).split('\n')) {
    if (!line.includes('binlog reader started')) continue;
    const entry = JSON.parse(line) as { time?: number; task?: string };
    if (entry.task === task && entry.time !== undefined) return entry.time;
  }
  return undefined;
}

/** Polls a copy's count and checksum until they equal the upstream's; returns when they did. */
async function waitForEqual(copy: Server, expected: TableFacts, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const facts = await tableFacts(copy);
    if (facts.rows === expected.rows && facts.checksum === expected.checksum) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`${copy.host}:${copy.port} did not become equal to the upstream within ${timeoutMs / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** start-task from P0 with every transaction already in the binlog, until the last one is on the target. */
async function dmqCatchUp(
  dmq: DmqProcess,
  dir: string,
  task: string,
  target: Server,
  start: BinlogPosition,
  marker: string,
  timeoutMs: number,
  workerCount: number | undefined,
): Promise<Omit<ApplyResult, 'verified'>> {
  const syncer = workerCount === undefined ? [] : ['syncer-config-name: "bench"'];
  const taskYaml = await writeTask(dir, {
    name: task,
    mode: 'incremental',
    target,
    sourceId: SOURCE_ID,
    schema: SCHEMA,
    instance: ['meta:', `  binlog-name: "${start.file}"`, `  binlog-pos: ${start.pos}`, ...syncer],
    ...(workerCount === undefined ? {} : { sections: `syncers:\n  bench:\n    worker-count: ${workerCount}\n` }),
  });
  log(`dmq start-task ${task} (task-mode incremental from ${coord(start)}, into :${target.port})`);
  const idleRss = readProcess(dmq.pid)?.rssBytes ?? 0;
  resetPeakRss(dmq.pid);
  const from = Date.now();
  await cli(dmq, ['start-task', taskYaml]);
  const to = await withDmqLog(dmq, () => waitForMarker(target, marker, timeoutMs, () => dmqHealthy(dmq, task)));
  const peakRss = readProcess(dmq.pid)?.peakRssBytes ?? 0;
  log(`dmq applied everything in ${secs(to - from)}`);
  return { from, to, readerStarted: await readerStartTime(dmq, task), idleRss, peakRss };
}

// ---------------------------------------------------------------------------------------------
// Native replica

async function slaveStatus(conn: mysql.Connection) {
  return queryOne(conn, 'SHOW SLAVE STATUS');
}

async function replicaHealthy(replica: Server): Promise<void> {
  const status = await withConnection(replica, slaveStatus);
  const error = String(status.Last_SQL_Error || status.Last_IO_Error || '');
  if (error !== '' || status.Slave_SQL_Running !== 'Yes') {
    throw new Error(`the native replica stopped (SQL thread ${status.Slave_SQL_Running}, IO thread ${status.Slave_IO_Running}): ${error}`);
  }
}

/**
 * CHANGE MASTER TO P0, START SLAVE, until the last transaction is on the replica: with one SQL
 * thread (`threads` 0), or with `threads` in MariaDB's optimistic parallel mode, the fastest it
 * offers for transactions of one source.
 */
async function nativeCatchUp(
  replica: Server,
  upstream: Server,
  start: BinlogPosition,
  marker: string,
  timeoutMs: number,
  threads: number,
): Promise<{ from: number; to: number; executed: string }> {
  await withConnection(replica, async (conn) => {
    await conn.query('SET GLOBAL slave_parallel_threads = ?', [threads]);
    if (threads > 0) await conn.query("SET GLOBAL slave_parallel_mode = 'optimistic'");
    await conn.query(
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
       MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no`,
      [upstream.host, upstream.port, upstream.user, upstream.password, start.file, start.pos],
    );
  });
  log(`native replica :${replica.port}: START SLAVE from ${coord(start)} (slave_parallel_threads = ${threads})`);
  const from = Date.now();
  await withConnection(replica, (conn) => conn.query('START SLAVE'));
  const to = await waitForMarker(replica, marker, timeoutMs, () => replicaHealthy(replica));
  log(`native replica applied everything in ${secs(to - from)}`);
  // Stopped so that it takes no CPU from the measurements that follow.
  return withConnection(replica, async (conn) => {
    const status = await slaveStatus(conn);
    await conn.query('STOP SLAVE');
    return { from, to, executed: `${String(status.Relay_Master_Log_File)}:${String(status.Exec_Master_Log_Pos)}` };
  });
}

// ---------------------------------------------------------------------------------------------
// Lag at steady rates

interface LagResult {
  rate: number;
  write: WriteRun;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** Largest secondsBehindMaster query-status showed while writing (its resolution is 1 s). */
  statusLagMax: number;
  /** From the last write to the target having everything. */
  drainMs: number;
  peakRss: number;
}

/** query-status every second until stopped, keeping the largest secondsBehindMaster (whole seconds). */
function startStatusLagPoller(dmq: DmqProcess): { stop(): Promise<number> } {
  let max = 0;
  const loop = every(HEALTH_CHECK_MS, async () => {
    const sync = (await taskStatus(dmq.addr, TASK)).sources?.[0]?.subTaskStatus[0]?.sync;
    max = Math.max(max, sync?.secondsBehindMaster ?? 0);
  });
  return {
    async stop() {
      await loop.stop();
      return max;
    },
  };
}

async function measureLag(
  rate: number,
  options: Options,
  upstream: Server,
  target: Server,
  dmq: DmqProcess,
  sampler: ProcessSampler,
): Promise<LagResult> {
  await waitForQuiet(sampler, ['upstream mariadbd', targetLabel(options.target), 'dmq']);
  const count = rate * options.lagSeconds;
  log(`lag at ${int(rate)} txn/s: ${int(count)} transactions over ${options.lagSeconds} s`);
  resetPeakRss(dmq.pid);
  const heartbeat = await startHeartbeat(upstream);
  const poller = await startLagPoller(target);
  const statusPoller = startStatusLagPoller(dmq);
  let write: WriteRun;
  try {
    write = await writeTransactions(upstream, count, options.connections, oltpStatements(options.seed + rate, options.rows), rate);
  } finally {
    await heartbeat.stop();
  }
  // Lag is measured while the source writes; the catching up after it is reported on its own.
  const lags = (await poller.stop()).filter((s) => s.at >= write.from && s.at <= write.to).map((s) => s.lagMs);
  const statusLagMax = await statusPoller.stop();
  const marker = await writeMarker(upstream, `lag at ${rate}/s`);
  const caughtUp = await withDmqLog(dmq, () => waitForMarker(target, marker, options.timeoutSec * 1000, () => dmqHealthy(dmq)));
  const result = {
    rate,
    write,
    samples: lags.length,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: Math.max(0, ...lags),
    statusLagMax,
    drainMs: caughtUp - write.to,
    peakRss: readProcess(dmq.pid)?.peakRssBytes ?? 0,
  };
  log(
    `  wrote ${int(perSec(count, write.to - write.from))} txn/s; lag p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms; ` +
      `caught up ${secs(result.drainMs)} after the last write`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// One big transaction

interface BigTxnResult {
  rows: number;
  /** The upstream running the UPDATE and committing it. */
  upstream: { from: number; to: number };
  /** Commit → the target has it. */
  applied: { from: number; to: number };
  binlogBytes?: number;
  rssBefore: number;
  peakRss: number;
  verified: string;
}

async function bigTransaction(
  options: Options,
  upstream: Server,
  target: Server,
  dmq: DmqProcess,
  sampler: ProcessSampler,
): Promise<BigTxnResult> {
  await waitForQuiet(sampler, ['upstream mariadbd', targetLabel(options.target), 'dmq']);
  const before = await masterPosition(upstream);
  const rssBefore = readProcess(dmq.pid)?.rssBytes ?? 0;
  resetPeakRss(dmq.pid);
  const marker = `end of the big transaction ${Date.now()}`;
  log(`one transaction: UPDATE ${SCHEMA}.${TABLE} SET k = k + 1 over every row`);
  const from = Date.now();
  // The marker rides in the same transaction, after every row: seeing it means all of it is applied.
  const rows = await withConnection(upstream, async (conn) => {
    await conn.beginTransaction();
    const [result] = await conn.query<mysql.ResultSetHeader>(`UPDATE ${SBTEST1} SET k = k + 1`);
    await conn.query(`UPDATE ${SBTEST1} SET c = ? WHERE id = ?`, [marker, HEARTBEAT_ID]);
    await conn.commit();
    return result.affectedRows;
  });
  const committed = Date.now();
  log(`  upstream committed ${int(rows)} rows in ${secs(committed - from)}`);
  const to = await withDmqLog(dmq, () => waitForMarker(target, marker, options.timeoutSec * 1000, () => dmqHealthy(dmq)));
  const peakRss = readProcess(dmq.pid)?.peakRssBytes ?? 0;
  log(`  dmq applied it ${secs(to - committed)} after the commit; RSS ${mib(rssBefore)} before, peak ${mib(peakRss)}`);
  const verified = verify('dmq', await tableFacts(upstream), await tableFacts(target));
  log(`  dmq copy verified: ${verified}`);
  return {
    rows,
    upstream: { from, to: committed },
    applied: { from: committed, to },
    binlogBytes: binlogBytes(before, await masterPosition(upstream)),
    rssBefore,
    peakRss,
    verified,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Results {
  /** What `SELECT VERSION()` says on dmq's target and on the replica. */
  versions: { target: string; replica: string };
  facts: TableFacts;
  start: BinlogPosition;
  end: BinlogPosition;
  generated: WriteRun;
  dmq: ApplyResult;
  /** dmq into the second target, through the relay. */
  relayed: ApplyResult;
  native: ApplyResult & { executed: string };
  parallel: ApplyResult & { executed: string };
  lag: LagResult[];
  big: BigTxnResult;
  /** Redis's used_memory peak within a time window. */
  redisPeak(from: number, to: number): number;
}

/** Transactions each applier replays: the OLTP ones and the marker that ends them. */
const replayed = (r: Results) => r.generated.txns + 1;

function catchUpTable(options: Options, r: Results): string {
  const txns = replayed(r);
  const rows: string[][] = [['applier', 'wall', 'txn/s', 'peak RSS', 'Redis peak', 'note']];
  const add = (name: string, from: number, to: number, rss: string, redis: string, note: string) =>
    rows.push([name, secs(to - from), int(perSec(txns, to - from)), rss, redis, note]);
  const addDmq = (name: string, run: ApplyResult) => {
    add(
      name,
      run.from,
      run.to,
      mib(run.peakRss ?? 0),
      mib(r.redisPeak(run.from, run.to)),
      `includes precheck; RSS ${mib(run.idleRss ?? 0)} idle before`,
    );
    if (run.readerStarted !== undefined)
      add('  reader started → applied', run.readerStarted, run.to, '', '', 'from "binlog reader started" in dmq.log');
  };
  addDmq(`dmq into ${options.target}, start-task → applied`, r.dmq);
  addDmq(`dmq into ${options.target} through a ${options.delayMs} ms relay each way`, r.relayed);
  add(
    'native replica into mariadb, START SLAVE → applied',
    r.native.from,
    r.native.to,
    '',
    '',
    `one SQL thread; executed up to ${r.native.executed}`,
  );
  add(
    `native replica, ${options.parallelThreads} parallel threads`,
    r.parallel.from,
    r.parallel.to,
    '',
    '',
    `slave_parallel_mode optimistic; executed up to ${r.parallel.executed}`,
  );
  return table(rows, true);
}

/** How many times the rate of `reference` a dmq run's is, from start-task and from its reader's start. */
function ratioLine(label: string, run: ApplyResult, reference: ApplyResult, goal: string): string[] {
  const ratio = (from: number) => `${((reference.to - reference.from) / (run.to - from)).toFixed(2)}x`;
  const lines = [`ratio ${label} (rate): ${ratio(run.from)} from start-task (goal ${goal})`];
  if (run.readerStarted !== undefined) lines.push(`  ${ratio(run.readerStarted)} from dmq's reader start`);
  return lines;
}

function ratioLines(options: Options, r: Results): string[] {
  const target = options.target;
  return [
    ...ratioLine(`dmq into ${target} / native replica, one SQL thread`, r.dmq, r.native, '≥ 2x'),
    ...ratioLine(`dmq into ${target} / native replica, ${options.parallelThreads} parallel threads`, r.dmq, r.parallel, '≥ 1x'),
    ...ratioLine(
      `dmq into ${target} through the ${options.delayMs} ms relay / native replica, one SQL thread`,
      r.relayed,
      r.native,
      '≥ 1x',
    ),
    `the relay's cost to dmq: ${((r.relayed.to - r.relayed.from) / (r.dmq.to - r.dmq.from)).toFixed(2)}x the time without it`,
  ];
}

function lagTable(r: Results): string {
  const rows = [
    ['rate', 'achieved', 'txns', 'samples', 'lag p50', 'p99', 'max', 'status lag max', 'caught up after', 'dmq peak RSS', 'Redis peak'],
  ];
  for (const l of r.lag) {
    rows.push([
      `${int(l.rate)}/s`,
      `${int(perSec(l.write.txns, l.write.to - l.write.from))}/s`,
      int(l.write.txns),
      int(l.samples),
      `${int(l.p50)} ms`,
      `${int(l.p99)} ms`,
      `${int(l.max)} ms`,
      `${l.statusLagMax} s`,
      secs(l.drainMs),
      mib(l.peakRss),
      mib(r.redisPeak(l.write.from, l.write.to + l.drainMs)),
    ]);
  }
  return table(rows);
}

function lagGoal(lag: LagResult[]): string {
  const at3k = lag.find((l) => l.rate === 3000);
  if (!at3k) return 'goal p99 < 1 s at 3,000 txn/s: not measured (3000 is not in --rates)';
  return `goal p99 < 1 s at 3,000 txn/s: ${at3k.p99 < 1000 ? 'met' : 'NOT met'} (p99 ${int(at3k.p99)} ms)`;
}

function bigTxnLines(target: TargetKind, big: BigTxnResult, redisPeak: number): string[] {
  const applyMs = big.applied.to - big.applied.from;
  return [
    `one transaction updating ${int(big.rows)} rows: upstream ran and committed it in ${secs(big.upstream.to - big.upstream.from)}` +
      (big.binlogBytes === undefined ? '' : `, ${mib(big.binlogBytes)} of binlog`),
    `dmq into ${target}: commit → applied ${secs(applyMs)} (${int(perSec(big.rows, applyMs))} rows/s); dmq serve RSS ${mib(big.rssBefore)} before, ` +
      `peak ${mib(big.peakRss)} during (VmHWM; the binlog reader runs in this process); Redis used_memory peak ${mib(redisPeak)}`,
    `verified: ${big.verified}`,
  ];
}

function phases(r: Results): Window[] {
  return [
    { name: 'write OLTP transactions', ...r.generated },
    { name: 'dmq catch-up', from: r.dmq.from, to: r.dmq.to },
    { name: 'dmq catch-up, relayed', from: r.relayed.from, to: r.relayed.to },
    { name: 'native replica catch-up', from: r.native.from, to: r.native.to },
    { name: 'parallel replica catch-up', from: r.parallel.from, to: r.parallel.to },
    ...r.lag.map((l) => ({ name: `lag at ${int(l.rate)}/s`, from: l.write.from, to: l.write.to })),
    { name: 'big txn, upstream', ...r.big.upstream },
    { name: 'big txn, dmq apply', ...r.big.applied },
  ];
}

function report(options: Options, r: Results, sampler: ProcessSampler): string {
  const bytes = binlogBytes(r.start, r.end);
  const lines = [
    '',
    `=== dmq sync benchmark, dmq into ${options.target} ${r.versions.target}: ${SCHEMA}.${TABLE}, ${int(options.rows)} rows, ` +
      `${int(r.generated.txns)} OLTP transactions ===`,
    `dmq's target: ${describeTarget(options.target, r.versions.target)}; syncers.worker-count ${options.workerCount ?? 'unset (each table one chain)'}`,
    `references: native replicas applying into their own mariadbd ${r.versions.replica}, one with one SQL thread, one with ` +
      `${options.parallelThreads} parallel threads (optimistic); a second target of dmq's reached through a TCP relay holding each chunk ` +
      `${options.delayMs} ms each way`,
    `mix: 60% UPDATE k = k + 1, 20% UPDATE c, 20% INSERT, each its own transaction, seed ${options.seed}; ` +
      `written by ${options.connections} connections at ${int(perSec(r.generated.txns, r.generated.to - r.generated.from))} txn/s`,
    `binlog ${coord(r.start)} → ${coord(r.end)}${bytes === undefined ? '' : ` (${mib(bytes)})`}; ` +
      `${CPU_COUNT} CPUs; upstream and replica MariaDB with innodb_buffer_pool_size 128M`,
    '',
    'Catch-up from a standing start (the same binlog range, replayed by each)',
    catchUpTable(options, r),
    ...ratioLines(options, r),
    `verified: dmq ${r.dmq.verified}; dmq relayed ${r.relayed.verified}; native replica ${r.native.verified}; parallel replica ${r.parallel.verified}`,
    '',
    `Lag of dmq into ${options.target} while the source writes at a steady rate (${options.connections} connections, ` +
      `${options.lagSeconds} s each; heartbeat in ${SCHEMA}.${TABLE} every ${POLL_MS} ms, target polled every ${POLL_MS} ms)`,
    lagTable(r),
    lagGoal(r.lag),
    '',
    'Big transaction',
    ...bigTxnLines(options.target, r.big, r.redisPeak(r.big.applied.from, r.big.applied.to)),
  ];
  const cpu = new CpuReport(sampler, processLabels(options.target));
  const runs = phases(r);
  lines.push('', cpu.phases(runs), '', cpu.costs(runs), ...cpu.disturbances(runs));
  return lines.join('\n');
}

function resultJson(options: Options, r: Results, sampler: ProcessSampler) {
  const cpu = (from: number, to: number) =>
    Object.fromEntries(processLabels(options.target).map((l) => [l, Number(sampler.usage(l, from, to).cores.toFixed(3))]));
  const txns = replayed(r);
  const apply = (a: { from: number; to: number }) => ({
    seconds: (a.to - a.from) / 1000,
    txnPerSecond: perSec(txns, a.to - a.from),
    cpuCores: cpu(a.from, a.to),
  });
  return {
    options,
    target: { kind: options.target, version: r.versions.target },
    replica: { version: r.versions.replica },
    table: { rows: r.facts.rows, dataLength: r.facts.dataLength, indexLength: r.facts.indexLength },
    binlog: { start: coord(r.start), end: coord(r.end), bytes: binlogBytes(r.start, r.end) },
    generated: { txns: r.generated.txns, seconds: (r.generated.to - r.generated.from) / 1000 },
    dmq: {
      ...apply(r.dmq),
      fromReaderStart: r.dmq.readerStarted === undefined ? undefined : apply({ from: r.dmq.readerStarted, to: r.dmq.to }),
      idleRssBytes: r.dmq.idleRss,
      peakRssBytes: r.dmq.peakRss,
      redisPeakBytes: r.redisPeak(r.dmq.from, r.dmq.to),
    },
    relayed: { ...apply(r.relayed), delayMs: options.delayMs, redisPeakBytes: r.redisPeak(r.relayed.from, r.relayed.to) },
    native: apply(r.native),
    parallel: { ...apply(r.parallel), threads: options.parallelThreads },
    ratio: (r.native.to - r.native.from) / (r.dmq.to - r.dmq.from),
    ratioParallel: (r.parallel.to - r.parallel.from) / (r.dmq.to - r.dmq.from),
    ratioRelayed: (r.native.to - r.native.from) / (r.relayed.to - r.relayed.from),
    lag: r.lag.map((l) => ({
      rate: l.rate,
      achievedTxnPerSecond: perSec(l.write.txns, l.write.to - l.write.from),
      samples: l.samples,
      p50Ms: l.p50,
      p99Ms: l.p99,
      maxMs: l.max,
      statusSecondsBehindMasterMax: l.statusLagMax,
      caughtUpAfterMs: l.drainMs,
      dmqPeakRssBytes: l.peakRss,
      redisPeakBytes: r.redisPeak(l.write.from, l.write.to + l.drainMs),
      cpuCores: cpu(l.write.from, l.write.to),
    })),
    bigTransaction: bigTxnJson(r.big, r.redisPeak(r.big.applied.from, r.big.applied.to), cpu),
  };
}

function bigTxnJson(big: BigTxnResult, redisPeak: number, cpu: (from: number, to: number) => Record<string, number>) {
  return {
    rows: big.rows,
    upstreamSeconds: (big.upstream.to - big.upstream.from) / 1000,
    applySeconds: (big.applied.to - big.applied.from) / 1000,
    binlogBytes: big.binlogBytes,
    dmqRssBeforeBytes: big.rssBefore,
    dmqPeakRssBytes: big.peakRss,
    redisPeakBytes: redisPeak,
    cpuCores: cpu(big.applied.from, big.applied.to),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

/** `--big-only`: dmq replicating into one target from an idle start, then the big transaction. */
async function bigOnly(options: Options): Promise<void> {
  const dir = await benchDir(options.keep);
  const { redis, upstream, target, labels, targetVersion: version, sampler } = await startOneTarget(dir, options.target);
  const redisMemory = startRedisMemorySampler(redis.url);
  addCleanup('Redis memory sampler', () => redisMemory.stop());

  await seed(upstream, options.rows);
  await insertHeartbeatRow(upstream);
  await copyTable(dir, upstream, [{ label: 'target', server: target }], sampler, await tableFacts(upstream));
  const start = await masterPosition(upstream);
  const marker = await writeMarker(upstream, 'the start');
  const dmq = await startDmq(dir, redis, sampler, { cpuProf: options.cpuProf });
  await createSource(dmq, dir, SOURCE_ID, upstream);
  await dmqCatchUp(dmq, dir, TASK, target, start, marker, options.timeoutSec * 1000, options.workerCount);

  const big = await bigTransaction(options, upstream, target, dmq, sampler);
  sampler.stop();
  await redisMemory.stop();
  const redisPeak = redisMemory.peak(big.applied.from, big.applied.to);
  const cpu = new CpuReport(sampler, ['dmq', ...labels.slice(1), 'bench']);
  const runs = [
    { name: 'big txn, upstream', ...big.upstream },
    { name: 'big txn, dmq apply', ...big.applied },
  ];
  const lines = [
    '',
    `=== dmq sync benchmark, the big transaction only, dmq into ${options.target} ${version}: ${SCHEMA}.${TABLE}, ${int(options.rows)} rows ===`,
    `syncers.worker-count ${options.workerCount ?? 'unset (each table one chain)'}; ${CPU_COUNT} CPUs`,
    ...bigTxnLines(options.target, big, redisPeak),
    '',
    cpu.phases(runs),
    '',
    cpu.costs(runs),
    ...cpu.disturbances(runs),
  ];
  console.log(lines.join('\n'));
  if (options.json) {
    const cores = (from: number, to: number) =>
      Object.fromEntries(['dmq', ...labels].map((l) => [l, Number(sampler.usage(l, from, to).cores.toFixed(3))]));
    await writeFile(options.json, `${JSON.stringify({ options, bigTransaction: bigTxnJson(big, redisPeak, cores) }, null, 2)}\n`);
    log(`results written to ${options.json}`);
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureMydumper();
  ensureBuilt(options.build);
  if (options.bigOnly) return bigOnly(options);

  const dir = await benchDir(options.keep);
  const targetProcess = targetLabel(options.target);
  const labels = [
    'redis',
    'upstream mariadbd',
    targetProcess,
    relayedLabel(options.target),
    'replica mariadbd',
    'parallel replica mariadbd',
  ];
  const [redis, upstream, target, relayedTarget, replica, parallelReplica] = await startServers(labels, [
    startRedis({ dir: join(dir, 'redis') }),
    startMariadb({ dir: join(dir, 'upstream'), serverId: 1, binlog: true, rootPassword: UPSTREAM_PASSWORD }),
    startTarget(options.target, dir),
    startTarget(options.target, join(dir, 'relayed')),
    startMariadb({ dir: join(dir, 'replica'), serverId: 4, binlog: false, rootPassword: '' }),
    startMariadb({ dir: join(dir, 'parallel-replica'), serverId: 5, binlog: false, rootPassword: '' }),
  ]);
  const relay = await startDelayRelay(relayedTarget, options.delayMs);
  const relayedThrough = { ...relayedTarget, host: relay.host, port: relay.port };
  const versions = { target: await serverVersion(target), replica: await serverVersion(replica) };
  log(
    `redis :${redis.port}, upstream mariadbd :${upstream.port} (binlog), ${targetProcess} :${target.port} (${versions.target}), ` +
      `${relayedLabel(options.target)} :${relayedTarget.port} (relay :${relay.port}, ${options.delayMs} ms each way), ` +
      `replica mariadbd :${replica.port}, parallel replica mariadbd :${parallelReplica.port}`,
  );
  const sampler = startSampler(labels, [redis, upstream, target, relayedTarget, replica, parallelReplica]);
  const redisMemory = startRedisMemorySampler(redis.url);
  addCleanup('Redis memory sampler', () => redisMemory.stop());

  const facts = await seed(upstream, options.rows);
  await insertHeartbeatRow(upstream);
  const copies = [
    { label: 'target', server: target },
    { label: 'relayed target', server: relayedTarget },
    { label: 'replica', server: replica },
    { label: 'parallel replica', server: parallelReplica },
  ];
  await copyTable(dir, upstream, copies, sampler, await tableFacts(upstream));
  const start = await masterPosition(upstream);

  log(`writing ${int(options.txns)} OLTP transactions upstream on ${options.connections} connections`);
  const generated = await writeTransactions(upstream, options.txns, options.connections, oltpStatements(options.seed, options.rows));
  const marker = await writeMarker(upstream, 'the OLTP transactions');
  const end = await masterPosition(upstream);
  log(`wrote them in ${secs(generated.to - generated.from)}; binlog ${coord(start)} → ${coord(end)}`);
  const expected = await tableFacts(upstream);
  const quiet = ['upstream mariadbd', targetProcess, relayedLabel(options.target), 'replica mariadbd', 'parallel replica mariadbd', 'dmq'];

  const dmq = await startDmq(dir, redis, sampler, { cpuProf: options.cpuProf });
  await createSource(dmq, dir, SOURCE_ID, upstream);
  const dmqRun = async (task: string, into: Server, check: Server, label: string): Promise<ApplyResult> => {
    await waitForQuiet(sampler, quiet);
    warnIfBusy(sampler);
    const run = await dmqCatchUp(dmq, dir, task, into, start, marker, options.timeoutSec * 1000, options.workerCount);
    // On lanes the marker's key may land before other keys' changes: done is when the table is equal.
    if (options.workerCount !== undefined) run.to = await waitForEqual(check, expected, options.timeoutSec * 1000);
    const verified = verify(label, expected, await tableFacts(check));
    log(`${label} copy verified: ${verified}`);
    return { ...run, verified };
  };
  const dmqResult = await dmqRun(TASK, target, target, 'dmq');
  const relayed = await dmqRun(RELAY_TASK, relayedThrough, relayedTarget, 'dmq relayed');
  // Stopped so that it applies nothing more: the lag runs measure the first task alone.
  await cli(dmq, ['stop-task', RELAY_TASK]);

  const nativeRun = async (server: Server, threads: number, label: string) => {
    await waitForQuiet(sampler, quiet);
    warnIfBusy(sampler);
    const run = await nativeCatchUp(server, upstream, start, marker, options.timeoutSec * 1000, threads);
    const verified = verify(label, expected, await tableFacts(server));
    log(`${label} copy verified: ${verified}`);
    return { ...run, verified };
  };
  const native = await nativeRun(replica, 0, 'native replica');
  const parallel = await nativeRun(parallelReplica, options.parallelThreads, 'parallel replica');

  const lag: LagResult[] = [];
  for (const rate of options.rates) lag.push(await measureLag(rate, options, upstream, target, dmq, sampler));
  log(`after the lag runs: ${verify('dmq', await tableFacts(upstream), await tableFacts(target))}`);

  const big = await bigTransaction(options, upstream, target, dmq, sampler);
  sampler.stop();
  await redisMemory.stop();

  const results: Results = {
    versions,
    facts,
    start,
    end,
    generated,
    dmq: dmqResult,
    relayed,
    native,
    parallel,
    lag,
    big,
    redisPeak: (from, to) => redisMemory.peak(from, to),
  };
  console.log(report(options, results, sampler));
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify(resultJson(options, results, sampler), null, 2)}\n`);
    log(`results written to ${options.json}`);
  }
}

await runBench(main);
