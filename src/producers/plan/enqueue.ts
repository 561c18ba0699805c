import type { TaskConfig } from '../../shared/config/types.js';
import type { ChunkRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import { CHUNK_JOB_OPTIONS, chunkJobId, chunkQueueName, type ChunkJob } from '../../shared/queue/queues.js';
import type { ProcessorContext } from '../../processors/context.js';

/** The dump and load queues of one (task, source), with the source's configured concurrency. */
export async function activateChunkQueues(ctx: ProcessorContext, task: TaskConfig): Promise<void> {
  for (const instance of task.instances) {
    await ctx.queues.activate(chunkQueueName('dump', task.name, instance.sourceId), instance.mydumper.threads);
    await ctx.queues.activate(chunkQueueName('load', task.name, instance.sourceId), instance.loader.poolSize);
  }
}

/**
 * Queue whatever each unfinished chunk still needs: a dump, or a load of its dumped file.
 * Deterministic job ids make this safe to repeat after a restart.
 */
export async function enqueueChunkWork(ctx: ProcessorContext, task: TaskConfig, chunks: ChunkRecord[]): Promise<void> {
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

export async function enqueueLoad(ctx: ProcessorContext, job: ChunkJob): Promise<void> {
  await ctx.queues
    .get(chunkQueueName('load', job.task, job.sourceId))
    .add('load', job, { ...CHUNK_JOB_OPTIONS, jobId: chunkJobId('load', job) });
}
