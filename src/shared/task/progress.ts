import type { TaskConfig } from '../config/types.js';
import { compareCoords } from '../binlog/position.js';
import { readCopyProgress, readSourcePlans, type SourcePlanRecord } from '../checkpoint/copy-checkpoint.js';
import type { ServiceContext } from './context.js';
import { taskMeta } from './context.js';
import { advance } from './stages.js';

/**
 * Whether full mode has changes to replay after the copy: none without a low watermark (the
 * plan found the binlog unreadable), and none when the binlog did not move between the low and
 * the high watermark, so the task finishes without starting a reader.
 */
function hasReplay(plan: SourcePlanRecord | undefined): boolean {
  if (!plan?.low) return false;
  return !plan.high || compareCoords(plan.low, plan.high) !== 0;
}

/**
 * After a chunk is loaded: move each source whose chunks are all loaded past the Load unit,
 * and the task to Finished when it only copies. Idempotent, so any number of load jobs may
 * run it at once.
 */
export async function settleCopyProgress(ctx: ServiceContext, task: TaskConfig): Promise<void> {
  const pool = ctx.pools.target(task);
  const meta = taskMeta(task);
  const plans = new Map((await readSourcePlans(pool, meta)).map((p) => [p.sourceId, p]));
  const progress = await readCopyProgress(pool, meta);
  /** Whether every chunk of the source has reached this step (a source without chunks has). */
  const all = (id: string, step: 'dumpedChunks' | 'loadedChunks') => {
    const plan = plans.get(id);
    const p = progress.get(id);
    return plan !== undefined && (plan.chunkCount === 0 || (p !== undefined && p[step] === plan.chunkCount));
  };
  const now = Date.now();
  await ctx.registry.updateState(task.name, (state) => {
    if (state.stage !== 'Running') return;
    for (const id of Object.keys(state.sources)) {
      if (all(id, 'dumpedChunks')) advance(state, task.taskMode, id, 'Dump', now);
      // Full mode replays the binlog up to the high watermark when the plan found it replayable.
      // The job that copied the last chunk records that watermark just after its commit, and
      // replication must not start before it: another job may see every chunk loaded first.
      if (all(id, 'loadedChunks') && plans.get(id)?.dumpedAt) {
        advance(state, task.taskMode, id, 'Load', now, { replays: hasReplay(plans.get(id)) });
      }
    }
  });
}

/** Full mode: a source's replay reached the high watermark and everything up to it is applied. */
export async function finishSourceReplay(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<void> {
  await ctx.registry.updateState(task.name, (state) => {
    if (state.stage !== 'Running' || task.taskMode !== 'full') return;
    advance(state, task.taskMode, sourceId, 'Sync', Date.now());
  });
}
