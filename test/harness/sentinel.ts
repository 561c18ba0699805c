import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, HOST } from './ports.js';
import { hasExited, readPidFile, spawnServer, terminate, waitUntilReady } from './proc.js';
import { pings, redisFiles, startRedis, type RedisServer } from './redis.js';

/** The name the sentinels monitor the master under. */
export const MASTER_NAME = 'dmq-master';

export interface SentinelGroup {
  master: RedisServer;
  replica: RedisServer;
  /** host:port of each sentinel, as DMQ_REDIS_SENTINELS takes them. */
  sentinels: string[];
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Redis master with one replica and three sentinels (quorum 2) on free ports under `dir`, as
 * production runs Redis for dmq. Failure detection is fast (1 s) so a test's failover is quick.
 * Resolves once every sentinel knows the replica and the other sentinels, so a failover can happen.
 */
export async function startSentinelGroup(options: { dir: string }): Promise<SentinelGroup> {
  const dir = resolve(options.dir);
  // Redis 7 waits 5 s before a diskless full sync, for more replicas to join: there is one.
  const master = await startRedis({ dir: join(dir, 'master'), aof: true, args: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startRedis({ dir: join(dir, 'replica'), aof: true, args: ['--replicaof', HOST, String(master.port)] });
  const sentinels: { port: number; stop(): Promise<void> }[] = [];
  try {
    // A master killed before its replica's first sync leaves an empty replica to promote: a
    // different fault (all of Redis lost) from the failover a group is for.
    await waitForReplicaLink(replica.port);
    for (let i = 1; i <= 3; i++) sentinels.push(await startSentinel(join(dir, `sentinel-${i}`), master.port));
    await waitForTopology(sentinels.map((s) => s.port));
  } catch (err) {
    await Promise.all([...sentinels.map((s) => s.stop()), master.stop(), replica.stop()]);
    throw err;
  }
  return {
    master,
    replica,
    sentinels: sentinels.map((s) => `${HOST}:${s.port}`),
    async masterPort() {
      const client = new Redis({ host: HOST, port: sentinels[0]!.port, lazyConnect: true });
      try {
        await client.connect();
        const [, port] = (await client.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
        return Number(port);
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      await Promise.all([...sentinels.map((s) => s.stop()), master.stop(), replica.stop()]);
    },
  };
}

async function startSentinel(dir: string, masterPort: number) {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const { pidFile, logFile } = redisFiles(dir);
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file as it learns the group, so it gets one of its own.
  await writeFile(
    conf,
    [
      `port ${port}`,
      `bind ${HOST}`,
      'daemonize no',
      `pidfile ${pidFile}`,
      `logfile ${logFile}`,
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} ${HOST} ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 10000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawnServer('redis-sentinel', [conf], false);
  const pid = child.pid as number;
  await waitUntilReady(child, `redis-sentinel on port ${port}`, logFile, async () => (await readPidFile(pidFile)) === pid && pings(port));
  return { port, stop: () => terminate(pid, () => hasExited(child)) };
}

async function waitForReplicaLink(port: number): Promise<void> {
  const client = new Redis({ host: HOST, port });
  try {
    const deadline = Date.now() + 30_000;
    while (!/master_link_status:up/.test(await client.info('replication'))) {
      if (Date.now() > deadline) throw new Error(`the Redis replica on port ${port} did not complete its first sync within 30 s`);
      await sleep(100);
    }
  } finally {
    client.disconnect();
  }
}

/** Sentinels find the replica through the master's INFO (every 10 s) and each other through its pub/sub. */
async function waitForTopology(ports: number[]): Promise<void> {
  const clients = ports.map((port) => new Redis({ host: HOST, port }));
  try {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const known = await Promise.all(
        clients.map(async (c) => {
          const replicas = (await c.call('SENTINEL', 'replicas', MASTER_NAME)) as unknown[];
          const others = (await c.call('SENTINEL', 'sentinels', MASTER_NAME)) as unknown[];
          return replicas.length >= 1 && others.length >= ports.length - 1;
        }),
      );
      if (known.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('the sentinels did not discover the replica and each other within 40 s');
      await sleep(250);
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
}
