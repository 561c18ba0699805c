/**
 * Soak benchmark: an `all` task under writers while random faults hit it, then every row compared.
 *
 *   npx tsx bench/soak.ts [--minutes 20] [--rows 50000] [--workers 2] [--rate 50] [--takeover 15] [--seed 1] [--keep] [--no-build]
 *
 * One run: a private Redis (AOF on), two upstream MariaDBs and a MariaDB target on free ports in a
 * temp dir; dmq as one `--role api` process and `--workers` `--role worker` processes. Upstream 1
 * is reached over a network namespace's link, upstream 2 and the target through TCP relays. Both
 * upstreams' test_db.test_table (`--rows` rows each) merge into one target table while writers
 * run on both (`--rate` transactions a second each); every 30–90 s one fault from FAULTS. At the end the writers stop, dmq catches up,
 * and the merged table is compared row by row with the upstreams. Everything started is stopped,
 * even on failure.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startMember, startRedis, stackInfo, TARGET, UPSTREAMS, type MariadbServer, type RedisServer } from '../test/harness/servers.js';
import { REDIS_DIR } from '../test/harness/servers.js';
import { startCluster, type Cluster } from '../test/support/cluster.js';
import { compareMerged } from '../test/support/compare.js';
import { runCli, taskStatus, waitForCaughtUp, type TaskStatus } from '../test/support/dmq.js';
import { registerSources, SOURCES, startWriters, writeFaultTask } from '../test/support/fault-task.js';
import { seedTestTables } from '../test/support/fixtures.js';
import { startNetnsLink } from '../test/support/netns.js';
import { prng } from '../test/support/prng.js';
import { startTcpProxy } from '../test/support/tcp-proxy.js';
import { int, log, secs, table } from './lib/format.js';
import { integerOption } from './lib/options.js';
import { ensureBuilt } from './lib/prerequisites.js';
import { addCleanup, benchDir, runBench, startServers } from './lib/processes.js';

const TASK = 'soak';
/** Redis as docs/operations.md asks for production: every write in the AOF, fsync'd each second. */
const REDIS_POLICY = ['--maxmemory-policy', 'noeviction'];
/** Back to normal after a fault: every source in Sync and at most this far behind. */
const RECOVERED_LAG_S = 5;

interface Options {
  minutes: number;
  rows: number;
  workers: number;
  rate: number;
  takeover: number;
  seed: number;
  keep: boolean;
  build: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '20' },
      rows: { type: 'string', default: '50000' },
      workers: { type: 'string', default: '2' },
      rate: { type: 'string', default: '50' },
      takeover: { type: 'string', default: '15' },
      seed: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: npx tsx bench/soak.ts [options]   (as root: it makes a network namespace)',
        '  --minutes N   how long faults are injected (default 20)',
        '  --rows N      rows of test_db.test_table on each upstream before the task starts (default 50000)',
        '  --workers N   dmq --role worker processes (default 2)',
        '  --rate N      transactions a second written on each upstream (default 50)',
        "  --takeover N  dmq's DMQ_TAKEOVER_SECONDS: how soon a killed or paused process's work moves on (default 15, dmq's own)",
        '  --seed N      seed of the fault schedule and the writers (default 1)',
        "  --keep        keep the temp dir (dmq's logs in logs/, the servers' logs)",
        '  --no-build    use dist/ as it is, even if src/ is newer',
      ].join('\n'),
    );
    process.exit(0);
  }
  return {
    minutes: integerOption('minutes', values.minutes, 1),
    rows: integerOption('rows', values.rows, 1),
    workers: integerOption('workers', values.workers, 2),
    rate: integerOption('rate', values.rate, 1),
    takeover: integerOption('takeover', values.takeover, 5),
    seed: integerOption('seed', values.seed, 0),
    keep: values.keep,
    build: !values['no-build'],
  };
}

/** What a fault needs to reach: the processes, the links and the servers behind them. */
interface World {
  dir: string;
  cluster: Cluster;
  redis: RedisServer;
  target: MariadbServer;
  sourceLinks: { down(): void; up(): void }[];
  targetLink: { cut(): void; restore(): void };
  random: () => number;
}

const between = (random: () => number, lowMs: number, highMs: number) => lowMs + Math.floor(random() * (highMs - lowMs));

/** Each fault does its damage, waits as long as it lasts, and undoes what an operator would. */
const FAULTS: Record<string, (w: World) => Promise<string>> = {
  'kill -9 of a worker': async (w) => {
    const workers = w.cluster.workers();
    const victim = workers[Math.floor(w.random() * workers.length)]!;
    await w.cluster.killWorker(victim);
    await w.cluster.addWorker();
    return `pid ${victim.pid}, replaced`;
  },
  'kill -9 of the api': async (w) => {
    await w.cluster.restartApi();
    return 'restarted';
  },
  'kill -9 of the reader holder': async (w) => {
    const source = SOURCES[Math.floor(w.random() * SOURCES.length)]!;
    const holder = await w.cluster.readerHolder(TASK, source, 30_000);
    await w.cluster.killWorker(holder);
    await w.cluster.addWorker();
    return `${source}'s reader in pid ${holder.pid}, replaced`;
  },
  'source link cut': async (w) => {
    const i = Math.floor(w.random() * SOURCES.length);
    const ms = between(w.random, 5_000, 20_000);
    w.sourceLinks[i]!.down();
    await sleep(ms);
    w.sourceLinks[i]!.up();
    return `${SOURCES[i]} for ${secs(ms)}${i === 0 ? ' (link down: packets dropped)' : ' (relay: connections reset)'}`;
  },
  'target link cut': async (w) => {
    const ms = between(w.random, 5_000, 20_000);
    w.targetLink.cut();
    await sleep(ms);
    w.targetLink.restore();
    return `for ${secs(ms)}`;
  },
  'target down 30 s': async (w) => {
    process.kill(w.target.pid, 'SIGKILL');
    await sleep(30_000);
    w.target = await startMember(w.dir, TARGET, w.target.port);
    const restarted = w.target;
    addCleanup('restarted target', () => restarted.stop());
    return 'kill -9, restarted on its data';
  },
  'Redis kill -9, restart from AOF': async (w) => {
    process.kill(w.redis.pid, 'SIGKILL');
    const ms = between(w.random, 1_000, 5_000);
    await sleep(ms);
    w.redis = await startRedis({ dir: join(w.dir, REDIS_DIR), port: w.redis.port, aof: true, args: REDIS_POLICY });
    const restarted = w.redis;
    addCleanup('restarted redis', () => restarted.stop());
    return `down ${secs(ms)}`;
  },
};

/** The task's status, or undefined while no api answers (it may be the fault). */
async function statusOf(w: World): Promise<TaskStatus | undefined> {
  try {
    return await taskStatus(w.cluster.addr, TASK);
  } catch {
    return undefined;
  }
}

const lagOf = (s: TaskStatus) => Math.max(0, ...s.sources.map((src) => src.subTaskStatus[0]!.sync?.secondsBehindMaster ?? 0));
const recovered = (s: TaskStatus) =>
  s.stage === 'Running' &&
  s.sources.every((src) => {
    const sub = src.subTaskStatus[0]!;
    return sub.unit === 'Sync' && sub.sync?.secondsBehindMaster !== null && (sub.sync?.secondsBehindMaster ?? Infinity) <= RECOVERED_LAG_S;
  });

/**
 * Watches the task every second: the largest lag, and pauses (each one recorded with its error,
 * then resumed as an operator would, so the soak goes on).
 */
function startMonitor(w: World) {
  let stopped = false;
  let maxLag = 0;
  const pauses: string[] = [];
  const running = (async () => {
    while (!stopped) {
      const s = await statusOf(w);
      if (s) {
        maxLag = Math.max(maxLag, lagOf(s));
        if (s.stage === 'Paused') {
          const errors = s.sources.flatMap((src) => src.subTaskStatus[0]!.result?.errors ?? []);
          pauses.push(errors.map((e) => `${e.ErrCode}: ${e.Message.slice(0, 300)}`).join('; ') || 'no error shown');
          log(`task paused: ${pauses.at(-1)}; resume-task`);
          await runCli(w.cluster.addr, ['resume-task', TASK]).catch(() => undefined);
        }
      }
      await sleep(1000);
    }
  })();
  return {
    maxLag: () => maxLag,
    pauses,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** How many of each of `a` are not matched in `b` (rows as multisets). */
function unmatched(a: string[], b: string[]): number {
  const left = new Map<string, number>();
  for (const row of b) left.set(row, (left.get(row) ?? 0) + 1);
  let missing = 0;
  for (const row of a) {
    const n = left.get(row) ?? 0;
    if (n === 0) missing += 1;
    else left.set(row, n - 1);
  }
  return missing;
}

async function main(): Promise<void> {
  const opts = options();
  ensureBuilt(opts.build);
  const dir = await benchDir(opts.keep);
  if (opts.keep) {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'logs'));
    process.env.DMQ_TEST_LOGS = join(dir, 'logs');
  }
  const [redis, upstream1, upstream2, target] = await startServers<[RedisServer, MariadbServer, MariadbServer, MariadbServer]>(
    ['redis', 'upstream 1', 'upstream 2', 'target'],
    [
      startRedis({ dir: join(dir, REDIS_DIR), aof: true, args: REDIS_POLICY }),
      startMember(dir, UPSTREAMS[0]),
      startMember(dir, UPSTREAMS[1]),
      startMember(dir, TARGET),
    ],
  );
  // The test support finds the servers through this file, as test files do.
  const stackFile = join(dir, 'stack.json');
  const info = stackInfo({ dir, redis, upstreams: [upstream1, upstream2], target, targetKind: 'mariadb', env: {}, stop: async () => {} });
  await writeFile(stackFile, JSON.stringify(info));
  process.env.DMQ_TEST_STACK = stackFile;

  log(`seeding ${int(opts.rows)} rows on each upstream`);
  await seedTestTables(opts.rows);
  const sourceLink = await startNetnsLink(upstream1);
  addCleanup('source 1 link', () => sourceLink.close());
  const sourceRelay = await startTcpProxy(upstream2);
  addCleanup('source 2 relay', () => sourceRelay.close());
  const targetLink = await startTcpProxy(target);
  addCleanup('target relay', () => targetLink.close());

  const cluster = await startCluster({ workers: opts.workers, env: { DMQ_TAKEOVER_SECONDS: String(opts.takeover) } });
  addCleanup('dmq', () => cluster.stop());
  await registerSources(cluster.addr, [sourceLink, sourceRelay]);
  const started = await runCli(cluster.addr, ['start-task', await writeFaultTask({ name: TASK, targetPort: targetLink.port })]);
  if (started.code !== 0) throw new Error(`start-task failed: ${started.stdout}${started.stderr}`);
  const writers = await startWriters(opts.seed * 1000, opts.rate);
  const w: World = {
    dir,
    cluster,
    redis,
    target,
    sourceLinks: [sourceLink, { down: () => sourceRelay.cut(), up: () => sourceRelay.restore() }],
    targetLink,
    random: prng(opts.seed),
  };
  const monitor = startMonitor(w);
  log(`task started: ${opts.workers} workers, a fault every 30–90 s for ${opts.minutes} min`);

  const injected = new Map<string, number>();
  const recoveries: number[] = [];
  let unrecovered = 0;
  const end = Date.now() + opts.minutes * 60_000;
  const kinds = Object.keys(FAULTS);
  let next = Date.now() + between(w.random, 30_000, 90_000);
  while (next < end) {
    await sleep(next - Date.now());
    const kind = kinds[Math.floor(w.random() * kinds.length)]!;
    const what = await FAULTS[kind]!(w).catch((err: unknown) => `failed to inject: ${(err as Error).message}`);
    injected.set(kind, (injected.get(kind) ?? 0) + 1);
    const over = Date.now();
    next = over + between(w.random, 30_000, 90_000);
    log(`fault: ${kind} (${what})`);
    // Recovered when back in sync within a few seconds of lag, before the next fault.
    let back: number | undefined;
    while (back === undefined && Date.now() < Math.min(next, end)) {
      const s = await statusOf(w);
      if (s && recovered(s)) back = Date.now() - over;
      else await sleep(500);
    }
    if (back === undefined) {
      unrecovered += 1;
      log(`  not back in sync before the next fault`);
    } else {
      recoveries.push(back);
      log(`  back in sync ${secs(back)} after the fault ended`);
    }
  }
  if (end > Date.now()) await sleep(end - Date.now());

  log('stopping the writers; waiting for dmq to catch up');
  const counts = await writers.stop();
  const caughtFrom = Date.now();
  const final = await waitForCaughtUp(cluster.addr, TASK, info.upstreams, 15 * 60_000);
  const catchUp = Date.now() - caughtFrom;
  await monitor.stop();
  const { expected, actual } = await compareMerged(
    info.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: info.target, schema: 'test_db', table: 'test_table' },
  );
  const missing = unmatched(expected, actual);
  const extra = unmatched(actual, expected);

  console.log(
    `\nSoak: ${opts.minutes} min, ${opts.workers} workers, seed ${opts.seed}; writers ran ${counts.map(int).join(' + ')} transactions (${opts.rate}/s each)\n`,
  );
  console.log(table([['fault', 'injected'], ...kinds.map((k) => [k, String(injected.get(k) ?? 0)])]));
  const total = [...injected.values()].reduce((a, b) => a + b, 0);
  const sorted = [...recoveries].sort((a, b) => a - b);
  console.log(
    `\nfaults ${total}; back in sync before the next: ${recoveries.length}` +
      (sorted.length > 0 ? ` (median ${secs(sorted[Math.floor(sorted.length / 2)]!)}, max ${secs(sorted.at(-1)!)})` : '') +
      `; not: ${unrecovered}`,
  );
  console.log(`pauses: ${monitor.pauses.length}${monitor.pauses.map((p) => `\n  ${p}`).join('')}`);
  console.log(`max lag observed: ${monitor.maxLag()} s`);
  console.log(`catch-up after the writers stopped: ${secs(catchUp)}; task ${final.stage}`);
  console.log(`rows: upstreams ${int(expected.length)}, target ${int(actual.length)}; missing ${missing}, extra or different ${extra}`);
  if (missing + extra > 0 || final.stage !== 'Running') throw new Error('the target differs from the upstreams or the task is not running');
}

await runBench(main);
