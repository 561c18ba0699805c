import { hostname } from 'node:os';
import { diffSummary, readDiffReport } from '../../shared/diff/diff-report.js';
import type { TaskConfig } from '../../shared/config/types.js';
import { readsBinlog } from '../../shared/task/stages.js';
import { readCopyProgress, readSourcePlans, type CopyProgress, type SourcePlanRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import { coordText } from '../../shared/binlog/position.js';
import { listShardLocks, type ShardLock } from '../../shared/checkpoint/shard-lock.js';
import { positionOf, readSyncPositions } from '../../shared/checkpoint/lane-checkpoint.js';
import { applyLanes } from '../../shared/queue/task-queues.js';
import { makeRouter } from '../../shared/filter/route.js';
import type { ErrorRecord } from '../../shared/errors.js';
import { dmError } from './dm-error.js';
import { sourceValidation } from '../validation/validation-control.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import type { PrecheckResult } from '../../shared/task/precheck-result.js';
import { syncStatusKey, type ReaderStatus } from '../binlog/reader-status.js';
import type { SourceTaskState, TaskState } from '../../shared/state/registry.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';

function percent(done: number, total: number): string {
  return `${(total > 0 ? Math.min(100, (done / total) * 100) : done > 0 ? 100 : 0).toFixed(2)} %`;
}

function bytesPerSecond(bytes: number, since: number | undefined, until: number): number {
  if (!since) return 0;
  const seconds = (until - since) / 1000;
  return seconds > 0 ? Math.round(bytes / seconds) : 0;
}

function binlogText(plan: SourcePlanRecord | undefined): { metaBinlog: string; metaBinlogGTID: string } {
  const pos = plan?.high ?? plan?.low;
  return { metaBinlog: pos ? `(${pos.file}, ${pos.pos})` : '', metaBinlogGTID: pos?.gtid ?? '' };
}

/** Three missed heartbeats. */
const STALE_READER_MS = 3000;

/**
 * DM's sync section, from what the source's binlog reader last reported. `copying`: the source
 * is still in Dump or Load, so its tables are not all on the target, whatever the reader says.
 */
function syncStatus(sync: ReaderStatus | undefined, now: number, copying: boolean) {
  if (!sync)
    return {
      totalEvents: 0,
      masterBinlog: '',
      masterBinlogGtid: '',
      syncerBinlog: '',
      syncerBinlogGtid: '',
      pendingBatches: 0,
      synced: false,
      secondsBehindMaster: null,
      readerError: 'the binlog reader has not reported yet',
    };
  // The source's position is known from its heartbeats: a reader that stopped hearing them
  // cannot tell whether the source moved on.
  const caughtUp =
    !copying &&
    sync.pendingBatches === 0 &&
    sync.masterCoord !== '' &&
    sync.masterCoord === sync.appliedCoord &&
    now - sync.heardAt < STALE_READER_MS;
  // On the source's clock: how old the oldest change not yet on the target is; with nothing
  // queued but the source ahead, at least as old as the last change read.
  const since = sync.oldestPendingTime || sync.lastEventTime;
  const behind = caughtUp ? 0 : since > 0 ? Math.max(0, Math.round((now + sync.clockOffsetMs - since) / 1000)) : null;
  return {
    totalEvents: sync.totalEvents,
    masterBinlog: sync.masterCoord,
    masterBinlogGtid: sync.masterGtid ?? '',
    syncerBinlog: sync.appliedCoord,
    syncerBinlogGtid: sync.appliedGtid ?? '',
    readBinlog: sync.readCoord,
    pendingBatches: sync.pendingBatches,
    pendingTransactions: sync.pendingTransactions,
    readerPaused: sync.paused,
    recentTps: sync.recentTps,
    synced: caughtUp,
    secondsBehindMaster: behind,
    readerError: sync.error ?? '',
  };
}

function subTaskStatus(
  task: TaskConfig,
  state: TaskState,
  sourceId: string,
  source: SourceTaskState,
  progress: CopyProgress | undefined,
  plan: SourcePlanRecord | undefined,
  sync: ReaderStatus | undefined,
  locks: ShardLock[],
) {
  const now = state.finishedAt ?? Date.now();
  // DM shows a shard's lock on the sources that have reached it and wait.
  const waiting = locks.filter((l) => l.arrived.some((m) => m.startsWith(`${sourceId}:`)));
  const errors = [source.error, state.error].filter((e): e is ErrorRecord => e !== undefined);
  const p = progress;
  return {
    name: task.name,
    stage: source.stage === 'Running' && state.stage !== 'Running' ? state.stage : source.stage,
    unit: source.unit,
    result: errors.length > 0 ? { isCanceled: false, errors: errors.map(dmError) } : null,
    unresolvedDDLLockID: waiting[0]?.id ?? '',
    consistency: source.consistency ?? '',
    dump: {
      totalTables: plan?.tableCount ?? 0,
      completedTables: p?.dumpedTables ?? 0,
      finishedBytes: p?.dumpedBytes ?? 0,
      finishedRows: p?.dumpedRows ?? 0,
      estimateTotalRows: p?.estimatedRows ?? 0,
      totalChunks: plan?.chunkCount ?? 0,
      completedChunks: p?.dumpedChunks ?? 0,
      progress: percent(p?.dumpedChunks ?? 0, plan?.chunkCount ?? 0),
      bps: bytesPerSecond(p?.dumpedBytes ?? 0, plan?.plannedAt.getTime(), now),
    },
    load: {
      finishedBytes: p?.loadedBytes ?? 0,
      totalBytes: p?.dumpedBytes ?? 0,
      finishedRows: p?.loadedRows ?? 0,
      completedTables: p?.loadedTables ?? 0,
      completedChunks: p?.loadedChunks ?? 0,
      progress: percent(p?.loadedChunks ?? 0, plan?.chunkCount ?? 0),
      ...binlogText(plan),
      bps: bytesPerSecond(p?.loadedBytes ?? 0, plan?.plannedAt.getTime(), now),
    },
    ...(readsBinlog(task.taskMode)
      ? {
          sync: {
            ...syncStatus(sync, Date.now(), source.unit === 'Dump' || source.unit === 'Load'),
            blockingDDLs: waiting.map((l) => l.ddl),
            unresolvedGroups: waiting.map((l) => ({ target: tableLabel(l.target), DDLs: [l.ddl], synced: l.arrived, unsynced: l.missing })),
          },
        }
      : {}),
  };
}

/** The shard DDL locks still waiting; none when the task merges no shards or has no meta tables yet. */
async function readShardLocks(ctx: ServiceContext, task: TaskConfig): Promise<ShardLock[]> {
  if (task.shardMode === '' || !readsBinlog(task.taskMode)) return [];
  try {
    return await listShardLocks(ctx.pools.target(task), taskMeta(task), task);
  } catch {
    // readCopyFacts reports an unreachable target already.
    return [];
  }
}

async function readCopyFacts(ctx: ServiceContext, task: TaskConfig) {
  const meta = taskMeta(task);
  const pool = ctx.pools.target(task);
  try {
    return {
      plans: new Map((await readSourcePlans(pool, meta)).map((p) => [p.sourceId, p])),
      progress: await readCopyProgress(pool, meta),
    };
  } catch (err) {
    // Before the plan exists there is no meta table yet; an unreachable target must not hide the stage either.
    const errno = serverErrno(err);
    if (errno === ER.NO_SUCH_TABLE || errno === ER.BAD_DB_ERROR) return { plans: new Map(), progress: new Map() };
    return { plans: new Map(), progress: new Map(), error: `cannot read progress from the target: ${(err as Error).message}` };
  }
}

/** Status shows only the checks that did not pass cleanly; check-task prints them all. */
function notableChecks(result: unknown) {
  if (!result) return null;
  const r = result as PrecheckResult;
  return { passed: r.passed, results: r.results.filter((c) => c.state !== 'success') };
}

/**
 * `query-status --more`: every table's replication checkpoint, with its routed target. The
 * schema's own stream (CREATE/DROP DATABASE) shows as table ''. A table split into lanes shows
 * where each lane stands (the furthest of its own row and its table's joins) as `lanes`.
 */
async function tableCheckpoints(ctx: ServiceContext, task: TaskConfig, sourceId: string) {
  const instance = task.instances.find((i) => i.sourceId === sourceId)!;
  const route = makeRouter(instance.routes, task.caseSensitive);
  try {
    const positions = await readSyncPositions(ctx.pools.target(task), taskMeta(task), sourceId);
    const count = applyLanes(task, instance);
    return [...positions.tables]
      .map(([key, coord]) => {
        const [schema, table] = JSON.parse(key) as [string, string];
        const lanes = [
          ...(positions.lanes
            .get(key)
            ?.find((l) => l.count === count)
            ?.at.keys() ?? []),
        ]
          .sort((a, b) => a - b)
          .map((index) => ({ lane: index, syncerBinlog: coordText(positionOf(positions, schema, table, { index, count })!) }));
        return {
          table: tableLabel({ schema, table }),
          target: tableLabel(route(schema, table)),
          syncerBinlog: coordText(coord),
          ...(lanes.length > 0 ? { lanes } : {}),
        };
      })
      .sort((a, b) => a.table.localeCompare(b.table));
  } catch {
    // readCopyFacts reports an unreachable target already.
    return [];
  }
}

async function lastDiff(ctx: ServiceContext, task: string) {
  const report = await readDiffReport(ctx.redis, task);
  return report ? diffSummary(report) : null;
}

/** `dmq query-status <task>`: dmctl's shape, one entry per source; `more` adds every check and table. */
export async function taskStatus(ctx: ServiceContext, task: TaskConfig, options: { more?: boolean } = {}) {
  const state = await ctx.registry.getState(task.name);
  if (!state) return { result: false, msg: `task "${task.name}" has no state`, sources: [] };
  const facts = await readCopyFacts(ctx, task);
  const locks = await readShardLocks(ctx, task);
  const syncs = new Map<string, ReaderStatus>();
  for (const i of task.instances) {
    const json = await ctx.redis.get(syncStatusKey(task.name, i.sourceId));
    if (json) syncs.set(i.sourceId, JSON.parse(json) as ReaderStatus);
  }
  return {
    result: true,
    msg: facts.error ?? '',
    stage: state.stage,
    taskMode: task.taskMode,
    // Redis as the process answering sees it: outages it lived through, the last one's length.
    redis: ctx.redisHealth.snapshot(),
    // The last `dmq diff`, in figures; `GET /api/v1/tasks/<task>/diff` has the rows.
    diff: await lastDiff(ctx, task.name),
    precheck: options.more
      ? ((await ctx.registry.getPrecheck(task.name)) ?? null)
      : notableChecks(await ctx.registry.getPrecheck(task.name)),
    sources: await Promise.all(
      task.instances.map(async (i) => {
        const source = state.sources[i.sourceId] ?? { stage: state.stage, unit: 'Check' as const };
        const sub = subTaskStatus(
          task,
          state,
          i.sourceId,
          source,
          facts.progress.get(i.sourceId),
          facts.plans.get(i.sourceId),
          syncs.get(i.sourceId),
          locks,
        );
        // DM shows a source's validator in its subtask; an unreachable target is reported above already.
        const validation = await sourceValidation(ctx, task, i).catch(() => undefined);
        const withValidation = validation ? { ...sub, validation } : sub;
        return {
          result: true,
          msg: '',
          sourceStatus: { source: i.sourceId, worker: hostname(), result: null, relayStatus: null },
          subTaskStatus: [
            options.more && readsBinlog(task.taskMode)
              ? { ...withValidation, tables: await tableCheckpoints(ctx, task, i.sourceId) }
              : withValidation,
          ],
        };
      }),
    ),
  };
}

/** `dmq query-status` without a task: every task and its stage. */
export async function allTasksStatus(ctx: ServiceContext) {
  const tasks = [];
  for (const name of await ctx.registry.listTaskNames()) {
    const task = await ctx.registry.getTask(name);
    const state = await ctx.registry.getState(name);
    if (!task || !state) continue;
    tasks.push({ taskName: name, taskStatus: state.stage, sources: task.instances.map((i) => i.sourceId) });
  }
  return { result: true, msg: '', redis: ctx.redisHealth.snapshot(), tasks };
}
