import { randomUUID } from 'node:crypto';
import type { TaskConfig } from '../config/types.js';
import { dropMetaTables } from '../checkpoint/meta-schema.js';
import { checkReplaceStatements, type ReplacedEvent } from '../ddl/operator-sql.js';
import { DmqError, toErrorRecord } from '../errors.js';
import { STATIC_QUEUES, type PrecheckJob } from '../queue/queues.js';
import { taskQueueNames } from '../queue/task-queues.js';
import { taskPrefix } from '../store/dump-store.js';
import { forgetTaskFigures } from '../metrics/work-stats.js';
import { forgetBinlogOps, setBinlogOp, type BinlogOp, type BinlogOpStage } from '../state/binlog-ops.js';
import { forgetValidation } from '../state/validation-state.js';
import { withConnection } from '../sql/connect.js';
import { taskMeta, type ServiceContext } from './context.js';

const PRECHECK_JOB = { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 1000, removeOnFail: 1000 } as const;

/** Every source the task names must be registered: checked at submit, before anything runs. */
export async function requireRegisteredSources(ctx: ServiceContext, task: TaskConfig): Promise<void> {
  const missing: string[] = [];
  for (const [i, instance] of task.instances.entries()) {
    if (!(await ctx.registry.getSource(instance.sourceId))) {
      missing.push(`mysql-instances[${i}].source-id: source "${instance.sourceId}" is not registered`);
    }
  }
  if (missing.length > 0) {
    const known = (await ctx.registry.listSources()).map((s) => s.sourceId);
    throw new DmqError('SOURCE_NOT_FOUND', missing.join('\n'), {
      where: 'mysql-instances',
      workaround: `register it with \`dmq operate-source create source.yaml\` (registered: ${known.length ? known.join(', ') : 'none'})`,
    });
  }
}

/**
 * `fromStartTime`: the task's `meta` was found by `--start-time`, which as in DM outranks any
 * checkpoints a stopped task of the same name left on the target.
 */
export async function submitTask(
  ctx: ServiceContext,
  task: TaskConfig,
  options: { removeMeta: boolean; fromStartTime?: boolean },
): Promise<void> {
  await requireRegisteredSources(ctx, task);
  if (options.removeMeta || options.fromStartTime) {
    const registered = (await ctx.registry.getTask(task.name)) !== undefined;
    if (registered && options.removeMeta) await removeTask(ctx, task.name, { removeMeta: true });
    else if (!registered) await dropTaskMeta(task).catch(() => undefined);
  }
  await ctx.registry.createTask(task);
  await enqueuePrecheck(ctx, task.name);
  ctx.log.info({ task: task.name, mode: task.taskMode, sources: task.instances.map((i) => i.sourceId) }, 'task submitted');
}

async function enqueuePrecheck(ctx: ServiceContext, name: string): Promise<void> {
  const data: PrecheckJob = { task: name, purpose: 'start' };
  await ctx.queues.get(STATIC_QUEUES.precheck).add('precheck', data, { ...PRECHECK_JOB, jobId: `start|${name}|${Date.now()}` });
}

/** Run the checks of a task that is not submitted (check-task); waits for a processor to answer. */
export async function checkTask(
  ctx: ServiceContext,
  task: TaskConfig,
  waitUntilFinished: (jobId: string) => Promise<unknown>,
): Promise<unknown> {
  const check = randomUUID();
  await ctx.registry.putCheckConfig(check, task);
  try {
    const data: PrecheckJob = { task: task.name, purpose: 'check', check };
    const job = await ctx.queues.get(STATIC_QUEUES.precheck).add('check', data, { removeOnComplete: 100, removeOnFail: 100 });
    return await waitUntilFinished(job.id!);
  } finally {
    await ctx.registry.deleteCheckConfig(check);
  }
}

export async function pauseTask(ctx: ServiceContext, name: string, error?: unknown): Promise<void> {
  const task = await ctx.registry.requireTask(name);
  for (const queue of taskQueueNames(task)) await ctx.queues.get(queue).pause();
  await ctx.registry.updateState(name, (state) => {
    if (state.stage === 'Finished') return;
    state.stage = 'Paused';
    if (error !== undefined) state.error = toErrorRecord(error);
  });
}

/**
 * The errors `binlog skip|replace` resolves: which stage acts on the operator's decision, and
 * what the replacing statements stand in for (which decides what they may be).
 */
export const RESOLVABLE: Partial<Record<string, { stage: BinlogOpStage; replaces: ReplacedEvent }>> = {
  APPLY_REJECTED: { stage: 'apply', replaces: 'rows' },
  DDL_REJECTED: { stage: 'apply', replaces: 'ddl' },
  DDL_UNSUPPORTED: { stage: 'read', replaces: 'source-ddl' },
  EVENT_FILTERED: { stage: 'read', replaces: 'source-ddl' },
};

/** The operator's statements as they will run, one per entry; refused with every problem named. */
export function checkedOp(op: BinlogOp, replaces: ReplacedEvent, coord: string): BinlogOp {
  if (op.op === 'skip') return op;
  const checked = checkReplaceStatements(op.sqls, replaces);
  if (checked.ok) return { op: op.op, sqls: checked.statements };
  throw new DmqError('CONFIG_INVALID', `binlog ${op.op} at ${coord}: ${checked.problems.join('\n')}`, {
    where: 'sqls',
    workaround:
      replaces === 'rows'
        ? 'give only INSERT, UPDATE, DELETE or REPLACE statements for a batch of rows; to change a table, fix the target and `dmq resume-task`'
        : replaces === 'ddl'
          ? 'give DDL about tables, indexes and schemas, or INSERT, UPDATE, DELETE, REPLACE'
          : 'give the DDL the source should have run, as the source would have written it',
  });
}

/**
 * `dmq binlog skip|replace`: settle the batch whose rejection paused the task, then resume.
 * Only the position the task's error names is accepted, so a typo cannot drop other changes.
 */
export async function resolveBinlogError(
  ctx: ServiceContext,
  name: string,
  request: { coord: string; sourceId?: string | undefined; op: BinlogOp },
): Promise<void> {
  const task = await ctx.registry.requireTask(name);
  const state = await ctx.registry.getState(name);
  const error = state?.error;
  const resolvable = error?.code === undefined ? undefined : RESOLVABLE[error.code];
  if (state?.stage !== 'Paused' || !error || !resolvable) {
    throw new DmqError(
      'CONFIG_INVALID',
      `task "${name}" is not paused on a binlog event it can skip or replace${error ? ` (its error: ${error.code} ${error.message})` : ''}`,
      {
        where: 'binlog-pos',
        workaround: `binlog skip and replace resolve ${Object.keys(RESOLVABLE).join(', ')} errors; see \`dmq query-status\` for the task's error`,
      },
    );
  }
  if (error.where !== request.coord) {
    throw new DmqError('CONFIG_INVALID', `task "${name}" is paused at ${error.where}, not at ${request.coord}`, {
      where: 'binlog-pos',
      workaround: `pass -b ${error.where}`,
    });
  }
  const sources = task.instances.map((i) => i.sourceId).filter((id) => error.message.includes(`source "${id}"`));
  const sourceId = request.sourceId ?? (sources.length === 1 ? sources[0] : undefined);
  if (!sourceId || !task.instances.some((i) => i.sourceId === sourceId)) {
    throw new DmqError('CONFIG_INVALID', `say which source of task "${name}" the position ${request.coord} belongs to`, {
      where: 'source',
      workaround: `pass -s with one of: ${task.instances.map((i) => i.sourceId).join(', ')}`,
    });
  }
  const op = checkedOp(request.op, resolvable.replaces, request.coord);
  await setBinlogOp(ctx.redis, name, sourceId, request.coord, { ...op, stage: resolvable.stage });
  ctx.log.info({ task: name, source: sourceId, at: request.coord, op: request.op.op }, 'binlog batch resolved by the operator');
  await resumeTask(ctx, name);
}

/** Resume continues from the checkpoints: plans are reused and finished chunks are not redone. */
export async function resumeTask(ctx: ServiceContext, name: string): Promise<void> {
  const task = await ctx.registry.requireTask(name);
  // A fix on the target is often a global variable (TiDB's tidb_txn_entry_size_limit, sql_mode),
  // which only new sessions see: this process's pools of the task start afresh.
  await ctx.pools.closeTask(name);
  await ctx.registry.updateState(name, (state) => {
    if (state.stage === 'Finished') return;
    state.stage = 'Running';
    delete state.error;
    for (const s of Object.values(state.sources)) {
      if (s.stage === 'Paused') s.stage = 'Running';
      delete s.error;
    }
  });
  for (const name of taskQueueNames(task)) {
    const queue = ctx.queues.get(name);
    // A failed job keeps its id, and re-adding that id is a no-op: retry failed chunks instead.
    await queue.retryJobs({ state: 'failed' });
    await queue.resume();
  }
  await enqueuePrecheck(ctx, name);
}

/**
 * Over a connection of its own without target-database.session: a task whose session settings
 * the target refuses must still be removable.
 */
function dropTaskMeta(task: TaskConfig): Promise<void> {
  return withConnection(task.target, { label: `target of task "${task.name}"`, role: 'target', timeZone: task.timezone }, (conn) =>
    dropMetaTables(conn, taskMeta(task)),
  );
}

export async function removeTask(ctx: ServiceContext, name: string, options: { removeMeta: boolean }): Promise<void> {
  const task = await ctx.registry.requireTask(name);
  for (const queue of taskQueueNames(task)) await ctx.queues.deactivate(queue);
  // The checkpoints go first: if the target cannot be reached, the task stays to be removed again.
  if (options.removeMeta) await dropTaskMeta(task);
  await ctx.registry.deleteTask(name);
  if (options.removeMeta) {
    await ctx.store.removePrefix(taskPrefix(name));
    await forgetTaskFigures(ctx.redis, name);
    await forgetBinlogOps(ctx.redis, name);
  }
  // Started or stopped by hand for this run of the task: a task submitted again starts as its validators say.
  await forgetValidation(ctx.redis, name);
  await ctx.pools.closeTask(name);
  ctx.log.info({ task: name, removeMeta: options.removeMeta }, 'task removed');
}
