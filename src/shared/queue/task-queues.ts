import { readsBinlog, type TaskConfig } from '../config/types.js';
import type { ChunkRecord } from '../checkpoint/copy-checkpoint.js';
import { CHUNK_JOB_OPTIONS, applyQueueName, chunkJobId, chunkQueueName, type ChunkJob } from './queues.js';
import type { ServiceContext } from '../task/context.js';

/**
 * A task's queues: dump and load per source with the source's configured concurrency, and
 * for replicating modes its apply partitions, one batch at a time each.
 */
export async function activateTaskQueues(ctx: ServiceContext, task: TaskConfig): Promise<void> {
  for (const name of taskQueueNames(task)) {
    const instance = task.instances.find((i) => name.endsWith(`.${i.sourceId}`));
    const concurrency = name.startsWith('dump.') ? instance!.mydumper.threads : name.startsWith('load.') ? instance!.loader.poolSize : 1;
    await ctx.queues.activate(name, concurrency);
  }
}

export function applyPartitions(task: TaskConfig): number {
  return Math.max(1, Math.min(16, ...task.instances.map((i) => i.syncer.workerCount)));
}

export function taskQueueNames(task: TaskConfig): string[] {
  const names: string[] = [];
  if (task.taskMode !== 'incremental') {
    for (const i of task.instances)
      names.push(chunkQueueName('dump', task.name, i.sourceId), chunkQueueName('load', task.name, i.sourceId));
  }
  if (readsBinlog(task.taskMode)) {
    for (let n = 0; n < applyPartitions(task); n++) names.push(applyQueueName(task.name, n));
  }
  return names;
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
    else if (loadsAfterDump(task)) byUnit.load.push(job);
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

/** `task-mode: dump` stops at the chunk files; every other copying mode loads them. */
export function loadsAfterDump(task: TaskConfig): boolean {
  return task.taskMode !== 'dump';
}

export async function enqueueLoad(ctx: ServiceContext, job: ChunkJob): Promise<void> {
  await ctx.queues
    .get(chunkQueueName('load', job.task, job.sourceId))
    .add('load', job, { ...CHUNK_JOB_OPTIONS, jobId: chunkJobId('load', job) });
}
