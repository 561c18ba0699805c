import type { TaskConfig } from '../config/types.js';
import type { TaskState } from '../state/registry.js';
import { readCopyProgress, readSourcePlans } from '../checkpoint/copy-checkpoint.js';
import type { ServiceContext } from './context.js';
import { taskMeta } from './context.js';

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
  const copied = new Set(
    task.instances
      .map((i) => i.sourceId)
      .filter((id) => {
        const plan = plans.get(id);
        const p = progress.get(id);
        return plan !== undefined && (plan.chunkCount === 0 || (p !== undefined && p.loadedChunks === plan.chunkCount));
      }),
  );
  const dumped = new Set(
    task.instances
      .map((i) => i.sourceId)
      .filter((id) => {
        const plan = plans.get(id);
        const p = progress.get(id);
        return plan !== undefined && (plan.chunkCount === 0 || (p !== undefined && p.dumpedChunks === plan.chunkCount));
      }),
  );
  const now = Date.now();
  // Full mode replays the binlog up to the high watermark when the plan found it replayable.
  const replays = (id: string) => task.taskMode === 'all' || (task.taskMode === 'full' && Boolean(plans.get(id)?.low));
  await ctx.registry.updateState(task.name, (state) => {
    if (state.stage !== 'Running') return;
    for (const [id, s] of Object.entries(state.sources)) {
      if (s.stage !== 'Running') continue;
      if (s.unit === 'Dump' && dumped.has(id)) {
        if (task.taskMode === 'dump') {
          s.stage = 'Finished';
          continue;
        }
        s.unit = 'Load';
        s.unitStartedAt = now;
      }
      if (s.unit === 'Load' && copied.has(id)) {
        if (!replays(id)) {
          s.stage = 'Finished';
        } else {
          s.unit = 'Sync';
          s.unitStartedAt = now;
        }
      }
    }
    settleTaskStage(state, now);
  });
}

/** The task's stage follows its sources': Finished when all are, Paused when the rest are. */
export function settleTaskStage(state: TaskState, now: number): void {
  const stages = Object.values(state.sources).map((s) => s.stage);
  if (stages.every((s) => s === 'Finished')) {
    state.stage = 'Finished';
    state.finishedAt = now;
  } else if (stages.every((s) => s === 'Finished' || s === 'Paused') && stages.includes('Paused')) {
    state.stage = 'Paused';
  }
}

/** Full mode: a source's replay reached the high watermark and everything up to it is applied. */
export async function finishSourceReplay(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<void> {
  await ctx.registry.updateState(task.name, (state) => {
    const s = state.sources[sourceId];
    if (state.stage !== 'Running' || !s || s.stage !== 'Running' || s.unit !== 'Sync') return;
    s.stage = 'Finished';
    // A finished full task reads as DM prints it: its last unit is Load.
    s.unit = 'Load';
    settleTaskStage(state, Date.now());
  });
}
