/**
 * Scale-out benchmark: one `dmq serve --role api` and 1, 2, 4 `--role worker` processes on one
 * Redis, each round timed on the same copy and the same catch-up.
 *
 *   npx tsx bench/scale-out.ts [--target mariadb|tidb] [--rows 500000] [--txns 20000] [--workers 1,2,4]
 *                              [--connections 4] [--seed 1] [--timeout 900] [--json out.json] [--keep] [--no-build]
 *
 * One run: private Redis, an upstream MariaDB (binlog on) and a target on free ports in a temp
 * dir; N rows in sbtest.sbtest1 upstream. Each round starts from an empty target and an empty
 * Redis with a fresh api and W workers, and times (1) a `full` task from start-task to Finished
 * and (2) an `incremental` task replaying transactions written just before it from a standing
 * start. Every copy is checked against the upstream. Everything started is stopped, even on failure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { qualify, quoteId } from '../src/shared/sql/quote.js';
import { startMariadb, startRedis, UPSTREAM_PASSWORD, type RedisServer, type TargetKind } from '../test/harness/servers.js';
import { cli, createSource, startDmq, startDmqWorker, throwIfFailed, waitForFinished, writeTask } from './lib/dmq-process.js';
import { int, log, mib, perSec, secs, table } from './lib/format.js';
import { integerOption, targetOption } from './lib/options.js';
import { coord, insertHeartbeatRow, masterPosition, oltpStatements, waitForMarker, writeMarker, writeTransactions } from './lib/oltp.js';
import { ensureBuilt } from './lib/prerequisites.js';
import { CPU_COUNT, type ProcessSampler } from './lib/proc-stats.js';
import { addCleanup, benchDir, runBench, startSampler, startServers } from './lib/processes.js';
import { startRedisMemorySampler } from './lib/redis-memory.js';
import { SCHEMA, seed, tableFacts, verify } from './lib/sbtest.js';
import { serverVersion, withConnection, type Server } from './lib/sql.js';
import { describeTarget, startTarget, targetLabel } from './lib/target.js';

const SOURCE_ID = 'bench-upstream';
const META_SCHEMA = 'dm_meta';

interface Options {
  target: TargetKind;
  rows: number;
  txns: number;
  workers: number[];
  connections: number;
  seed: number;
  timeoutSec: number;
  json?: string;
  keep: boolean;
  build: boolean;
}

const HELP = [
  'usage: npx tsx bench/scale-out.ts [options]',
  '  --target KIND       what dmq copies into: mariadb or tidb (default mariadb)',
  '  --rows N            rows in sbtest.sbtest1 (default 500000)',
  '  --txns N            OLTP transactions each round replays from a standing start (default 20000)',
  '  --workers W,W,...   worker processes per round (default 1,2,4)',
  '  --connections N     upstream connections writing the transactions (default 4)',
  "  --seed N            seed of the workload's random generator (default 1)",
  '  --timeout S         give up on any one wait after S seconds (default 900)',
  '  --json FILE         also write the results as JSON',
  '  --keep              keep the temp dir (server logs, every dmq process log)',
  '  --no-build          use dist/ as it is, even if src/ is newer',
].join('\n');

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'mariadb' },
      rows: { type: 'string', default: '500000' },
      txns: { type: 'string', default: '20000' },
      workers: { type: 'string', default: '1,2,4' },
      connections: { type: 'string', default: '4' },
      seed: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '900' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
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
    workers: values.workers.split(',').map((w) => integerOption('workers', w.trim(), 1)),
    connections: integerOption('connections', values.connections, 1),
    seed: integerOption('seed', values.seed, 0),
    timeoutSec: integerOption('timeout', values.timeout, 1),
    json: values.json,
    keep: values.keep,
    build: !values['no-build'],
  };
}

interface Phase {
  from: number;
  to: number;
  /** Core-seconds of every dmq process (api and workers) over the phase. */
  dmqCpu: number;
  redisPeak: number;
}

interface Round {
  workers: number;
  copy: Phase & { rows: number };
  catchUp: Phase & { txns: number };
}

/** An empty target (no copy, no checkpoints) and an empty Redis, so each round starts alike. */
async function resetRound(target: Server, redisUrl: string): Promise<void> {
  await withConnection(target, async (conn) => {
    for (const schema of [SCHEMA, META_SCHEMA]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
  });
  const redis = new Redis(redisUrl);
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

interface Servers {
  redis: RedisServer;
  upstream: Server;
  target: Server;
}

async function runRound(
  workerCount: number,
  options: Options,
  dir: string,
  servers: Servers,
  sampler: ProcessSampler,
  redisPeak: (from: number, to: number) => number,
): Promise<Round> {
  const { redis, upstream, target } = servers;
  const roundDir = join(dir, `workers-${workerCount}`);
  await mkdir(roundDir, { recursive: true });
  await resetRound(target, redis.url);
  log(`round with ${workerCount} worker${workerCount > 1 ? 's' : ''}`);
  const labels = ['dmq api', ...Array.from({ length: workerCount }, (_, i) => `dmq worker ${i + 1}`)];
  const api = await startDmq(roundDir, redis, sampler, { role: 'api', label: labels[0]! });
  const workers = await Promise.all(labels.slice(1).map((label) => startDmqWorker(roundDir, redis, sampler, label)));
  const dmqCpu = (from: number, to: number) => labels.reduce((sum, l) => sum + sampler.usage(l, from, to).cores * ((to - from) / 1000), 0);
  const phase = (from: number, to: number) => ({ from, to, dmqCpu: dmqCpu(from, to), redisPeak: redisPeak(from, to) });
  try {
    await createSource(api, roundDir, SOURCE_ID, upstream);
    const expectedCopy = await tableFacts(upstream);
    const copyTask = `scale-copy-${workerCount}`;
    const copyYaml = await writeTask(roundDir, { name: copyTask, mode: 'full', target, sourceId: SOURCE_ID, schema: SCHEMA, instance: [] });
    const copyFrom = Date.now();
    await cli(api, ['start-task', copyYaml]);
    const copyTo = await waitForFinished(api.addr, copyTask, options.timeoutSec * 1000);
    log(
      `  copy: ${int(expectedCopy.rows)} rows in ${secs(copyTo - copyFrom)}; ${verify('dmq copy', expectedCopy, await tableFacts(target))}`,
    );
    await cli(api, ['stop-task', copyTask]);

    const start = await masterPosition(upstream);
    await writeTransactions(upstream, options.txns, options.connections, oltpStatements(options.seed + workerCount, options.rows));
    const marker = await writeMarker(upstream, `round ${workerCount}`);
    const expected = await tableFacts(upstream);
    const syncTask = `scale-sync-${workerCount}`;
    const syncYaml = await writeTask(roundDir, {
      name: syncTask,
      mode: 'incremental',
      target,
      sourceId: SOURCE_ID,
      schema: SCHEMA,
      instance: ['meta:', `  binlog-name: "${start.file}"`, `  binlog-pos: ${start.pos}`],
    });
    const syncFrom = Date.now();
    await cli(api, ['start-task', syncYaml]);
    const syncTo = await waitForMarker(target, marker, options.timeoutSec * 1000, () => throwIfFailed(api.addr, syncTask));
    log(
      `  catch-up from ${coord(start)}: ${int(options.txns + 1)} transactions in ${secs(syncTo - syncFrom)}; ${verify('dmq catch-up', expected, await tableFacts(target))}`,
    );
    await cli(api, ['stop-task', syncTask]);
    return {
      workers: workerCount,
      copy: { ...phase(copyFrom, copyTo), rows: expectedCopy.rows },
      catchUp: { ...phase(syncFrom, syncTo), txns: options.txns + 1 },
    };
  } finally {
    await Promise.all([api.stop(), ...workers.map((w) => w.stop())]);
  }
}

function report(options: Options, version: string, rounds: Round[]): string {
  const base = rounds[0]!;
  const rows = [
    ['workers', 'copy', 'rows/s', 'speed-up', 'dmq CPU', 'Redis peak', 'catch-up', 'txn/s', 'speed-up', 'dmq CPU', 'Redis peak'],
  ];
  for (const r of rounds) {
    const copyMs = r.copy.to - r.copy.from;
    const syncMs = r.catchUp.to - r.catchUp.from;
    rows.push([
      String(r.workers),
      secs(copyMs),
      int(perSec(r.copy.rows, copyMs)),
      `${((base.copy.to - base.copy.from) / copyMs).toFixed(2)}x`,
      `${r.copy.dmqCpu.toFixed(1)} core-s`,
      mib(r.copy.redisPeak),
      secs(syncMs),
      int(perSec(r.catchUp.txns, syncMs)),
      `${((base.catchUp.to - base.catchUp.from) / syncMs).toFixed(2)}x`,
      `${r.catchUp.dmqCpu.toFixed(1)} core-s`,
      mib(r.catchUp.redisPeak),
    ]);
  }
  return [
    '',
    `=== dmq scale-out: one api and ${options.workers.join(', ')} workers on one Redis, into ${describeTarget(options.target, version)} ===`,
    `copy: a full task over ${int(base.copy.rows)} rows of ${qualify(SCHEMA, 'sbtest1')}, start-task → Finished; catch-up: an incremental ` +
      `task replaying ${int(options.txns)} OLTP transactions from a standing start, start-task → the last one on the target`,
    `${CPU_COUNT} CPUs: every process (servers, api, workers) shares them, so more workers add parallelism only up to the cores`,
    '',
    table(rows, true),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureBuilt(options.build);
  const dir = await benchDir(options.keep);
  const labels = ['redis', 'upstream mariadbd', targetLabel(options.target)];
  const [redis, upstream, target] = await startServers(labels, [
    startRedis({ dir: join(dir, 'redis') }),
    startMariadb({ dir: join(dir, 'upstream'), serverId: 1, binlog: true, rootPassword: UPSTREAM_PASSWORD }),
    startTarget(options.target, dir),
  ]);
  const sampler = startSampler(labels, [redis, upstream, target]);
  const redisMemory = startRedisMemorySampler(redis.url);
  addCleanup('Redis memory sampler', () => redisMemory.stop());
  await seed(upstream, options.rows);
  await insertHeartbeatRow(upstream);
  const version = await serverVersion(target);
  const rounds: Round[] = [];
  for (const workers of options.workers) {
    rounds.push(await runRound(workers, options, dir, { redis, upstream, target }, sampler, (from, to) => redisMemory.peak(from, to)));
  }
  sampler.stop();
  await redisMemory.stop();
  console.log(report(options, version, rounds));
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify({ options, rounds }, null, 2)}\n`);
    log(`results written to ${options.json}`);
  }
}

await runBench(main);
