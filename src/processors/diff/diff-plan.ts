import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition } from '../../shared/binlog/position.js';
import { readSourcePlans } from '../../shared/checkpoint/copy-checkpoint.js';
import { metaName, type MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { chunkCountFor, chunkCondition } from '../../shared/chunk/key-range.js';
import { DEFAULT_CHUNK_ROWS, type InstanceConfig, type TableRef, type TaskConfig } from '../../shared/config/types.js';
import { makeExtractor, makeRouter } from '../../shared/filter/route.js';
import { migratedTables } from '../../shared/filter/migrated-tables.js';
import type { TableDiffReport } from '../../shared/diff/diff-report.js';
import { describeTable, rowIdentityKey, type ColumnInfo, type TableInfo } from '../../shared/sql/catalog.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import { requireSource, taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { copies, readsBinlog } from '../../shared/task/stages.js';
import { copyFilterCondition } from '../dump/copy-filter.js';
import { planTable } from '../plan/plan-table.js';
import type { TableComparison } from './compare-chunk.js';
import { matchColumns, typeFamily } from './diff-columns.js';
import { bucketCondition, shardSide, tableSide, type SqlFragment } from './diff-sql.js';
import { waitForSync } from './sync-wait.js';

/** A source table and where its route takes it. */
interface Shard extends TableRef {
  sourceId: string;
  instance: InstanceConfig;
  pool: Pool;
  extracts: { column: string; value: string }[];
}

/** One target table to compare: its report, and unless it cannot be compared, its key ranges. */
export interface TableWork {
  report: TableDiffReport;
  comparison?: TableComparison;
  ranges: SqlFragment[][];
  /** For fix SQL and the report's keys. */
  target: TableRef;
}

const shardLabel = (s: { sourceId: string; schema: string; table: string }) => `${s.sourceId} ${tableLabel(s)}`;

function emptyReport(target: TableRef, shards: Shard[]): TableDiffReport {
  return {
    table: tableLabel(target),
    sources: shards.map(shardLabel),
    outcome: 'pending',
    rows: 0,
    chunks: 0,
    chunksDone: 0,
    chunksDifferent: 0,
    ms: 0,
    notes: [],
    differentRows: 0,
    differences: [],
  };
}

/** The source tables of every instance, grouped by the target table their routes give them. */
async function shardsByTarget(ctx: ServiceContext, task: TaskConfig): Promise<Map<string, { target: TableRef; shards: Shard[] }>> {
  const groups = new Map<string, { target: TableRef; shards: Shard[] }>();
  for (const instance of task.instances) {
    const source = await requireSource(ctx, task, instance.sourceId);
    const pool = ctx.pools.source(task, source);
    const conn = await pool.getConnection();
    let tables: TableRef[];
    try {
      tables = await migratedTables(conn, task, instance);
    } finally {
      conn.release();
    }
    const route = makeRouter(instance.routes, task.caseSensitive);
    const extract = makeExtractor(instance.routes, task.caseSensitive);
    for (const ref of tables) {
      const target = route(ref.schema, ref.table);
      const label = tableLabel(target);
      const group = groups.get(label) ?? { target, shards: [] };
      group.shards.push({
        ...ref,
        sourceId: instance.sourceId,
        instance,
        pool,
        extracts: extract(instance.sourceId, ref.schema, ref.table),
      });
      groups.set(label, group);
    }
  }
  return groups;
}

interface CopyFacts {
  /** Sources whose copy is not planned yet. */
  unplanned: Set<string>;
  /** `source \0 schema \0 table` of tables with chunks not loaded yet. */
  loading: Set<string>;
  /** Tables the copy planned, by source: to tell one dropped upstream since. */
  planned: { sourceId: string; schema: string; table: string; target: TableRef }[];
}

const copyKey = (s: { sourceId: string; schema: string; table: string }) => `${s.sourceId}\0${s.schema}\0${s.table}`;

async function readCopyFacts(target: Pool, meta: MetaTables, task: TaskConfig): Promise<CopyFacts> {
  const facts: CopyFacts = { unplanned: new Set(), loading: new Set(), planned: [] };
  if (!copies(task.taskMode)) return facts;
  try {
    const plans = new Set((await readSourcePlans(target, meta)).map((p) => p.sourceId));
    for (const i of task.instances) if (!plans.has(i.sourceId)) facts.unplanned.add(i.sourceId);
    const [chunks] = await target.query<RowDataPacket[]>(
      `SELECT source_id, schema_name, table_name FROM ${metaName(meta, 'chunks')}
       WHERE loaded_at IS NULL GROUP BY source_id, schema_name, table_name`,
    );
    for (const r of chunks)
      facts.loading.add(copyKey({ sourceId: String(r.source_id), schema: String(r.schema_name), table: String(r.table_name) }));
    const [tables] = await target.query<RowDataPacket[]>(
      `SELECT source_id, schema_name, table_name, target_schema, target_table FROM ${metaName(meta, 'tables')}`,
    );
    facts.planned = tables.map((r) => ({
      sourceId: String(r.source_id),
      schema: String(r.schema_name),
      table: String(r.table_name),
      target: { schema: String(r.target_schema), table: String(r.target_table) },
    }));
  } catch (err) {
    const errno = serverErrno(err);
    if (errno !== ER.NO_SUCH_TABLE && errno !== ER.BAD_DB_ERROR) throw err;
    for (const i of task.instances) facts.unplanned.add(i.sourceId);
  }
  return facts;
}

/** Sources whose binlog replication runs now: differences there may be changes in flight. */
async function replicatingSources(ctx: ServiceContext, task: TaskConfig): Promise<Set<string>> {
  const state = await ctx.registry.getState(task.name);
  if (!state || !readsBinlog(task.taskMode)) return new Set();
  return new Set(
    Object.entries(state.sources)
      .filter(([, s]) => s.stage === 'Running' && s.unit === 'Sync')
      .map(([id]) => id),
  );
}

/**
 * The key ranges to compare: the copy's split (planTable, on the target, which holds every
 * shard's rows) for a table with a key; for one without, buckets of whole-row checksums, unless a
 * float or JSON column may print differently on the two servers and so land a row in a different
 * bucket on each side.
 */
async function rangesOf(
  target: Pool,
  info: TableInfo,
  ref: TableRef,
  key: ColumnInfo[],
  columns: ColumnInfo[],
  estimatedRows: number,
  rowsPerChunk: number,
): Promise<{ ranges: SqlFragment[][]; note?: string }> {
  if (key.length > 0) {
    const conn = await target.getConnection();
    try {
      const plan = await planTable(conn, { ...info, estimatedRows }, { sourceId: '', target: ref, rowsPerChunk });
      return { ranges: plan.chunks.map((bounds) => [chunkCondition(plan.splitKey, bounds)]) };
    } finally {
      conn.release();
    }
  }
  const printsVary = columns.some((c) => typeFamily(c) === 'float' || c.dataType === 'json');
  const count = printsVary ? 1 : chunkCountFor(estimatedRows, rowsPerChunk);
  const note = `no primary key or unique key over NOT NULL columns: compared by full-row checksums${printsVary ? ' in one piece (it has float or JSON columns)' : ` in ${count} buckets`}`;
  return { ranges: Array.from({ length: count }, (_, i) => (count === 1 ? [] : [bucketCondition(columns, i, count)])), note };
}

/** A table's info, or undefined when it does not exist (SHOW CREATE TABLE refuses a missing table). */
async function describeIfExists(pool: Pool, ref: TableRef): Promise<TableInfo | undefined> {
  const conn = await pool.getConnection();
  try {
    return await describeTable(conn, ref);
  } catch (err) {
    if (serverErrno(err) === ER.NO_SUCH_TABLE) return undefined;
    throw err;
  } finally {
    conn.release();
  }
}

/** One target table's comparison: its columns lined up with every shard's, its key ranges; or why it cannot be compared. */
async function planTableDiff(
  ctx: ServiceContext,
  task: TaskConfig,
  plan: {
    ref: TableRef;
    shards: Shard[];
    report: TableDiffReport;
    target: Pool;
    meta: MetaTables;
    replicating: Set<string>;
  },
): Promise<TableWork> {
  const { ref, shards, report, target, meta, replicating } = plan;
  const cannot = (outcome: 'missing' | 'mismatch', notes: string[]): TableWork => {
    report.outcome = outcome;
    report.notes.push(...notes);
    return { report, ranges: [], target: ref };
  };
  const info = await describeIfExists(target, ref);
  if (!info)
    return cannot('missing', [`target table ${tableLabel(ref)} does not exist (routed from ${shards.map(shardLabel).join(', ')})`]);
  const columns = info.columns.filter((c) => !c.generated);
  const sides = [];
  const problems: string[] = [];
  for (const shard of shards) {
    const sourceInfo = await describeIfExists(shard.pool, shard);
    if (!sourceInfo) return cannot('missing', [`source table ${shardLabel(shard)} no longer exists`]);
    const match = matchColumns(columns, sourceInfo, shard.extracts, `source ${shardLabel(shard)}`);
    if (!match.ok) {
      problems.push(...match.problems);
      continue;
    }
    const filter = await copyFilterCondition(shard.pool, task, shard, ctx.log);
    sides.push({
      shard,
      estimatedRows: sourceInfo.estimatedRows,
      side: shardSide(shard.schema, shard.table, columns, match.columns, filter),
    });
  }
  if (problems.length > 0) return cannot('mismatch', problems);

  const identity = rowIdentityKey(info);
  const key = identity ? identity.columns.map((name) => info.columns.find((c) => c.name === name)!) : [];
  const estimatedRows = Math.max(
    info.estimatedRows,
    sides.reduce((n, s) => n + s.estimatedRows, 0),
  );
  const rowsPerChunk = shards[0]!.instance.mydumper.rows > 0 ? shards[0]!.instance.mydumper.rows : DEFAULT_CHUNK_ROWS;
  const { ranges, note } = await rangesOf(target, info, ref, key, columns, estimatedRows, rowsPerChunk);
  if (note) report.notes.push(note);
  report.chunks = ranges.length;
  return {
    report,
    ranges,
    target: ref,
    comparison: {
      key,
      columns,
      shards: sides.map((s) => ({ sourceId: s.shard.sourceId, pool: s.shard.pool, side: s.side })),
      target: { pool: target, side: tableSide(ref.schema, ref.table) },
      replicating: sides.some((s) => replicating.has(s.shard.sourceId)),
      waitForSync: (positions: Map<string, BinlogPosition | null>) => waitForSync(target, meta, positions, replicating),
    },
  };
}

/** What to compare, table by table, and what cannot be compared, each with a line saying why. */
export async function planDiff(ctx: ServiceContext, task: TaskConfig): Promise<TableWork[]> {
  const meta = taskMeta(task);
  const target = ctx.pools.target(task);
  const groups = await shardsByTarget(ctx, task);
  const facts = await readCopyFacts(target, meta, task);
  const replicating = await replicatingSources(ctx, task);
  const work: TableWork[] = [];

  // A copied table gone from the source is a difference only while the target still holds it
  // fed by nothing: a DROP that replicated removed it from both sides.
  for (const gone of facts.planned.filter((p) => !groups.has(tableLabel(p.target)))) {
    if (!(await describeIfExists(target, gone.target))) continue;
    const report = emptyReport(gone.target, []);
    report.sources = [shardLabel(gone)];
    report.outcome = 'missing';
    report.notes.push(
      `source table ${shardLabel(gone)} was copied but no longer exists on the source (or no longer passes the filters), while the target still holds ${tableLabel(gone.target)}`,
    );
    work.push({ report, ranges: [], target: gone.target });
  }

  for (const { target: ref, shards } of groups.values()) {
    const report = emptyReport(ref, shards);
    const copying = shards.filter((s) => facts.unplanned.has(s.sourceId) || facts.loading.has(copyKey(s)));
    if (copying.length > 0) {
      report.outcome = 'copying';
      report.notes.push(`still being copied: ${copying.map(shardLabel).join(', ')}; compare it once the copy is done`);
      work.push({ report, ranges: [], target: ref });
      continue;
    }
    try {
      work.push(await planTableDiff(ctx, task, { ref, shards, report, target, meta, replicating }));
    } catch (err) {
      report.outcome = 'failed';
      report.notes.push(`cannot plan the comparison: ${(err as Error).message}`);
      work.push({ report, ranges: [], target: ref });
    }
  }
  return work;
}
