import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { getStack } from '../harness/stack.js';
import { startDmq, startDmqWorker, type DmqServer, type DmqWorker } from './dmq.js';

/** The supervisor's lease on a (task, source)'s binlog reader. */
const leaseKey = (task: string, source: string) => `dmq:lease:tailer:${task}:${source}`;

/**
 * dmq as a deployment runs it: one `--role api` process and `workers` `--role worker`
 * processes on the test stack's Redis, sharing a dump directory. Any of them can be killed and
 * replaced.
 */
export async function startCluster(options: { workers: number; env?: Record<string, string> }) {
  const dumpDir = await mkdtemp(join(tmpdir(), 'dmq-dump-'));
  // Takeovers after a kill in 5 s instead of the default 15: the faults' tests wait less.
  const env = { DMQ_TAKEOVER_SECONDS: '5', ...options.env };
  let api: DmqServer = await startDmq({ role: 'api', dumpDir, env });
  const workers: DmqWorker[] = [];
  const addWorker = async (): Promise<DmqWorker> => {
    const worker = await startDmqWorker({ dumpDir, env });
    workers.push(worker);
    return worker;
  };
  await Promise.all(Array.from({ length: options.workers }, addWorker));

  return {
    dumpDir,
    get api(): DmqServer {
      return api;
    },
    get addr(): string {
      return api.addr;
    },
    workers: (): readonly DmqWorker[] => workers,
    addWorker,
    /** kill -9 of every worker at once. */
    async killAllWorkers(): Promise<void> {
      await Promise.all(workers.splice(0).map((w) => w.kill()));
    },
    /** kill -9 of one worker; it leaves the cluster. */
    async killWorker(worker: DmqWorker): Promise<void> {
      await worker.kill();
      workers.splice(workers.indexOf(worker), 1);
    },
    /** kill -9 of the api process, then a new one on the same port. */
    async restartApi(): Promise<void> {
      await api.kill();
      api = await startDmq({ role: 'api', dumpDir, env, port: api.port });
    },
    /**
     * The live worker running the binlog reader of (task, source): the one whose pid the
     * reader's lease names.
     */
    async readerHolder(task: string, source: string, timeoutMs = 60_000): Promise<DmqWorker> {
      const redis = new Redis((await getStack()).redis.url, { maxRetriesPerRequest: 1 });
      try {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          // The supervisor's lease names its owner as host/pid/id.
          const owner = await redis.get(leaseKey(task, source));
          const holder = owner ? workers.find((w) => w.pid === Number(owner.split('/')[1])) : undefined;
          if (holder) return holder;
          if (Date.now() > deadline) throw new Error(`no worker holds the binlog reader of ${task}/${source}: lease ${owner ?? 'free'}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        redis.disconnect();
      }
    },
    /** Every process's output, for a failing assertion's message. */
    logs(): string {
      return [api.output(), ...workers.map((w) => w.output())].join('\n');
    },
    async stop(): Promise<void> {
      await Promise.all([api.stop(), ...workers.map((w) => w.stop())]);
    },
  };
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;
