import type { Job } from 'bullmq';
import type { Connection } from 'mysql2/promise';
import type { InstanceConfig, SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { DEFAULT_CHUNK_ROWS } from '../../shared/config/types.js';
import type { TablePlan } from '../../shared/chunk/chunk.js';
import { readSourcePlans, readUnfinishedChunks, recordSourcePlan } from '../../shared/checkpoint/copy-checkpoint.js';
import { ensureMetaTables } from '../../shared/checkpoint/meta-schema.js';
import { DmqError } from '../../shared/errors.js';
import { makeRouter } from '../../shared/filter/route.js';
import type { PlanJob } from '../../shared/queue/queues.js';
import { binlogReplayGap, readBinlogPosition } from '../../shared/sql/binlog-status.js';
import { describeTable } from '../../shared/sql/catalog.js';
import { withConnection } from '../../shared/sql/connect.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { describeFilters, migratedTables } from '../../shared/filter/migrated-tables.js';
import { SOURCE_SESSION } from '../../shared/sql/pools.js';
import { requireSource, taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { settleCopyProgress } from '../../shared/task/progress.js';
import { enqueueChunkWork } from '../../shared/queue/task-queues.js';
import { advance } from '../../shared/task/stages.js';
import { planTable } from './plan-table.js';
import { recordSchemaVersions } from '../../shared/checkpoint/schema-checkpoint.js';
import { readTrackedTables } from '../../shared/schema/tracked-table.js';
import { serverFacts } from '../precheck/facts.js';
import { hasPrivilege } from '../precheck/grants.js';

/**
 * dmq never takes a global lock: each chunk is one consistent read, and the binlog positions
 * before the first and after the last chunk bound what incremental replay must cover.
 */
export const COPY_CONSISTENCY = 'none (no global lock; per-chunk reads between binlog watermarks)';

/** Full mode on a source whose binlog cannot be replayed: each chunk is exact, the whole is not. */
const unreplayedConsistency = (gap: string) =>
  `none (no global lock; per-chunk reads; writes during the copy are not replayed because ${gap})`;

/**
 * Why full mode cannot replay this source's binlog (null: it can): the server's settings, or a
 * user allowed to read tables but not the binlog, which a full copy does not otherwise need.
 */
async function replayGap(conn: Connection): Promise<string | null> {
  const settings = await binlogReplayGap(conn);
  if (settings) return settings;
  try {
    const grants = await serverFacts(conn).grants();
    const missing = ['REPLICATION SLAVE', 'REPLICATION CLIENT'].filter((p) => !hasPrivilege(grants, p, '*', '*'));
    return missing.length > 0 ? `${grants.account} lacks ${missing.join(' and ')}` : null;
  } catch (err) {
    return `its grants cannot be read (${(err as Error).message})`;
  }
}

async function planSource(task: TaskConfig, instance: InstanceConfig, source: SourceConfig, ctx: ServiceContext) {
  const options = { label: `source "${source.sourceId}"`, role: 'source' as const, session: SOURCE_SESSION, timeZone: task.timezone };
  return withConnection(source.from, options, async (conn) => {
    // Full mode replays the binlog only when it can; without a low watermark it will not try.
    const gap = task.taskMode === 'full' ? await replayGap(conn) : null;
    // Read before the first chunk, so everything a chunk might miss is after it in the binlog.
    const low = gap === null ? await readBinlogPosition(conn) : null;
    const tables = await migratedTables(conn, task, instance);
    if (tables.length === 0) {
      throw new DmqError(
        'PLAN_FAILED',
        `source "${source.sourceId}" has no table that passes the task's filters (${describeFilters(instance)})`,
        {
          where: `mysql-instances[${task.instances.indexOf(instance)}]`,
          workaround: 'check block-allow-list and mydumper extra-args -B/-T against the tables the source really has',
        },
      );
    }
    // The schema tracker starts from these, valid at the low watermark where replay starts.
    const definitions = low ? await readTrackedTables(conn, tables) : [];
    const route = makeRouter(instance.routes, task.caseSensitive);
    const rowsPerChunk = instance.mydumper.rows > 0 ? instance.mydumper.rows : DEFAULT_CHUNK_ROWS;
    const plans: TablePlan[] = [];
    for (const ref of tables) {
      const info = await describeTable(conn, ref);
      let plan: TablePlan;
      try {
        plan = await planTable(conn, info, { sourceId: source.sourceId, target: route(ref.schema, ref.table), rowsPerChunk });
      } catch (err) {
        throw new DmqError(
          'SPLIT_FAILED',
          `cannot split ${tableLabel(info)} of source "${source.sourceId}" into chunks: ${(err as Error).message}`,
          {
            cause: err,
            where: tableLabel(info),
            workaround: 'check that the dump user may SELECT the table; the plan is retried',
          },
        );
      }
      plans.push(plan);
      ctx.log.debug(
        { task: task.name, source: source.sourceId, table: tableLabel(ref), chunks: plan.chunks.length, split: plan.splitKind },
        'table planned',
      );
    }
    return { low, plans, definitions, consistency: gap === null ? COPY_CONSISTENCY : unreplayedConsistency(gap) };
  });
}

/** `task-mode: load` loads what an earlier `dump` run of the same task left in the dump store. */
function missingDump(task: TaskConfig, sourceId: string, why: string): DmqError {
  return new DmqError('PLAN_FAILED', `task "${task.name}" is in load mode, but for source "${sourceId}" ${why}`, {
    where: 'task-mode',
    workaround:
      'run the task with task-mode: dump first, stop it without --remove-meta, then submit it with task-mode: load; or use task-mode: full',
  });
}

export async function handlePlanJob(job: Job<PlanJob>, ctx: ServiceContext): Promise<void> {
  const { task: taskName, sourceId } = job.data;
  const task = await ctx.registry.requireTask(taskName);
  const instance = task.instances.find((i) => i.sourceId === sourceId);
  if (!instance) return;
  const source = await requireSource(ctx, task, sourceId);
  const meta = taskMeta(task);
  const log = ctx.log.child({ task: task.name, source: sourceId });

  const pool = ctx.pools.target(task);
  await ensureMetaTables(pool, meta);
  const already = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === sourceId);
  if (!already && task.taskMode === 'load') throw missingDump(task, sourceId, 'no dump of it is recorded');
  let consistency = already?.consistency ?? COPY_CONSISTENCY;
  if (!already) {
    const planned = await planSource(task, instance, source, ctx);
    const { low, plans, definitions } = planned;
    consistency = planned.consistency;
    if (consistency !== COPY_CONSISTENCY) log.warn({ consistency }, 'writes to the source during the copy will not reach the target');
    const conn = await pool.getConnection();
    try {
      if (low) {
        const validFrom = { file: low.file, pos: low.pos };
        await recordSchemaVersions(
          conn,
          meta,
          sourceId,
          definitions.map((d) => ({ ...d, validFrom })),
        );
      }
      await recordSourcePlan(conn, meta, { sourceId, consistency, low }, plans);
    } finally {
      conn.release();
    }
    log.info({ tables: plans.length, chunks: plans.reduce((n, p) => n + p.chunks.length, 0), low }, 'source planned');
  }

  await ctx.registry.updateState(task.name, (state) => {
    if (advance(state, task.taskMode, sourceId, 'Check', Date.now())) state.sources[sourceId]!.consistency = consistency;
  });
  const unfinished = await readUnfinishedChunks(pool, meta, sourceId);
  const undumped = unfinished.filter((c) => !c.dumped).length;
  if (task.taskMode === 'load' && undumped > 0) throw missingDump(task, sourceId, `${undumped} of its chunks were never dumped`);
  await enqueueChunkWork(ctx, task, unfinished);
  await settleCopyProgress(ctx, task);
}
