import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { getStack } from '../harness/stack.js';
import { startDmq, startDmqWorker, type DmqServer, type DmqWorker } from './dmq.js';

/** The supervisor's lease on a (task, source)'s binlog reader. */
const leaseKey = (task: string, source: string) => `dmq:lease:tailer:${task}:${source}`;

/**
 * What a worker's log says of its binlog reader for (task, source): the last of these lines
 * tells whether it holds the reader now.
 */
const READER_LINES: Record<string, boolean> = {
  'binlog reader started': true,
  'binlog reader failed; restarting from the checkpoint': true,
  'binlog reader stopped': false,
  'lost the binlog reader lease': false,
};

function holdsReader(output: string, task: string, source: string): boolean {
  let holds = false;
  for (const line of output.split('\n')) {
    if (!line.includes('"binlog reader') && !line.includes('"lost the binlog reader')) continue;
    try {
      const record = JSON.parse(line) as { task?: string; source?: string; msg?: string };
      if (record.task === task && record.source === source && record.msg !== undefined && record.msg in READER_LINES) {
        holds = READER_LINES[record.msg]!;
      }
    } catch {
      // not a log record
    }
  }
  return holds;
}

/**
 * dmq as a deployment runs it: one `--role api` process and `workers` `--role worker`
 * processes on the test stack's Redis, sharing a dump directory. Any of them can be killed and
 * replaced.
 */
export async function startCluster(options: { workers: number; env?: Record<string, string> }) {
  const dumpDir = await mkdtemp(join(tmpdir(), 'dmq-dump-'));
  const env = options.env ?? {};
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
     * The live worker running the binlog reader of (task, source): the lease is held and exactly
     * one worker's log says it started the reader and has not let it go since.
     */
    async readerHolder(task: string, source: string, timeoutMs = 60_000): Promise<DmqWorker> {
      const redis = new Redis((await getStack()).redis.url, { maxRetriesPerRequest: 1 });
      try {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const leased = (await redis.exists(leaseKey(task, source))) === 1;
          const holders = workers.filter((w) => holdsReader(w.output(), task, source));
          if (leased && holders.length === 1) return holders[0]!;
          if (Date.now() > deadline) {
            throw new Error(
              `no single worker holds the binlog reader of ${task}/${source}: lease ${leased ? 'held' : 'free'}, ${holders.length} claim it`,
            );
          }
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
