import type { Job } from 'bullmq';
import type { SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { ensureMetaTables } from '../../shared/checkpoint/meta-schema.js';
import { DM_ERRORS, DmqError } from '../../shared/errors.js';
import { STATIC_QUEUES, type PrecheckJob } from '../../shared/queue/queues.js';
import { activateTaskQueues } from '../../shared/queue/task-queues.js';
import { pauseTask } from '../../shared/task/control.js';
import { advance, copies } from '../../shared/task/stages.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { runPrecheck } from './run.js';
import { summarizePrecheck, type PrecheckResult } from '../../shared/task/precheck-result.js';

async function registeredSources(ctx: ServiceContext, task: TaskConfig): Promise<Map<string, SourceConfig>> {
  const sources = new Map<string, SourceConfig>();
  for (const instance of task.instances) {
    const source = await ctx.registry.getSource(instance.sourceId);
    if (source) sources.set(instance.sourceId, source);
  }
  return sources;
}

/**
 * `check` jobs only report (check-task). `start` jobs gate a submitted task: a failure pauses
 * it with the failed items; a pass prepares the meta schema and queues the planning of every
 * source.
 */
export async function handlePrecheckJob(job: Job<PrecheckJob>, ctx: ServiceContext): Promise<PrecheckResult | undefined> {
  const task =
    job.data.purpose === 'check' ? await ctx.registry.getCheckConfig(job.data.check ?? '') : await ctx.registry.getTask(job.data.task);
  if (!task) return undefined;
  const result = await runPrecheck({ task, sources: await registeredSources(ctx, task) });
  if (job.data.purpose === 'check') return result;

  await ctx.registry.putPrecheck(task.name, result);
  const log = ctx.log.child({ task: task.name });
  if (!result.passed) {
    log.warn({ failed: result.results.filter((r) => r.state === 'fail').map((r) => r.name) }, 'precheck failed');
    await pauseTask(
      ctx,
      task.name,
      new DmqError('PRECHECK_FAILED', summarizePrecheck(result), {
        dm: DM_ERRORS.checkFailed,
        workaround:
          'fix what the failed items say, then `dmq resume-task` (or list an item in ignore-checking-items if you accept the risk)',
      }),
    );
    return result;
  }
  log.info({ warnings: result.results.filter((r) => r.state === 'warn').map((r) => r.name) }, 'precheck passed');
  await ensureMetaTables(ctx.pools.target(task), taskMeta(task));
  await activateTaskQueues(ctx, task);
  if (!copies(task.taskMode)) {
    // No copy: the binlog reader starts from the task's meta position.
    await ctx.registry.updateState(task.name, (state) => {
      for (const id of Object.keys(state.sources)) advance(state, task.taskMode, id, 'Check', Date.now());
    });
    return result;
  }
  const plan = ctx.queues.get(STATIC_QUEUES.plan);
  await plan.addBulk(
    task.instances.map((i) => ({
      name: 'plan',
      data: { task: task.name, sourceId: i.sourceId },
      opts: {
        jobId: `plan|${task.name}|${i.sourceId}|${Date.now()}`,
        attempts: 3,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: 1000,
        removeOnFail: 1000,
      },
    })),
  );
  return result;
}
