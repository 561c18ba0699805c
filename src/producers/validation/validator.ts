import type { RowDataPacket } from 'mysql2/promise';
import type { RowOp } from '../../shared/binlog/batch.js';
import { coordText } from '../../shared/binlog/position.js';
import { readSourceSync } from '../../shared/checkpoint/sync-checkpoint.js';
import {
  deletePending,
  readPendingPage,
  readPendingSummary,
  reportFailure,
  writeValidatorCheckpoint,
  type PendingRow,
} from '../../shared/checkpoint/validator-store.js';
import type { InstanceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { DmqError, toErrorRecord } from '../../shared/errors.js';
import { tableLabel } from '../../shared/sql/quote.js';
import {
  readValidationState,
  validationTablesKey,
  writeValidationState,
  type TableProblem,
  type ValidationState,
} from '../../shared/state/validation-state.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { compareStatement, groupRows, judgeGroup, type CompareGroup, type TargetKind } from './row-compare.js';

/** How the supervisor tells the validator that the lease it runs under is still held. */
export interface ValidatorLease {
  valid(): boolean;
}

async function targetKinds(ctx: ServiceContext, task: TaskConfig, target: TableRef): Promise<Map<string, TargetKind>> {
  const [rows] = await ctx.pools
    .target(task)
    .query<RowDataPacket[]>(
      "SELECT COLUMN_NAME AS c, LOWER(DATA_TYPE) AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND LOWER(DATA_TYPE) IN ('json', 'bit')",
      [target.schema, target.table],
    );
  return new Map(rows.map((r) => [String(r.c), String(r.t) as TargetKind]));
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * The continuous validator of one (task, source): every validate-interval it compares the
 * changes the applier recorded with the target's rows, drops those that match, and reports
 * those that still do not match after row-error-delay. It holds nothing but a page of pending
 * rows at a time; its state is on the target. It runs beside the source's binlog reader, under
 * the same lease, so exactly one runs per source.
 */
export function startValidator(ctx: ServiceContext, task: TaskConfig, instance: InstanceConfig, lease: ValidatorLease) {
  const sourceId = instance.sourceId;
  const config = instance.validator;
  const meta = taskMeta(task);
  const log = ctx.log.child({ task: task.name, source: sourceId, unit: 'validate' });
  const problems = new Map<string, TableProblem>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  /** Too much waiting: stop, as DM's validator does, with an error that says which limit. */
  async function overLimit(state: ValidationState): Promise<boolean> {
    const summary = await readPendingSummary(ctx.pools.target(task), meta, sourceId);
    const rows = summary.insert + summary.update + summary.delete;
    if (rows <= config.maxPendingRowCount && summary.bytes <= config.maxPendingRowSize) return false;
    const error = new DmqError(
      'VALIDATION_PENDING_LIMIT',
      `the validator of task "${task.name}" for source "${sourceId}" stopped: ${rows} rows (${summary.bytes} bytes) wait for validation, more than max-pending-row-count ${config.maxPendingRowCount} or max-pending-row-size ${config.maxPendingRowSize} bytes allow`,
      {
        where: `validators (source ${sourceId})`,
        workaround: `raise max-pending-row-count / max-pending-row-size, or shorten row-error-delay, then \`dmq validation start ${task.name}\``,
      },
    );
    log.error({ err: error }, 'validator stopped: too many pending rows');
    await writeValidationState(ctx.redis, task.name, sourceId, { ...state, stage: 'Stopped', error: toErrorRecord(error) });
    return true;
  }

  async function compareGroup(group: CompareGroup, mode: ValidationState['mode'], counted: Record<RowOp, number>): Promise<boolean> {
    const pool = ctx.pools.target(task);
    const label = `${tableLabel(group.rows[0]!)} → ${tableLabel(group.target)}`;
    let answer: unknown[][];
    try {
      const statement = compareStatement(group, mode, mode === 'full' ? await targetKinds(ctx, task, group.target) : new Map());
      [answer] = (await pool.query({ sql: statement.sql, values: statement.values, rowsAsArray: true })) as unknown as [unknown[][]];
    } catch (err) {
      if (!problems.has(label)) log.warn({ err, table: label }, 'validator cannot compare this table; its rows stay pending');
      problems.set(label, { srcTable: tableLabel(group.rows[0]!), dstTable: tableLabel(group.target), message: (err as Error).message });
      return true;
    }
    problems.delete(label);
    const { matched, failed } = judgeGroup(group, answer);
    await deletePending(pool, meta, sourceId, matched);
    for (const row of matched) counted[row.op] += 1;
    let left = false;
    for (const failure of failed) {
      if (failure.row.ageMs < config.rowErrorDelayMs) {
        left = true;
        continue;
      }
      if (await reportFailure(pool, meta, failure)) {
        counted[failure.row.op] += 1;
        log.warn({ table: label, key: failure.row.rowKey, error: failure.kind, at: failure.row.coord }, 'validation error');
      } else left = true;
    }
    return left;
  }

  async function round(): Promise<void> {
    const state = await readValidationState(ctx.redis, task.name, instance);
    if (state?.stage !== 'Running' || !lease.valid()) return;
    if (await overLimit(state)) return;
    const pool = ctx.pools.target(task);
    // Everything recorded up to here is compared in this round: validated to here if none is left.
    const applied = (await readSourceSync(pool, meta, sourceId)).global;
    const counted: Record<RowOp, number> = { insert: 0, update: 0, delete: 0 };
    const pageSize = config.batchQuerySize * config.workerCount;
    let cursor: string | undefined;
    let left = false;
    for (;;) {
      const page: PendingRow[] = await readPendingPage(pool, meta, sourceId, cursor, pageSize);
      await eachLimited(groupRows(page, config.batchQuerySize), config.workerCount, async (group) => {
        if (await compareGroup(group, state.mode, counted)) left = true;
      });
      if (page.length < pageSize || stopped || !lease.valid()) break;
      cursor = page.at(-1)!.keyHash;
    }
    const coord = !left && applied ? coordText(applied.coord) : null;
    if (coord || counted.insert + counted.update + counted.delete > 0) await writeValidatorCheckpoint(pool, meta, sourceId, coord, counted);
    if (problems.size > 0) await ctx.redis.hset(validationTablesKey(task.name), sourceId, JSON.stringify([...problems.values()]));
    else await ctx.redis.hdel(validationTablesKey(task.name), sourceId);
  }

  const loop = async () => {
    if (stopped) return;
    running = round().catch((err: unknown) => log.warn({ err }, 'validation round failed; it runs again'));
    await running;
    if (!stopped) timer = setTimeout(loop, config.validateIntervalMs);
  };
  void loop();

  return {
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
