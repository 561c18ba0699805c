import { DelayedError, type Job } from 'bullmq';
import type { ApplyBatch } from '../../shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText } from '../../shared/binlog/position.js';
import { decodeRow } from '../../shared/binlog/row-values.js';
import { lockTableCheckpoint, writeTableCheckpoint } from '../../shared/checkpoint/sync-checkpoint.js';
import { DmqError } from '../../shared/errors.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { taskMeta, type ProcessorContext } from '../context.js';
import { buildStatements } from './statements.js';

/** How long a batch waits for its predecessor, which is usually in flight right behind it. */
const PREDECESSOR_WAIT_MS = 50;
/** How long a batch waits for its table's copy to finish loading: seconds to hours. */
const COPY_WAIT_MS = 2000;

export type ApplyOutcome = 'applied' | 'covered';

/**
 * Apply one batch exactly once: in one target transaction, lock the table's checkpoint, check
 * that it stands at this batch's predecessor, write the rows, move the checkpoint. A batch
 * already covered is skipped; one that came too early waits (and a failed predecessor holds
 * every later batch of its table back).
 */
export async function handleApplyJob(job: Job<ApplyBatch>, ctx: ProcessorContext, token?: string): Promise<ApplyOutcome> {
  const batch = job.data;
  const task = await ctx.registry.requireTask(batch.task);
  const meta = taskMeta(task);
  const ref = { sourceId: batch.sourceId, schema: batch.schema, table: batch.table };
  const coord = parseCoordText(batch.coord);
  const prev = parseCoordText(batch.prev);
  const conn = await ctx.pools.target(task).getConnection();
  let waitMs = 0;
  try {
    // No gap locks: appliers of different tables that create their checkpoint rows at the same
    // time would otherwise deadlock on the checkpoint table.
    await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    const stored = await lockTableCheckpoint(conn, meta, ref);
    const current = stored ?? (batch.startIfMissing ? prev : undefined);
    if (current && compareCoords(current, coord) >= 0) {
      await conn.commit();
      return 'covered';
    }
    if (!current || compareCoords(current, prev) !== 0) {
      await conn.rollback();
      if (current && compareCoords(current, prev) > 0) {
        throw new DmqError('INTERNAL', `${tableLabel(ref)} of source "${batch.sourceId}" stands at ${coordText(current)}, between this batch's predecessor ${batch.prev} and the batch ${batch.coord}`, {
          where: batch.coord,
          workaround: 'restart the task with `dmq start-task --remove-meta` if this repeats; please report it',
        });
      }
      waitMs = current ? PREDECESSOR_WAIT_MS : COPY_WAIT_MS;
    } else {
      const table = { target: batch.target, columns: batch.columns, key: batch.key };
      const changes = batch.changes.map((c) => {
        const change: Parameters<typeof buildStatements>[1][number] = { op: c.op };
        if (c.before) change.before = decodeRow(c.before);
        if (c.after) change.after = decodeRow(c.after);
        return change;
      });
      for (const statement of buildStatements(table, changes, { safeMode: batch.safe })) {
        await conn.query(statement.sql, statement.values);
      }
      await writeTableCheckpoint(conn, meta, ref, coord, batch.gtid);
      await conn.commit();
    }
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    if (err instanceof DmqError) throw err;
    throw new DmqError('APPLY_FAILED', `applying ${tableLabel(ref)} of source "${batch.sourceId}" at ${batch.coord} to ${tableLabel(batch.target)}: ${(err as Error).message}`, {
      cause: err,
      where: batch.coord,
      workaround: 'the batch is retried and later changes of this table wait for it; fix what the target reports, then `dmq resume-task` if the task paused',
    });
  } finally {
    conn.release();
  }
  if (waitMs > 0) {
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  return 'applied';
}
