import { createHash } from 'node:crypto';
import type { BatchTable } from '../binlog/batch.js';
import type { InstanceConfig, TaskConfig } from '../config/types.js';
import type { ChunkRecord } from '../checkpoint/copy-checkpoint.js';
import { CHUNK_JOB_OPTIONS, applyQueueName, chunkJobId, chunkQueueName, type ChunkJob } from './queues.js';
import type { ServiceContext } from '../task/context.js';
import { loadsAfterDump, queueKindOf, queueKindsOf } from '../task/stages.js';

/**
 * A task's queues: dump and load per source with the source's configured concurrency, and
 * for replicating modes its apply partitions, one batch at a time each.
 */
export async function activateTaskQueues(ctx: ServiceContext, task: TaskConfig): Promise<void> {
  for (const name of taskQueueNames(task)) {
    const instance = task.instances.find((i) => name.endsWith(`.${i.sourceId}`));
    const kind = queueKindOf(name);
    const concurrency = kind === 'dump' ? instance!.mydumper.threads : kind === 'load' ? instance!.loader.poolSize : 1;
    await ctx.queues.activate(name, concurrency);
  }
}

/** How many apply partitions the task has, and how many lanes a table with a key is split into: `syncers.worker-count`, at most 16. */
export function applyPartitions(task: TaskConfig): number {
  return Math.max(1, Math.min(16, ...task.instances.map((i) => i.syncer.workerCount)));
}

/**
 * How many lanes the tables of one source are split into: its `worker-count` when the task sets
 * it, within the task's partitions. Unset, a table is one chain: with 16 lanes a join waits for
 * 16 jobs in 16 partitions, which costs a table whose changes often join more than lanes gain.
 */
export function applyLanes(task: TaskConfig, instance: InstanceConfig): number {
  return Math.max(1, Math.min(applyPartitions(task), instance.syncer.lanes ?? 1));
}

/** The partition of a table's own chain, or of one of its lanes: the lanes of a table take the partitions after its own, so none shares one. */
export function applyPartitionOf(b: Pick<BatchTable, 'sourceId' | 'schema' | 'table' | 'lane'>, partitions: number): number {
  const table = createHash('sha1').update(`${b.sourceId}\u0000${b.schema}\u0000${b.table}`).digest().readUInt32BE(0);
  return (table + (b.lane ? 1 + b.lane.index : 0)) % partitions;
}

/** The queues of the task's own (the precheck and plan queues are shared by all tasks). */
export function taskQueueNames(task: TaskConfig): string[] {
  return queueKindsOf(task.taskMode).flatMap((kind) => {
    if (kind === 'dump' || kind === 'load') return task.instances.map((i) => chunkQueueName(kind, task.name, i.sourceId));
    if (kind === 'apply') return Array.from({ length: applyPartitions(task) }, (_, n) => applyQueueName(task.name, n));
    return [];
  });
}

/**
 * Queue whatever each unfinished chunk still needs: a dump, or a load of its dumped file.
 * Deterministic job ids make this safe to repeat after a restart.
 */
export async function enqueueChunkWork(ctx: ServiceContext, task: TaskConfig, chunks: ChunkRecord[]): Promise<void> {
  const byUnit = { dump: [] as ChunkJob[], load: [] as ChunkJob[] };
  for (const c of chunks) {
    const job: ChunkJob = { task: task.name, sourceId: c.sourceId, schema: c.schema, table: c.table, index: c.index };
    if (!c.dumped) byUnit.dump.push(job);
    else if (loadsAfterDump(task.taskMode)) byUnit.load.push(job);
  }
  for (const unit of ['dump', 'load'] as const) {
    const bySource = new Map<string, ChunkJob[]>();
    for (const j of byUnit[unit]) {
      const list = bySource.get(j.sourceId) ?? [];
      list.push(j);
      bySource.set(j.sourceId, list);
    }
    for (const [sourceId, jobs] of bySource) {
      const queue = ctx.queues.get(chunkQueueName(unit, task.name, sourceId));
      await queue.addBulk(jobs.map((data) => ({ name: unit, data, opts: { ...CHUNK_JOB_OPTIONS, jobId: chunkJobId(unit, data) } })));
    }
  }
}

export async function enqueueLoad(ctx: ServiceContext, job: ChunkJob): Promise<void> {
  await ctx.queues
    .get(chunkQueueName('load', job.task, job.sourceId))
    .add('load', job, { ...CHUNK_JOB_OPTIONS, jobId: chunkJobId('load', job) });
}
