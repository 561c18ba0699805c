import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { ApplyJob, Batch, DdlBarrier } from '../../shared/binlog/batch.js';
import { parseCoordText } from '../../shared/binlog/position.js';
import { metaName, type MetaTables } from '../../shared/checkpoint/meta-schema.js';
import {
  joinShardStatements,
  leaveShardStatement,
  memberLabel,
  reachShardLock,
  resolveShardLockStatement,
  shardMembers,
} from '../../shared/checkpoint/shard-lock.js';
import { moveTableCheckpointStatement, type TableSyncRef } from '../../shared/checkpoint/sync-checkpoint.js';
import type { TaskConfig } from '../../shared/config/types.js';
import { adaptDefinition } from '../../shared/ddl/target-dialect.js';
import { DmqError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { targetDialect } from '../../shared/sql/target-facts.js';
import type { BinlogOp } from '../../shared/state/binlog-ops.js';
import { isUnreachable } from '../../shared/sql/connect.js';
import { ALREADY_DONE, isServerError } from '../../shared/sql/server-errors.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { formatStatement, type SqlStatement } from '../../shared/sql/script.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { streamsBehind, waitLabel } from './stream-waits.js';

export type DdlOutcome = 'applied' | 'wait';

/** Key of the counter that tells every applier process its cached target keys may be stale. */
export const ddlGenerationKey = (task: string) => `dmq:ddl-generation:${task}`;

/**
 * Runs one DDL barrier. `conn` holds the table's checkpoint locked in an open transaction, and
 * the barrier starts exactly there. It waits until the streams it names have applied what came
 * before it (and, for a merged table, until every shard has reached it), runs its statements,
 * then moves the checkpoint past it.
 *
 * A DDL commits on its own, so it runs on a second connection while `conn` keeps the checkpoint
 * row locked until the checkpoint has moved past it: a second delivery of the barrier (its
 * queue lock lapsed during a long ALTER) waits for that row and then finds the barrier covered,
 * instead of running the DDL again after later rows (a TRUNCATE would wipe them). Only when the
 * process running it died is the DDL run again, and then no later row of its table can have
 * been applied, as the checkpoint never moved: its marker says "maybe done already".
 */
export async function applyDdlBarrier(
  ctx: ServiceContext,
  conn: PoolConnection,
  task: TaskConfig,
  meta: MetaTables,
  job: ApplyJob,
  barrier: Batch & { ddl: DdlBarrier },
  op: BinlogOp | undefined,
): Promise<DdlOutcome> {
  const ref: TableSyncRef = { sourceId: job.sourceId, schema: job.schema, table: job.table };
  const log = ctx.log.child({ task: job.task, source: job.sourceId, table: tableLabel(ref), at: barrier.coord });
  const behind = await streamsBehind(conn, meta, job.sourceId, barrier.ddl.after);
  if (behind.length > 0) {
    await conn.rollback();
    log.debug({ behind: behind.map((b) => waitLabel(b.wait)) }, 'DDL waits for the streams it depends on');
    return 'wait';
  }
  const own = op === undefined || op.op === 'inject';
  let statements = own ? barrier.ddl.target : op.op === 'skip' ? [] : op.sqls;
  const finish: SqlStatement[] = [];
  if (own && barrier.ddl.shard !== 'none' && statements.length > 0) {
    const step = await shardStep(conn, task, meta, job, barrier, ref);
    if (step.wait) {
      await conn.commit();
      if (step.note) log.info(step.note, 'shard DDL waits for the other shards');
      return 'wait';
    }
    if (!step.run) {
      statements = [];
      log.info(step.note ?? {}, step.why);
    }
    finish.push(...step.finish);
  }
  // The source's DDL in the target's dialect; SQL the operator gave with `binlog replace|inject` runs as given.
  if (own && statements.length > 0) statements = await inTargetDialect(ctx, task, job, barrier, statements, log);
  if (op?.op === 'inject') statements = [...op.sqls, ...statements];
  if (statements.length > 0) await runDdl(ctx, task, meta, job, barrier, ref, statements, log);
  const script = [
    formatStatement(
      moveTableCheckpointStatement(meta, ref, parseCoordText(barrier.prev), parseCoordText(barrier.coord), barrier.gtidSet ?? barrier.gtid),
    ),
    formatStatement(clearDdlStatement(meta, ref)),
    ...finish.map(formatStatement),
  ];
  const [results] = await conn.query(script.join('; '));
  const moved = (Array.isArray(results) ? (results[0] as ResultSetHeader) : (results as ResultSetHeader)).affectedRows;
  if (moved !== 1) {
    await conn.rollback();
    throw new DmqError(
      'INTERNAL',
      `${tableLabel(ref)} of source "${job.sourceId}" left ${barrier.prev} while its DDL at ${barrier.coord} ran, though its checkpoint was locked`,
      { where: barrier.coord, workaround: 'please report it; `dmq query-status` shows where the table stands' },
    );
  }
  await conn.commit();
  if (statements.length > 0) await ctx.redis.incr(ddlGenerationKey(job.task));
  return 'applied';
}

/**
 * Runs the barrier's statements on a connection of their own (see applyDdlBarrier), marked as
 * started first, in a row of their own that commits at once and outlives a crash.
 */
async function runDdl(
  ctx: ServiceContext,
  task: TaskConfig,
  meta: MetaTables,
  job: ApplyJob,
  barrier: Batch & { ddl: DdlBarrier },
  ref: TableSyncRef,
  statements: string[],
  log: Logger,
): Promise<void> {
  const ddlConn = await ctx.pools.target(task).getConnection();
  try {
    const retry = await markDdlStarted(ddlConn, meta, ref, barrier.coord);
    for (const sql of statements) {
      try {
        await ddlConn.query(sql);
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Only after a crash between the DDL and the checkpoint can it have run before: only then
        // are these errors taken as "done".
        if (retry && isServerError(err, ALREADY_DONE)) {
          log.info({ sql, code }, 'DDL had already run before a restart');
          continue;
        }
        if (isUnreachable(err) || code === undefined) throw err;
        const skip = `\`dmq binlog skip ${job.task} -b ${barrier.coord} -s ${job.sourceId}\``;
        // Without shard-mode every shard's DDL runs on the merged table: the second one fails.
        const shards = task.shardMode === '' ? await shardMembers(ddlConn, meta, task, job.target, { current: false }) : [];
        throw new DmqError(
          'DDL_REJECTED',
          `the target rejects the DDL of ${tableLabel(ref)} of source "${job.sourceId}" at ${barrier.coord}: ${(err as Error).message} (the source ran: ${barrier.ddl.source}; the target ran: ${sql})`,
          {
            cause: err,
            where: barrier.coord,
            workaround:
              shards.length > 1
                ? `${shards.length} shards merge into ${tableLabel(job.target)} and the task has no shard-mode, so each shard's DDL runs on it: if another shard's DDL already made this change, ${skip}; set \`shard-mode: pessimistic\` (stop-task, then start-task) to have a shard DDL run once, when every shard has run it`
                : `fix the target and \`dmq resume-task ${job.task}\`, or ${skip} to leave this DDL out, or \`dmq binlog replace ${job.task} -b ${barrier.coord} -s ${job.sourceId} "<sql for the target>"\` to run other statements instead`,
          },
        );
      }
      log.info({ sql, statement: barrier.ddl.source }, 'DDL applied');
    }
  } finally {
    ddlConn.release();
  }
}

/** The statements rewritten for the target (collations, MariaDB-only types); a DDL it cannot take pauses the task. */
async function inTargetDialect(
  ctx: ServiceContext,
  task: TaskConfig,
  job: ApplyJob,
  barrier: Batch & { ddl: DdlBarrier },
  statements: string[],
  log: Logger,
): Promise<string[]> {
  const dialect = await targetDialect(ctx.pools.target(task));
  return statements.map((sql) => {
    const adapted = adaptDefinition(sql, dialect);
    if (!adapted.ok) {
      throw new DmqError(
        'DDL_REJECTED',
        `the target (${dialect.version}) cannot run the DDL of source "${job.sourceId}" at ${barrier.coord}: ${adapted.reason}`,
        {
          where: barrier.coord,
          workaround: `${adapted.workaround}; then \`dmq binlog skip ${job.task} -b ${barrier.coord} -s ${job.sourceId}\` to leave it out, or \`dmq binlog replace ${job.task} -b ${barrier.coord} -s ${job.sourceId} "<sql for the target>"\``,
        },
      );
    }
    if (adapted.changes.length > 0) log.warn({ sql: adapted.sql, changes: adapted.changes }, 'DDL adapted for the target');
    return adapted.sql;
  });
}

interface ShardStep {
  /** Not yet: other shards have not reached the lock. */
  wait: boolean;
  /** Whether this barrier runs its statements on the merged table. */
  run: boolean;
  why: string;
  note?: Record<string, unknown>;
  /** Written with the checkpoint once the barrier is done. */
  finish: SqlStatement[];
}

/** What the shard's role asks of a DDL on a merged target table (see ShardRole). */
async function shardStep(
  conn: PoolConnection,
  task: TaskConfig,
  meta: MetaTables,
  job: ApplyJob,
  barrier: Batch & { ddl: DdlBarrier },
  ref: TableSyncRef,
): Promise<ShardStep> {
  const target = job.target;
  const lock = tableLabel(target);
  switch (barrier.ddl.shard) {
    case 'lock':
    case 'first': {
      const rule = { match: task.shardMode === 'optimistic' ? 'statement' : 'order', atOnce: barrier.ddl.shard === 'first' } as const;
      const step = await reachShardLock(conn, meta, task, ref, target, barrier.coord, barrier.ddl.target.join('; '), rule);
      if (step.action === 'wait')
        return {
          wait: true,
          run: false,
          why: '',
          ...(step.arrived ? { note: { lock, seq: step.seq, missing: step.missing } } : {}),
          finish: [],
        };
      if (step.action === 'done')
        return {
          wait: false,
          run: false,
          why: 'shard DDL already applied by another shard (or unlocked)',
          note: { lock, seq: step.seq },
          finish: [],
        };
      return { wait: false, run: true, why: '', finish: [resolveShardLockStatement(meta, target, step.seq, 'executed')] };
    }
    case 'join':
      return { wait: false, run: true, why: '', finish: joinShardStatements(meta, target, ref, barrier.coord) };
    case 'leave':
    case 'unmerged-only': {
      const others = (await shardMembers(conn, meta, task, target, { current: false })).filter((m) => memberLabel(m) !== memberLabel(ref));
      if (others.length === 0) return { wait: false, run: true, why: '', finish: [] };
      const finish = barrier.ddl.shard === 'leave' ? [leaveShardStatement(meta, target, ref, barrier.coord)] : [];
      return {
        wait: false,
        run: false,
        why: `${barrier.ddl.kind} of a shard is not applied to the merged table`,
        note: { lock, shards: others.map(memberLabel), leaves: barrier.ddl.shard === 'leave' },
        finish,
      };
    }
    case 'none':
      return { wait: false, run: true, why: '', finish: [] };
  }
}

/** Records that the barrier's DDL is about to run; true when an earlier attempt got this far. */
async function markDdlStarted(conn: PoolConnection, meta: MetaTables, ref: TableSyncRef, coord: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT binlog_coord FROM ${metaName(meta, 'ddl')} WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
    [ref.sourceId, ref.schema, ref.table],
  );
  if (rows[0] && String(rows[0].binlog_coord) === coord) return true;
  await conn.query(
    `REPLACE INTO ${metaName(meta, 'ddl')} (source_id, schema_name, table_name, binlog_coord, started_at) VALUES (?, ?, ?, ?, NOW(3))`,
    [ref.sourceId, ref.schema, ref.table, coord],
  );
  return false;
}

function clearDdlStatement(meta: MetaTables, ref: TableSyncRef): SqlStatement {
  return {
    sql: `DELETE FROM ${metaName(meta, 'ddl')} WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
    values: [ref.sourceId, ref.schema, ref.table],
  };
}
