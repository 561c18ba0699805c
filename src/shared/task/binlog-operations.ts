import { compareCoords, parseCoordText, type BinlogCoord } from '../binlog/position.js';
import { raiseReaderFence } from '../checkpoint/reader-fence.js';
import { readSourceSync } from '../checkpoint/sync-checkpoint.js';
import type { TaskConfig } from '../config/types.js';
import { DmqError } from '../errors.js';
import { listBinlogOps, removeBinlogOp, setBinlogOp, type BinlogOp } from '../state/binlog-ops.js';
import { ER, serverErrno } from '../sql/server-errors.js';
import { taskMeta, type ServiceContext } from './context.js';
import { checkedOp, RESOLVABLE, resumeTask } from './control.js';

/** One operation `binlog list` shows: not applied yet. */
export interface PendingBinlogOp {
  source: string;
  binlogPos: string;
  op: BinlogOp['op'];
  sqls?: string[];
  /** Who acts on it: the binlog reader (`read`) or the applier of the batch (`apply`). */
  stage: 'read' | 'apply';
}

/** Where a source's replication has applied everything before; undefined before it started. */
async function appliedUpTo(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<BinlogCoord | undefined> {
  try {
    return (await readSourceSync(ctx.pools.target(task), taskMeta(task), sourceId)).global?.coord;
  } catch (err) {
    if (serverErrno(err) === ER.NO_SUCH_TABLE) return undefined;
    throw err;
  }
}

/**
 * Before a read-stage operation changes: batches the reader cut so far, possibly past the
 * position and without the operation (a reader stopped by a pause leaves them queued), must not
 * be applied. Raising the fence refuses them; the reader, which restarts when its operations
 * change, reads them again with a new epoch.
 */
async function fenceQueuedBatches(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<void> {
  try {
    await raiseReaderFence(ctx.pools.target(task), taskMeta(task), sourceId, 'binlog operation by the operator');
  } catch (err) {
    // No meta tables yet: no reader has run, so no batch is queued.
    if (serverErrno(err) !== ER.NO_SUCH_TABLE) throw err;
  }
}

/** Whether an event ending at `coord` is applied: the reader resumes after it. */
const applied = (coord: string, upTo: BinlogCoord | undefined) => upTo !== undefined && compareCoords(parseCoordText(coord), upTo) <= 0;

function sourcesOf(task: TaskConfig, sourceId: string | undefined): string[] {
  const all = task.instances.map((i) => i.sourceId);
  if (sourceId === undefined) return all;
  if (all.includes(sourceId)) return [sourceId];
  throw new DmqError('CONFIG_INVALID', `task "${task.name}" has no source "${sourceId}"`, {
    where: 'source',
    workaround: `pass -s with one of: ${all.join(', ')}`,
  });
}

/**
 * `binlog list`: the operations not applied yet, per source, in binlog order; with `coord`, those
 * at or after it (as DM lists them).
 */
export async function listPendingBinlogOps(
  ctx: ServiceContext,
  name: string,
  request: { coord?: string | undefined; sourceId?: string | undefined },
): Promise<{ sources: string[]; operations: PendingBinlogOp[] }> {
  const task = await ctx.registry.requireTask(name);
  const sources = sourcesOf(task, request.sourceId);
  const from = request.coord === undefined ? undefined : parseCoordText(request.coord);
  const upTo = new Map<string, BinlogCoord | undefined>();
  for (const source of sources) upTo.set(source, await appliedUpTo(ctx, task, source));
  const operations = (await listBinlogOps(ctx.redis, name))
    .filter((o) => sources.includes(o.sourceId) && !applied(o.coord, upTo.get(o.sourceId)))
    .filter((o) => from === undefined || compareCoords(parseCoordText(o.coord), from) >= 0)
    .sort((a, b) => a.sourceId.localeCompare(b.sourceId) || compareCoords(parseCoordText(a.coord), parseCoordText(b.coord)))
    .map((o) => ({
      source: o.sourceId,
      binlogPos: o.coord,
      op: o.op.op,
      ...(o.op.op === 'skip' ? {} : { sqls: o.op.sqls }),
      stage: o.op.stage ?? 'apply',
    }));
  return { sources, operations };
}

/** The task's error, when it is paused on one `binlog skip|replace|inject` resolves. */
async function resolvableError(ctx: ServiceContext, task: TaskConfig) {
  const state = await ctx.registry.getState(task.name);
  const error = state?.error;
  const resolvable = error?.code === undefined ? undefined : RESOLVABLE[error.code];
  if (state?.stage !== 'Paused' || !error?.where || !resolvable) return undefined;
  const sources = task.instances.map((i) => i.sourceId).filter((id) => error.message.includes(`source "${id}"`));
  return { where: error.where, sourceId: sources.length === 1 ? sources[0] : undefined, ...resolvable };
}

function oneSource(task: TaskConfig, sourceId: string | undefined, coord: string): string {
  const [only, ...more] = sourcesOf(task, sourceId);
  if (more.length === 0) return only!;
  throw new DmqError('CONFIG_INVALID', `say which source of task "${task.name}" the position ${coord} belongs to`, {
    where: 'source',
    workaround: `pass -s with one of: ${task.instances.map((i) => i.sourceId).join(', ')}`,
  });
}

/**
 * `binlog inject`: statements to run before the event at a position, the event itself after
 * them. At the position the task is paused on, they go where `binlog replace` would (before a
 * rejected batch, inside its transaction; before a rejected DDL; read before a refused
 * statement), and the task resumes. At a position ahead of the reader, they are read as DDL the
 * source ran before the statement there.
 */
export async function injectBinlog(
  ctx: ServiceContext,
  name: string,
  request: { coord?: string | undefined; sourceId?: string | undefined; sqls: string[] },
): Promise<{ source: string; binlogPos: string }> {
  const task = await ctx.registry.requireTask(name);
  const error = await resolvableError(ctx, task);
  const coord = request.coord ?? error?.where;
  if (coord === undefined) {
    throw new DmqError('CONFIG_INVALID', `task "${name}" is not paused on a binlog event: say where to inject`, {
      where: 'binlog-pos',
      workaround: 'pass -b <file:pos>, the position of the statement (DDL) the statements go before',
    });
  }
  const atError = error !== undefined && error.where === coord;
  const sourceId = oneSource(task, request.sourceId ?? (atError ? error.sourceId : undefined), coord);
  const upTo = await appliedUpTo(ctx, task, sourceId);
  if (!atError && applied(coord, upTo)) {
    throw new DmqError(
      'CONFIG_INVALID',
      `source "${sourceId}" of task "${name}" has already replicated ${coord} (it is at ${upTo!.file}:${upTo!.pos})`,
      {
        where: 'binlog-pos',
        workaround: 'inject at a position after that one; run what the target needs now on the target itself',
      },
    );
  }
  const op = checkedOp({ op: 'inject', sqls: request.sqls }, atError ? error.replaces : 'source-ddl', coord);
  const stage = atError ? error.stage : 'read';
  if (!atError) await fenceQueuedBatches(ctx, task, sourceId);
  await setBinlogOp(ctx.redis, name, sourceId, coord, { ...op, stage });
  ctx.log.info({ task: name, source: sourceId, at: coord, statements: request.sqls.length }, 'binlog inject set by the operator');
  if (atError) await resumeTask(ctx, name);
  return { source: sourceId, binlogPos: coord };
}

/**
 * `binlog revert`: removes an operation not applied yet, at a position (of every source of the
 * task unless one is named), or at the position the task is paused on. The removed ones.
 */
export async function revertBinlogOp(
  ctx: ServiceContext,
  name: string,
  request: { coord?: string | undefined; sourceId?: string | undefined },
): Promise<{ source: string; binlogPos: string }[]> {
  const task = await ctx.registry.requireTask(name);
  const error = request.coord === undefined ? await resolvableError(ctx, task) : undefined;
  const coord = request.coord ?? error?.where;
  if (coord === undefined) {
    throw new DmqError('CONFIG_INVALID', `task "${name}" is not paused on a binlog event: say which operation to revert`, {
      where: 'binlog-pos',
      workaround: `pass -b <file:pos>; \`dmq binlog list ${name}\` shows the operations`,
    });
  }
  const reverted: { source: string; binlogPos: string }[] = [];
  const ops = await listBinlogOps(ctx.redis, name);
  for (const sourceId of sourcesOf(task, request.sourceId ?? error?.sourceId)) {
    const op = ops.find((o) => o.sourceId === sourceId && o.coord === coord)?.op;
    if (!op || applied(coord, await appliedUpTo(ctx, task, sourceId))) continue;
    if (op.stage === 'read') await fenceQueuedBatches(ctx, task, sourceId);
    if (await removeBinlogOp(ctx.redis, name, sourceId, coord)) reverted.push({ source: sourceId, binlogPos: coord });
  }
  if (reverted.length === 0) {
    throw new DmqError('CONFIG_INVALID', `task "${name}" has no binlog operation at ${coord} that is not applied yet`, {
      where: 'binlog-pos',
      workaround: `\`dmq binlog list ${name}\` shows the operations still to apply`,
    });
  }
  ctx.log.info({ task: name, at: coord, sources: reverted.map((r) => r.source) }, 'binlog operation reverted by the operator');
  return reverted;
}
