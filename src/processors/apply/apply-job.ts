import { DelayedError, type Job } from 'bullmq';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { ApplyJob, Batch } from '../../shared/binlog/batch.js';
import { coordText, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { decodeRow } from '../../shared/binlog/payload-values.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readFenceEpoch, readFenceStatement } from '../../shared/checkpoint/reader-fence.js';
import {
  createLaneCheckpointStatement,
  laneStands,
  lockLaneCheckpointStatement,
  readLockedLane,
  writeLaneCheckpointStatement,
} from '../../shared/checkpoint/lane-checkpoint.js';
import {
  createTableCheckpointStatement,
  lockTableCheckpointStatement,
  readLockedCheckpoint,
  readTableCheckpointStatement,
  writeTableCheckpointStatement,
  type TableSyncRef,
} from '../../shared/checkpoint/sync-checkpoint.js';
import type { TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { expressionFiltersOf } from '../../shared/filter/expression.js';
import { recordApply, recordLockConflict } from '../../shared/metrics/work-stats.js';
import { binlogOpsKey, binlogOpsOf, type BinlogOp } from '../../shared/state/binlog-ops.js';
import { isUnreachable } from '../../shared/sql/connect.js';
import { LOCK_CONFLICT, REJECTED, isServerError, serverErrno } from '../../shared/sql/server-errors.js';
import { targetDialect } from '../../shared/sql/target-facts.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { formatStatement, joinIntoScripts, type SqlStatement } from '../../shared/sql/script.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { applyCache, type TargetKeys } from './apply-cache.js';
import { decideApply } from './apply-rule.js';
import { endPredecessorWait, watchLaneWait, watchPredecessorWait } from './apply-gap.js';
import { applyDdlBarrier, ddlGenerationKey } from './ddl-barrier.js';
import { filterByExpressions } from './expression-filter.js';
import { createServerOutages } from '../server-outages.js';
import { recordPendingStatements } from '../../shared/checkpoint/validator-store.js';
import { validationKey, validationStateOf, type ValidationState } from '../../shared/state/validation-state.js';
import { pendingChanges } from '../../shared/validation/pending-change.js';
import { buildStatements, type RowChange } from './statements.js';
import { streamsBehind, waitLabel } from './stream-waits.js';

/** How long a batch waits for its predecessor, which is usually in flight right behind it. */
const PREDECESSOR_WAIT_MS = 50;
/** How long a batch waits for its table's copy to finish loading: seconds to hours. */
const COPY_WAIT_MS = 2000;
/** How long a DDL waits for other tables' streams or other shards: usually moments, maybe hours. */
const DDL_WAIT_MS = 500;
/** How long a join waits for its table's lanes, which are usually moments behind. */
const JOIN_WAIT_MS = 20;
/**
 * A lane's job or a join that keeps waiting for another chain waits twice as long each time, up
 * to this: many lanes' jobs may wait on one join, and each retry costs its partition a target
 * transaction that the join, queued behind them, would rather have.
 */
const MAX_CHAIN_WAIT_MS = 1000;

/** The wait after `base`, doubled for each wait of the job in a row. */
const chainWait = (jobId: string, base: number) => Math.min(MAX_CHAIN_WAIT_MS, base * 2 ** (applyCache.waited(jobId) - 1));
/** Statements per round trip are joined up to this size, well under any max_allowed_packet. */
const SCRIPT_CHARS = 2 << 20;
const applyOutages = createServerOutages();
const TARGET_BACK = 'target reachable again; apply continues';

/**
 * Lock conflicts in a row one job waits out before the next counts as a failed attempt, so that
 * conflicts that never stop still end in a paused task, after minutes of warnings.
 */
const LOCK_CONFLICT_RETRIES = 30;
/** A job that lost a lock race waits 100 ms, doubling up to this, with jitter. */
const LOCK_CONFLICT_MAX_WAIT_MS = 5000;

/**
 * Counts a deadlock, lock-wait timeout or write conflict the job met; how long it waits before
 * it runs again, or undefined when it met too many in a row and the conflict counts as a failure.
 * The wait is jittered: two jobs that deadlocked each other must not come back in step.
 */
async function lockConflictWait(ctx: ServiceContext, job: Job<ApplyJob>, err: unknown, where: string): Promise<number | undefined> {
  const data = job.data;
  const errno = serverErrno(err)!;
  const conflicts = applyCache.lockConflict(job.id!);
  await recordLockConflict(ctx.redis, data.task, data.sourceId, errno);
  const fields = { task: data.task, source: data.sourceId, table: tableLabel(data), where, errno, conflicts };
  if (conflicts > LOCK_CONFLICT_RETRIES) {
    applyCache.lockConflictsOver(job.id!);
    ctx.log.warn(fields, 'lock conflicts on the target do not stop; this one counts as a failed attempt');
    return undefined;
  }
  ctx.log.info(fields, `lock conflict on the target (${(err as Error).message}); the job runs again shortly`);
  const wait = Math.min(LOCK_CONFLICT_MAX_WAIT_MS, 100 * 2 ** (conflicts - 1));
  return Math.round(wait / 2 + (Math.random() * wait) / 2);
}

/** The target unreachable: told once per source (warning, status); how long this job waits. */
function reportOutage(ctx: ServiceContext, job: ApplyJob, jobId: string, err: unknown): Promise<number> {
  const error = new DmqError(
    'TARGET_UNREACHABLE',
    `the target of task "${job.task}" cannot be reached while applying changes of source "${job.sourceId}": ${(err as Error).message}`,
    {
      cause: err,
      where: `${job.target.schema}.${job.target.table}`,
      workaround:
        'dmq keeps retrying (up to every 30 s) and continues by itself once the target is back; check that it is running and reachable',
    },
  );
  return applyOutages.wait(
    ctx,
    { task: job.task, sourceId: job.sourceId, jobId },
    { error, starts: 'target unreachable; apply waits', ends: TARGET_BACK },
  );
}

export type ApplyOutcome = 'applied' | 'covered' | 'fenced';

/** The batches without the changes the table's expression filters leave out. */
async function leaveOutFiltered(
  ctx: ServiceContext,
  conn: PoolConnection,
  task: TaskConfig,
  job: ApplyJob,
  batches: Batch[],
  ops: Map<string, BinlogOp>,
): Promise<Batch[]> {
  const instance = task.instances.find((i) => i.sourceId === job.sourceId);
  const filters = expressionFiltersOf(instance?.expressionFilters ?? [], job.schema, job.table);
  if (filters.length === 0) return batches;
  const { kind } = await targetDialect(ctx.pools.target(task));
  const filtered = await filterByExpressions(conn, job, batches, filters, { target: kind, settled: replacedCoords(ops), log: ctx.log });
  const { insert, update, delete: deleted } = filtered.left;
  if (insert + update + deleted > 0) {
    ctx.log.debug(
      { task: job.task, source: job.sourceId, table: tableLabel(job), insert, update, delete: deleted },
      'changes left out by expression filters',
    );
  }
  return filtered.batches;
}

/** Batches the operator skipped or replaced: their rows are not written. */
const replacedCoords = (ops: Map<string, BinlogOp>) => new Set([...ops].filter(([, op]) => op.op !== 'inject').map(([coord]) => coord));

/**
 * The target statements for `batches`: each run of batches with the same safe-mode flag built
 * together, except batches an operator skipped or replaced (`dmq binlog skip|replace`); the
 * statements of a `binlog inject` go before their batch.
 */
function batchStatements(job: ApplyJob, keys: TargetKeys, batches: Batch[], ops: Map<string, BinlogOp>): SqlStatement[] {
  const table = { target: job.target, columns: job.columns, ...keys };
  const statements: SqlStatement[] = [];
  let i = 0;
  while (i < batches.length) {
    const op = ops.get(batches[i]!.coord);
    if (op && op.op !== 'skip') statements.push(...op.sqls.map((sql) => ({ sql, values: [] })));
    if (op && op.op !== 'inject') {
      i += 1;
      continue;
    }
    const safe = batches[i]!.safe;
    const changes: RowChange[] = [];
    const first = i;
    for (; i < batches.length && batches[i]!.safe === safe && (i === first || !ops.has(batches[i]!.coord)); i++) {
      for (const c of batches[i]!.changes) {
        const change: RowChange = { op: c.op };
        if (c.before) change.before = decodeRow(c.before);
        if (c.after) change.after = decodeRow(c.after);
        changes.push(change);
      }
    }
    statements.push(...buildStatements(table, changes, { safeMode: safe }));
  }
  return statements;
}

/**
 * What the applier reads from Redis for each job, in one round trip: the operator's decisions
 * (`binlog skip|replace`, usually none) and the DDL generation its cached target keys depend on.
 */
async function readApplyState(
  ctx: ServiceContext,
  task: TaskConfig,
  job: ApplyJob,
): Promise<{ ops: Map<string, BinlogOp>; ddlGeneration: string | null; validation: ValidationState | undefined }> {
  const results = await ctx.redis
    .pipeline()
    .hgetall(binlogOpsKey(job.task))
    .get(ddlGenerationKey(job.task))
    .hget(validationKey(job.task), job.sourceId)
    .exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('Redis answered no results');
  const instance = task.instances.find((i) => i.sourceId === job.sourceId);
  return {
    ops: binlogOpsOf(results[0]![1] as Record<string, string>, job.sourceId, 'apply'),
    ddlGeneration: results[1]![1] as string | null,
    validation: instance && validationStateOf(results[2]![1] as string | null, instance),
  };
}

/**
 * The statement that records the changes of `batches` for the validator, when the source's
 * validation is enabled; batches an operator skipped or replaced are not what the source wrote.
 */
function validationRecord(
  meta: MetaTables,
  job: ApplyJob,
  keys: TargetKeys,
  validation: ValidationState | undefined,
  ops: Map<string, BinlogOp>,
) {
  return (batches: Batch[]): SqlStatement[] => {
    if (!validation) return [];
    const applied = batches.filter((b) => !ops.has(b.coord));
    const changes = pendingChanges(job, keys.key, applied, validation.since);
    return recordPendingStatements(meta, job, changes);
  };
}

const LOCK_PREFIX = 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION; ';

interface LockedTable {
  /** Where the table stands; undefined: no row yet (its copy has not finished). */
  at: BinlogCoord | undefined;
  /** The source's fencing epoch, read after the lock (see reader-fence.ts). */
  epoch: number;
}

/**
 * Opens the job's transaction and locks its table's checkpoint row; where the table stands
 * and the source's fencing epoch. A batch that may start its table (`startIfMissing`) creates
 * the row at its `prev` first, so that there is a row to lock. READ COMMITTED, no gap locks:
 * appliers of different tables that create their checkpoint rows at the same time would
 * otherwise deadlock on the checkpoint table.
 *
 * A lane's job locks its lane's row instead and reads its table's row, where the joins stand;
 * the lane stands at the further of the two. A lane row made here is newer than a fence raised
 * meanwhile could lock, so then the fence row is locked too, as for a table's first batch.
 */
async function lockCheckpoint(
  conn: PoolConnection,
  meta: MetaTables,
  job: ApplyJob,
  batch: Batch,
  createLane = false,
): Promise<LockedTable> {
  const ref: TableSyncRef = { sourceId: job.sourceId, schema: job.schema, table: job.table };
  const starts = job.startIfMissing && batch === job.batches[0];
  const lane = job.lane;
  const statements = [
    ...(starts ? [createTableCheckpointStatement(meta, ref, parseCoordText(batch.prev))] : []),
    ...(lane && createLane ? [createLaneCheckpointStatement(meta, ref, lane)] : []),
    ...(lane
      ? [lockLaneCheckpointStatement(meta, ref, lane), readTableCheckpointStatement(meta, ref)]
      : [lockTableCheckpointStatement(meta, ref)]),
    readFenceStatement(meta, job.sourceId, starts || createLane),
  ];
  const [results] = await conn.query(`${LOCK_PREFIX}${statements.map(formatStatement).join('; ')}`);
  const rows = results as RowDataPacket[][];
  const epoch = readFenceEpoch(rows.at(-1)!);
  if (!lane) return { at: readLockedCheckpoint(rows.at(-2)!), epoch };
  const own = readLockedLane(rows.at(-3)!);
  if (!own.exists) {
    await conn.rollback();
    return lockCheckpoint(conn, meta, job, batch, true);
  }
  return { at: laneStands(own.at, readLockedCheckpoint(rows.at(-2)!)), epoch };
}

/** Moves the job's chain (its table's, or its lane's) to `coord`, in the transaction that wrote up to there. */
function checkpointStatement(meta: MetaTables, job: ApplyJob, coord: BinlogCoord, gtid: string | null): SqlStatement {
  const ref: TableSyncRef = { sourceId: job.sourceId, schema: job.schema, table: job.table };
  return job.lane ? writeLaneCheckpointStatement(meta, ref, job.lane, coord, gtid) : writeTableCheckpointStatement(meta, ref, coord, gtid);
}

/** Whether a later reader of the source has started since the job was cut: then it is refused. */
function fencedOff(ctx: ServiceContext, job: ApplyJob, epoch: number): boolean {
  const cutBy = job.epoch ?? 0;
  if (cutBy >= epoch) return false;
  const first = job.batches[0]!;
  ctx.log.info(
    { task: job.task, source: job.sourceId, table: tableLabel(job), at: first.coord, jobEpoch: cutBy, currentEpoch: epoch },
    'apply job refused: cut by a binlog reader that another has replaced since',
  );
  return true;
}

/** A rejected batch pauses the task at once, naming its position for `dmq binlog skip|replace`. */
function rejectedOr(err: unknown, job: ApplyJob, batch: Batch): unknown {
  if (!isServerError(err, REJECTED)) return err;
  return new DmqError(
    'APPLY_REJECTED',
    `the target rejects the changes of ${tableLabel(job)} of source "${job.sourceId}" at ${batch.coord} into ${tableLabel(job.target)}: ${(err as Error).message}`,
    {
      cause: err,
      where: batch.coord,
      workaround: `fix the target and \`dmq resume-task ${job.task}\`, or \`dmq binlog skip ${job.task} -b ${batch.coord} -s ${job.sourceId}\` to drop this batch, or \`dmq binlog replace ${job.task} -b ${batch.coord} -s ${job.sourceId} "<sql>"\` to write other statements instead`,
    },
  );
}

/**
 * Writes `batches` (the job from its checkpoint on) and moves the checkpoint, in the
 * transaction `conn` holds open. When the target rejects them, applies them again one by one,
 * each with its checkpoint, so the error names the batch.
 */
async function writeBatches(
  conn: PoolConnection,
  meta: MetaTables,
  job: ApplyJob,
  batches: Batch[],
  keys: TargetKeys,
  ops: Map<string, BinlogOp>,
  record: (batches: Batch[]) => SqlStatement[],
): Promise<void> {
  const ref: TableSyncRef = { sourceId: job.sourceId, schema: job.schema, table: job.table };
  const write = async (group: Batch[]) => {
    const statements = [...batchStatements(job, keys, group, ops), ...record(group)];
    const end = group.at(-1)!;
    statements.push(checkpointStatement(meta, job, parseCoordText(end.coord), end.gtidSet ?? end.gtid), { sql: 'COMMIT', values: [] });
    for (const script of joinIntoScripts(statements, SCRIPT_CHARS)) await conn.query(script);
  };
  try {
    await write(batches);
  } catch (err) {
    // A lost lock race says nothing about a batch: the whole job runs again, not batch by batch.
    if (batches.length === 1 || isUnreachable(err) || isServerError(err, LOCK_CONFLICT)) throw rejectedOr(err, job, batches[0]!);
    await conn.rollback();
    for (const batch of batches) {
      const { at, epoch } = await lockCheckpoint(conn, meta, job, batch);
      // Raised between the attempts: the retry of the job refuses it.
      if ((job.epoch ?? 0) < epoch) throw new Error(`the binlog reader of source "${job.sourceId}" was replaced meanwhile`);
      if (!at || coordText(at) !== batch.prev)
        throw new DmqError(
          'INTERNAL',
          `${tableLabel(ref)} of source "${job.sourceId}" moved to ${at ? coordText(at) : 'nothing'} while its batch ${batch.coord} was being applied`,
          { where: batch.coord },
        );
      try {
        await write([batch]);
      } catch (batchErr) {
        throw rejectedOr(batchErr, job, batch);
      }
    }
  }
}

/**
 * Apply one job exactly once: in one target transaction, lock the table's checkpoint, find
 * the batch that starts where it stands, write that batch and the rest, move the checkpoint.
 * Batches already covered are skipped; a job that came too early waits (and a failed
 * predecessor holds every later job of its table back). The lock and the writes each go as
 * one multi-statement round trip.
 */
export async function handleApplyJob(job: Job<ApplyJob>, ctx: ServiceContext, token?: string): Promise<ApplyOutcome> {
  const data = job.data;
  const task = await ctx.registry.requireTask(data.task);
  const meta = taskMeta(task);
  const ref: TableSyncRef = { sourceId: data.sourceId, schema: data.schema, table: data.table };
  const first = data.batches[0]!;
  const last = data.batches.at(-1)!;
  const where = data.batches.length === 1 ? first.coord : `${first.coord}..${last.coord}`;
  let conn: PoolConnection | undefined;
  let waitMs = 0;
  const started = performance.now();
  let applied = { batches: 0, rows: 0 };
  let lockWait = false;
  try {
    conn = await ctx.pools.target(task).getConnection();
    const locked = await lockCheckpoint(conn, meta, data, first);
    if (fencedOff(ctx, data, locked.epoch)) {
      await conn.rollback();
      return 'fenced';
    }
    const decision = decideApply(locked.at, data);
    switch (decision.action) {
      case 'skip':
        await conn.commit();
        return 'covered';
      case 'wait':
        await conn.rollback();
        waitMs = decision.until === 'copy' ? COPY_WAIT_MS : data.lane ? chainWait(job.id!, PREDECESSOR_WAIT_MS) : PREDECESSOR_WAIT_MS;
        if (decision.until === 'predecessor') await watchPredecessorWait(ctx, job, decision.current);
        break;
      case 'conflict':
        await conn.rollback();
        throw new DmqError(
          'INTERNAL',
          `${tableLabel(ref)} of source "${data.sourceId}" stands at ${coordText(decision.current)}, inside the batch ${data.batches[decision.batch]!.coord} (after ${data.batches[decision.batch]!.prev})`,
          {
            where,
            workaround: 'restart the task with `dmq start-task --remove-meta` if this repeats; please report it',
          },
        );
      case 'apply': {
        const batches = data.batches.slice(decision.from);
        // A join is a job of its own: it waits until every lane has applied what came before it.
        const join = batches[0]!.join;
        const behind = join ? await streamsBehind(conn, meta, data.sourceId, join) : [];
        if (behind.length > 0) {
          await conn.rollback();
          ctx.log.debug(
            { task: data.task, table: tableLabel(ref), at: first.coord, behind: behind.map((b) => waitLabel(b.wait)) },
            'join waits for lanes',
          );
          await watchLaneWait(ctx, data, behind[0]!.wait, behind[0]!.at);
          waitMs = chainWait(job.id!, JOIN_WAIT_MS);
          break;
        }
        const { ops, ddlGeneration, validation } = await readApplyState(ctx, task, data);
        const ddl = batches[0]!.ddl;
        if (ddl) {
          // A DDL barrier is a job of its own.
          const outcome = await applyDdlBarrier(ctx, conn, task, meta, data, { ...batches[0]!, ddl }, ops.get(batches[0]!.coord));
          if (outcome === 'wait') waitMs = DDL_WAIT_MS;
          else applied = { batches: 1, rows: 0 };
          break;
        }
        const kept = await leaveOutFiltered(ctx, conn, task, data, batches, ops);
        applied = { batches: kept.length, rows: kept.reduce((n, b) => n + b.changes.length, 0) };
        // Only now: before its copy is loaded, the target table may not exist yet.
        const keys = await applyCache.targetKeys(conn, data, ddlGeneration);
        await writeBatches(conn, meta, data, kept, keys, ops, validationRecord(meta, data, keys, validation, ops));
      }
    }
  } catch (err) {
    await conn?.rollback().catch(() => undefined);
    if (err instanceof DmqError) throw err;
    if (isUnreachable(err)) {
      conn?.destroy();
      conn = undefined;
      // Not a failed attempt: the job keeps its place and the task keeps running.
      await job.moveToDelayed(Date.now() + (await reportOutage(ctx, data, job.id!, err)), token);
      throw new DelayedError();
    }
    // Not a failed attempt either: the target rolled the transaction back, nothing was written.
    const lockConflictMs = isServerError(err, LOCK_CONFLICT) ? await lockConflictWait(ctx, job, err, where) : undefined;
    if (lockConflictMs !== undefined) {
      lockWait = true;
      await job.moveToDelayed(Date.now() + lockConflictMs, token);
      throw new DelayedError();
    }
    throw new DmqError(
      'APPLY_FAILED',
      `applying ${tableLabel(ref)} of source "${data.sourceId}" at ${where} to ${tableLabel(data.target)}: ${(err as Error).message}`,
      {
        cause: err,
        where,
        workaround:
          'the batch is retried and later changes of this table wait for it; fix what the target reports, then `dmq resume-task` if the task paused',
      },
    );
  } finally {
    conn?.release();
    if (!lockWait) applyCache.lockConflictsOver(job.id!);
    if (waitMs === 0) applyCache.waitsOver(job.id!);
  }
  if (waitMs > 0) {
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  await applyOutages.over(ctx, { task: data.task, sourceId: data.sourceId, jobId: job.id! }, 'TARGET_UNREACHABLE', TARGET_BACK);
  await endPredecessorWait(ctx, data);
  await recordApply(ctx.redis, data.task, data.sourceId, { ...applied, seconds: (performance.now() - started) / 1000 });
  return 'applied';
}
