import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChunkKey } from '../chunk/chunk.js';

/** BullMQ key prefix: dmq's queues sit under `dmq:` next to its registry. */
export const QUEUE_PREFIX = 'dmq';

/**
 * Job data names what to work on; processors read configs from the registry. Bull Board shows
 * every job's data to whoever holds the dashboard, so no config (and no password, encrypted
 * or not) ever travels in a job.
 */
export interface TaskJob {
  task: string;
}

export interface PrecheckJob extends TaskJob {
  /** `start`: a submitted task, plan it when the checks pass. `check`: only report (check-task). */
  purpose: 'start' | 'check';
  /** For `check`: where the registry keeps the config of the task, which is not registered. */
  check?: string;
}

export interface PlanJob extends TaskJob {
  sourceId: string;
}

export interface ChunkJob extends TaskJob, ChunkKey {}

/** One `dmq diff` run; its report in Redis carries the same id. */
export interface DiffJob extends TaskJob {
  id: string;
}

export const STATIC_QUEUES = { precheck: 'precheck', plan: 'plan', diff: 'diff' } as const;

/** A diff is not retried: a failed run says why in its report, and the operator runs it again. */
export const DIFF_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 100 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * Dump and load queues are per (task, source): their global concurrency is that source's
 * `mydumper.threads` / `loader.pool-size`, however many processors run. Task and source names
 * are restricted to [A-Za-z0-9_-], so the dot is an unambiguous separator.
 */
export function chunkQueueName(unit: 'dump' | 'load', task: string, sourceId: string): string {
  return `${unit}.${task}.${sourceId}`;
}

/** Job ids make re-enqueueing the same work a no-op while the job is still known to Redis. */
export function chunkJobId(unit: 'dump' | 'load', key: ChunkJob): string {
  return `${unit}|${key.task}|${key.sourceId}|${Buffer.from(JSON.stringify([key.schema, key.table])).toString('base64url')}|${key.index}`;
}

export const CHUNK_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * Apply queues are per task, partitioned: a table's batches always go to one partition, whose
 * global concurrency is 1, so one table never has two batches in flight.
 */
export function applyQueueName(task: string, partition: number): string {
  return `apply.${task}.${partition}`;
}

export const applyJobOptions: JobsOptions = {
  // 1 s doubling over 8 attempts: about four minutes of a target outage before the task pauses.
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  // A completed job would keep its row images in Redis: a big transaction's whole data for as
  // long as it was kept. Its checkpoint is the record that it ran; a job cut again is skipped as
  // covered by it.
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Registry of dynamic queues, read by every processor to know which workers to run. */
const ACTIVE_QUEUES_KEY = 'dmq:queues';

interface ActiveQueue {
  concurrency: number;
}

/**
 * The options of every BullMQ object dmq makes. BullMQ checks the server's version and eviction
 * policy on each connection it opens and prints a warning per connection; dmq checks once per
 * process instead (shared/redis/connection.ts).
 */
export function bullmqOptions(connection: Redis) {
  return { connection: connection as unknown as ConnectionOptions, prefix: QUEUE_PREFIX, skipVersionCheck: true };
}

/** Where a BullMQ object's 'error' events go: without a listener each one is printed raw. */
export type QueueErrorSink = (err: unknown, fields: { queue: string }) => void;

export function queueCache(connection: Redis, onError: QueueErrorSink) {
  const queues = new Map<string, Queue>();
  const options = bullmqOptions(connection);
  return {
    get(name: string): Queue {
      let queue = queues.get(name);
      if (!queue) {
        queue = new Queue(name, options);
        queue.on('error', (err) => onError(err, { queue: name }));
        queues.set(name, queue);
      }
      return queue;
    },
    async activate(name: string, concurrency: number): Promise<Queue> {
      const queue = this.get(name);
      await queue.setGlobalConcurrency(concurrency);
      await connection.hset(ACTIVE_QUEUES_KEY, name, JSON.stringify({ concurrency } satisfies ActiveQueue));
      return queue;
    },
    async deactivate(name: string): Promise<void> {
      await connection.hdel(ACTIVE_QUEUES_KEY, name);
      const queue = this.get(name);
      await queue.obliterate({ force: true });
      queues.delete(name);
      await queue.close();
    },
    all(): Queue[] {
      return [...queues.values()];
    },
    /** `redisAway`: only let go of the queues; they share the process's connection, ended already. */
    async close(redisAway = false): Promise<void> {
      if (!redisAway) await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

export type QueueCache = ReturnType<typeof queueCache>;

export async function listActiveQueues(redis: Redis): Promise<Map<string, ActiveQueue>> {
  const all = await redis.hgetall(ACTIVE_QUEUES_KEY);
  return new Map(Object.entries(all).map(([name, json]) => [name, JSON.parse(json) as ActiveQueue]));
}
