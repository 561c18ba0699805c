import { DelayedError, type Job } from 'bullmq';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { ApplyJob, BatchUnit } from '../../shared/binlog/batch.js';
import { coordText, parseCoordText } from '../../shared/binlog/position.js';
import { decodeRow } from '../../shared/binlog/row-values.js';
import { lockTableCheckpointStatement, readLockedCheckpoint, writeTableCheckpointStatement } from '../../shared/checkpoint/sync-checkpoint.js';
import { DmqError, toErrorRecord } from '../../shared/errors.js';
import { recordApply } from '../../shared/metrics/work-stats.js';
import { describeTable, rowIdentityKey } from '../../shared/sql/catalog.js';
import { isUnreachable } from '../../shared/sql/connect.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { formatStatement, joinIntoScripts, type SqlStatement } from '../../shared/sql/script.js';
import { taskMeta, type ProcessorContext } from '../context.js';
import { decideApply } from './apply-rule.js';
import { buildStatements, type RowChange } from './statements.js';

/** How long a batch waits for its predecessor, which is usually in flight right behind it. */
const PREDECESSOR_WAIT_MS = 50;
/** How long a batch waits for its table's copy to finish loading: seconds to hours. */
const COPY_WAIT_MS = 2000;
/** Statements per round trip are joined up to this size, well under any max_allowed_packet. */
const SCRIPT_CHARS = 2 << 20;
/** While the target is unreachable a job waits 1 s, doubling up to this, for as long as it takes. */
const OUTAGE_MAX_WAIT_MS = 30_000;

/**
 * Outages this process has reported, per (task, source), with how many waits in a row: a
 * successful apply clears the error from the task's status.
 */
const outages = new Map<string, number>();

async function reportOutage(ctx: ProcessorContext, job: ApplyJob, err: unknown): Promise<number> {
  const key = JSON.stringify([job.task, job.sourceId]);
  const waits = (outages.get(key) ?? 0) + 1;
  outages.set(key, waits);
  const error = new DmqError('TARGET_UNREACHABLE', `the target of task "${job.task}" cannot be reached while applying changes of source "${job.sourceId}": ${(err as Error).message}`, {
    cause: err,
    where: `${job.target.schema}.${job.target.table}`,
    workaround: 'dmq keeps retrying (up to every 30 s) and continues by itself once the target is back; check that it is running and reachable',
  });
  ctx.log.warn({ task: job.task, source: job.sourceId, err: error, waits }, 'target unreachable; apply waits');
  if (waits === 1) {
    await ctx.registry.updateState(job.task, (state) => {
      const s = state.sources[job.sourceId];
      if (s && s.stage === 'Running') s.error = toErrorRecord(error);
    });
  }
  return Math.min(OUTAGE_MAX_WAIT_MS, 1000 * 2 ** (waits - 1));
}

async function clearOutage(ctx: ProcessorContext, job: ApplyJob): Promise<void> {
  const key = JSON.stringify([job.task, job.sourceId]);
  if (!outages.delete(key)) return;
  ctx.log.info({ task: job.task, source: job.sourceId }, 'target reachable again; apply continues');
  await ctx.registry.updateState(job.task, (state) => {
    const s = state.sources[job.sourceId];
    if (s?.error?.code === 'TARGET_UNREACHABLE') delete s.error;
  });
}

export type ApplyOutcome = 'applied' | 'covered';

/**
 * What the target's indexes tell the statements, looked up once per (task, target table) in
 * this process. The binlog names a table's primary key only; for a table without one, the
 * target's first unique key over NOT NULL columns identifies rows instead of every column.
 */
const targetKeys = new Map<string, Promise<{ key: string[]; uniqueColumns: string[] }>>();

function targetKeysOf(conn: PoolConnection, job: ApplyJob): Promise<{ key: string[]; uniqueColumns: string[] }> {
  const cacheKey = JSON.stringify([job.task, job.target.schema, job.target.table, job.key]);
  let keys = targetKeys.get(cacheKey);
  if (!keys) {
    keys = describeTable(conn, job.target).then((info) => {
      const identity = rowIdentityKey(info)?.columns ?? [];
      const key = job.key.length > 0 ? job.key : identity.every((c) => job.columns.includes(c)) ? identity : [];
      const uniqueColumns = [...new Set(info.uniqueKeys.flatMap((k) => k.columns))].filter((c) => !key.includes(c));
      return { key, uniqueColumns };
    });
    keys.catch(() => targetKeys.delete(cacheKey));
    targetKeys.set(cacheKey, keys);
  }
  return keys;
}

/** The target statements for `units`, each run of units with the same safe-mode flag built together. */
function unitStatements(job: ApplyJob, keys: { key: string[]; uniqueColumns: string[] }, units: BatchUnit[]): SqlStatement[] {
  const table = { target: job.target, columns: job.columns, ...keys };
  const statements: SqlStatement[] = [];
  let i = 0;
  while (i < units.length) {
    const safe = units[i]!.safe;
    const changes: RowChange[] = [];
    for (; i < units.length && units[i]!.safe === safe; i++) {
      for (const c of units[i]!.changes) {
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
 * Apply one job exactly once: in one target transaction, lock the table's checkpoint, find
 * the unit that starts where it stands, write that unit and the rest, move the checkpoint.
 * Units already covered are skipped; a job that came too early waits (and a failed
 * predecessor holds every later job of its table back). The lock and the writes each go as
 * one multi-statement round trip.
 */
export async function handleApplyJob(job: Job<ApplyJob>, ctx: ProcessorContext, token?: string): Promise<ApplyOutcome> {
  const data = job.data;
  const task = await ctx.registry.requireTask(data.task);
  const meta = taskMeta(task);
  const ref = { sourceId: data.sourceId, schema: data.schema, table: data.table };
  const first = data.units[0]!;
  const last = data.units.at(-1)!;
  const where = data.units.length === 1 ? first.coord : `${first.coord}..${last.coord}`;
  let conn: PoolConnection | undefined;
  let waitMs = 0;
  const started = performance.now();
  let applied = { batches: 0, rows: 0 };
  try {
    conn = await ctx.pools.target(task).getConnection();
    // READ COMMITTED, no gap locks: appliers of different tables that create their checkpoint
    // rows at the same time would otherwise deadlock on the checkpoint table.
    const [results] = await conn.query(`SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION; ${formatStatement(lockTableCheckpointStatement(meta, ref))}`);
    const stored = readLockedCheckpoint((results as unknown[])[2] as RowDataPacket[]);
    const decision = decideApply(stored, data);
    switch (decision.action) {
      case 'skip':
        await conn.commit();
        return 'covered';
      case 'wait':
        await conn.rollback();
        waitMs = decision.until === 'copy' ? COPY_WAIT_MS : PREDECESSOR_WAIT_MS;
        break;
      case 'conflict':
        await conn.rollback();
        throw new DmqError('INTERNAL', `${tableLabel(ref)} of source "${data.sourceId}" stands at ${coordText(decision.current)}, inside the batch ${data.units[decision.unit]!.coord} (after ${data.units[decision.unit]!.prev})`, {
          where,
          workaround: 'restart the task with `dmq start-task --remove-meta` if this repeats; please report it',
        });
      case 'apply': {
        const units = data.units.slice(decision.from);
        applied = { batches: units.length, rows: units.reduce((n, u) => n + u.changes.length, 0) };
        // Only now: before its copy is loaded, the target table may not exist yet.
        const statements = unitStatements(data, await targetKeysOf(conn, data), units);
        statements.push(writeTableCheckpointStatement(meta, ref, parseCoordText(last.coord), last.gtid), { sql: 'COMMIT', values: [] });
        for (const script of joinIntoScripts(statements, SCRIPT_CHARS)) await conn.query(script);
      }
    }
  } catch (err) {
    await conn?.rollback().catch(() => undefined);
    if (err instanceof DmqError) throw err;
    if (isUnreachable(err)) {
      conn?.destroy();
      conn = undefined;
      // Not a failed attempt: the job keeps its place and the task keeps running.
      await job.moveToDelayed(Date.now() + (await reportOutage(ctx, data, err)), token);
      throw new DelayedError();
    }
    throw new DmqError('APPLY_FAILED', `applying ${tableLabel(ref)} of source "${data.sourceId}" at ${where} to ${tableLabel(data.target)}: ${(err as Error).message}`, {
      cause: err,
      where,
      workaround: 'the batch is retried and later changes of this table wait for it; fix what the target reports, then `dmq resume-task` if the task paused',
    });
  } finally {
    conn?.release();
  }
  if (waitMs > 0) {
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  await clearOutage(ctx, data);
  await recordApply(ctx.redis, data.task, data.sourceId, { ...applied, seconds: (performance.now() - started) / 1000 });
  return 'applied';
}
