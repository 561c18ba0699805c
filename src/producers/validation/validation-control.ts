import { hostname } from 'node:os';
import {
  listValidationErrors,
  operateValidationErrors,
  readErrorCounts,
  readPendingSummary,
  readValidatorCheckpoint,
  type ErrorOperation,
  type ErrorStatus,
} from '../../shared/checkpoint/validator-store.js';
import type { InstanceConfig, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { dmError } from '../status/dm-error.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import {
  readValidationState,
  startTimeMs,
  validationTablesKey,
  writeValidationState,
  type TableProblem,
  type ValidationState,
} from '../../shared/state/validation-state.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';

/** `dmq validation start|stop|status|show-error|...`: what the API routes call. */

/** The task's instances named by `sources` (all when empty); an unknown name is an error. */
function pickInstances(task: TaskConfig, sources: string[] | undefined): InstanceConfig[] {
  if (!sources || sources.length === 0) return task.instances;
  return sources.map((id) => {
    const instance = task.instances.find((i) => i.sourceId === id);
    if (!instance) {
      throw new DmqError('SOURCE_NOT_FOUND', `task "${task.name}" has no source "${id}"`, {
        where: 'source',
        workaround: `name one of ${task.instances.map((i) => i.sourceId).join(', ')}`,
      });
    }
    return instance;
  });
}

export interface StartOptions {
  sources?: string[];
  mode?: 'full' | 'fast';
  startTime?: string;
}

/**
 * Starts the validators of the task's sources: with the mode given, else the one they ran in,
 * else the task's validator config's, else full (DM's default for `validation start`).
 */
export async function startValidation(ctx: ServiceContext, task: TaskConfig, options: StartOptions): Promise<void> {
  let since: number | undefined;
  if (options.startTime !== undefined) {
    since = startTimeMs(options.startTime);
    if (Number.isNaN(since)) {
      throw new DmqError('CONFIG_INVALID', `--start-time ${JSON.stringify(options.startTime)} is not a time`, {
        where: 'start-time',
        workaround: "write it as '2021-10-21 00:01:00', '2021-10-21T00:01:00' or '2021-10-21T00:01:00+08:00'",
      });
    }
  }
  for (const instance of pickInstances(task, options.sources)) {
    const current = await readValidationState(ctx.redis, task.name, instance);
    const configured = instance.validator.mode === 'none' ? undefined : instance.validator.mode;
    const state: ValidationState = { stage: 'Running', mode: options.mode ?? current?.mode ?? configured ?? 'full' };
    const from = since ?? current?.since;
    if (from !== undefined) state.since = from;
    await writeValidationState(ctx.redis, task.name, instance.sourceId, state);
  }
}

export async function stopValidation(ctx: ServiceContext, task: TaskConfig, sources: string[] | undefined): Promise<void> {
  for (const instance of pickInstances(task, sources)) {
    const current = await readValidationState(ctx.redis, task.name, instance);
    if (!current) {
      throw new DmqError('CONFIG_INVALID', `the validator of task "${task.name}" for source "${instance.sourceId}" was never started`, {
        where: instance.sourceId,
        workaround: `start it with \`dmq validation start ${task.name}\`, or set validator-config-name in task.yaml`,
      });
    }
    await writeValidationState(ctx.redis, task.name, instance.sourceId, { ...current, stage: 'Stopped' });
  }
}

/** A read of the validator tables that finds none yet (no precheck has run) finds nothing. */
async function orNothing<T>(read: Promise<T>, nothing: T): Promise<T> {
  try {
    return await read;
  } catch (err) {
    const errno = serverErrno(err);
    if (errno === ER.NO_SUCH_TABLE || errno === ER.BAD_DB_ERROR) return nothing;
    throw err;
  }
}

const rowCounts = (c: { insert: number; update: number; delete: number }) => `insert/update/delete: ${c.insert}/${c.update}/${c.delete}`;

/** One source's validator as DM's ValidationStatus, plus its lag; undefined when it was never enabled. */
export async function sourceValidation(ctx: ServiceContext, task: TaskConfig, instance: InstanceConfig) {
  const state = await readValidationState(ctx.redis, task.name, instance);
  if (!state) return undefined;
  const pool = ctx.pools.target(task);
  const meta = taskMeta(task);
  const pending = await orNothing(readPendingSummary(pool, meta, instance.sourceId), { insert: 0, update: 0, delete: 0, bytes: 0 });
  const checkpoint = await orNothing(readValidatorCheckpoint(pool, meta, instance.sourceId), {
    coord: null,
    processed: { insert: 0, update: 0, delete: 0 },
  });
  const errors = await orNothing(readErrorCounts(pool, meta, instance.sourceId), { NewErr: 0, IgnoredErr: 0, ResolvedErr: 0 });
  return {
    task: task.name,
    source: instance.sourceId,
    mode: state.mode,
    stage: state.stage,
    validatorBinlog: checkpoint.coord ?? '',
    validatorBinlogGtid: '',
    result: state.error ? { isCanceled: false, errors: [dmError(state.error)] } : null,
    processedRowsStatus: rowCounts(checkpoint.processed),
    pendingRowsStatus: rowCounts(pending),
    errorRowsStatus: `new/ignored/resolved: ${errors.NewErr}/${errors.IgnoredErr}/${errors.ResolvedErr}`,
    cutoverBinlogPos: '',
    cutoverBinlogGtid: '',
    /** Age of the oldest change not yet validated, on the source clock; 0 when none waits. */
    lagSeconds: pending.oldestEventTime === undefined ? 0 : Math.max(0, Math.round((Date.now() - pending.oldestEventTime) / 1000)),
    pendingRows: pending.insert + pending.update + pending.delete,
    errorRows: errors,
  };
}

/** `dmq validation status`: DM's GetValidationStatusResponse. */
export async function validationStatus(ctx: ServiceContext, task: TaskConfig, tableStage: string | undefined) {
  if (tableStage !== undefined && tableStage !== '' && tableStage !== 'running' && tableStage !== 'stopped') {
    throw new DmqError('CONFIG_INVALID', `--table-stage ${JSON.stringify(tableStage)}: expected running or stopped`, {
      where: 'table-stage',
      workaround: 'leave it out for every table, or pass running or stopped',
    });
  }
  const validators = [];
  const tableStatuses = [];
  const problems = await ctx.redis.hgetall(validationTablesKey(task.name));
  for (const instance of task.instances) {
    const status = await sourceValidation(ctx, task, instance);
    if (!status) continue;
    validators.push(status);
    if (tableStage === 'running') continue;
    const failing = JSON.parse(problems[instance.sourceId] ?? '[]') as TableProblem[];
    tableStatuses.push(...failing.map((p) => ({ source: instance.sourceId, ...p, stage: 'Stopped', message: p.message })));
  }
  return { result: true, msg: '', validators, tableStatuses, worker: hostname() };
}

/** show-error's `--error`: DM's three filters. */
const ERROR_FILTERS: Record<string, ErrorStatus[]> = { all: [], ignored: ['IgnoredErr'], unprocessed: ['NewErr'] };

export async function validationErrors(ctx: ServiceContext, task: TaskConfig, filter: string | undefined) {
  const statuses = ERROR_FILTERS[filter ?? 'unprocessed'];
  if (!statuses) {
    throw new DmqError('CONFIG_INVALID', `--error ${JSON.stringify(filter)}: expected all, ignored or unprocessed`, {
      where: 'error',
      workaround: 'leave it out for the errors nobody has handled yet (unprocessed)',
    });
  }
  const error = await orNothing(listValidationErrors(ctx.pools.target(task), taskMeta(task), statuses), []);
  return { result: true, msg: '', error };
}

/** `ignore-error`, `resolve-error`, `clear-error`: one error id or every error. */
export async function operateValidationError(ctx: ServiceContext, task: TaskConfig, op: ErrorOperation, id: number | 'all') {
  const changed = await operateValidationErrors(ctx.pools.target(task), taskMeta(task), op, id);
  if (changed === 0 && id !== 'all') {
    throw new DmqError('CONFIG_INVALID', `task "${task.name}" has no validation error ${id}`, {
      where: 'error-id',
      workaround: `list the errors and their ids with \`dmq validation show-error --error all ${task.name}\``,
    });
  }
  return { result: true, msg: '' };
}
