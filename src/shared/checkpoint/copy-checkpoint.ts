import type { Connection, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition } from '../binlog/position.js';
import {
  decodeKeyTuple,
  encodeKeyTuple,
  type ChunkBounds,
  type ChunkKey,
  type KeyValue,
  type SplitKind,
  type TablePlan,
} from '../chunk/chunk.js';
import type { ColumnInfo } from '../sql/catalog.js';
import type { Queryable } from '../sql/connect.js';
import { metaName, type MetaTables } from './meta-schema.js';

export interface SourcePlanRecord {
  sourceId: string;
  consistency: string;
  low: BinlogPosition | null;
  high: BinlogPosition | null;
  tableCount: number;
  chunkCount: number;
  plannedAt: Date;
  dumpedAt: Date | null;
}

export interface ChunkRecord extends ChunkKey, ChunkBounds {
  fileKey: string | null;
  fileBytes: number;
  dumpedRows: number;
  dumped: boolean;
  loadOffset: number;
  loadedRows: number;
  loaded: boolean;
  /** Direct copy: the key of the last row committed; the chunk resumes after it. */
  resumeKey: KeyValue[] | null;
}

export interface TableRecord {
  sourceId: string;
  schema: string;
  table: string;
  target: { schema: string; table: string };
  createSql: string;
  columns: ColumnInfo[];
  splitKey: string[];
  splitKind: SplitKind;
  estimatedRows: number;
  chunkCount: number;
}

const CHUNK_WHERE = 'source_id = ? AND schema_name = ? AND table_name = ? AND chunk_index = ?';
const chunkParams = (key: ChunkKey) => [key.sourceId, key.schema, key.table, key.index];

/**
 * Record a source's whole plan in one transaction, so a plan is either absent (plan again)
 * or complete (reuse it after a restart).
 */
export async function recordSourcePlan(
  conn: Connection | PoolConnection,
  meta: MetaTables,
  source: { sourceId: string; consistency: string; low: BinlogPosition | null },
  tables: TablePlan[],
): Promise<void> {
  await conn.beginTransaction();
  try {
    for (const t of tables) {
      await conn.query(
        `INSERT INTO ${metaName(meta, 'tables')} (source_id, schema_name, table_name, target_schema, target_table,
           create_sql, column_list, split_key, split_kind, estimated_rows, chunk_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          t.sourceId,
          t.schema,
          t.table,
          t.target.schema,
          t.target.table,
          t.createSql,
          JSON.stringify(t.columns),
          JSON.stringify(t.splitKey),
          t.splitKind,
          t.estimatedRows,
          t.chunks.length,
        ],
      );
      // Insert chunk rows in slices: a table with thousands of chunks must not build one huge statement.
      for (let start = 0; start < t.chunks.length; start += 500) {
        const slice = t.chunks.slice(start, start + 500);
        await conn.query(
          `INSERT INTO ${metaName(meta, 'chunks')} (source_id, schema_name, table_name, chunk_index, lower_bound, upper_bound)
           VALUES ?`,
          [slice.map((c, i) => [t.sourceId, t.schema, t.table, start + i, encodeKeyTuple(c.lower), encodeKeyTuple(c.upper)])],
        );
      }
    }
    await conn.query(
      `INSERT INTO ${metaName(meta, 'dumpMeta')} (source_id, consistency, low_binlog_name, low_binlog_pos, low_binlog_gtid,
         table_count, chunk_count, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, NOW(3))`,
      [
        source.sourceId,
        source.consistency,
        source.low?.file ?? null,
        source.low?.pos ?? null,
        source.low?.gtid ?? null,
        tables.length,
        tables.reduce((n, t) => n + t.chunks.length, 0),
      ],
    );
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
}

function position(file: unknown, pos: unknown, gtid: unknown): BinlogPosition | null {
  if (file === null || file === undefined) return null;
  return { file: String(file), pos: Number(pos), gtid: gtid === null || gtid === undefined ? '' : String(gtid) };
}

export async function readSourcePlans(db: Queryable, meta: MetaTables): Promise<SourcePlanRecord[]> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM ${metaName(meta, 'dumpMeta')} ORDER BY source_id`);
  return rows.map((r) => ({
    sourceId: String(r.source_id),
    consistency: String(r.consistency),
    low: position(r.low_binlog_name, r.low_binlog_pos, r.low_binlog_gtid),
    high: position(r.high_binlog_name, r.high_binlog_pos, r.high_binlog_gtid),
    tableCount: Number(r.table_count),
    chunkCount: Number(r.chunk_count),
    plannedAt: new Date(`${String(r.planned_at)}Z`),
    dumpedAt: r.dumped_at ? new Date(`${String(r.dumped_at)}Z`) : null,
  }));
}

function toChunk(r: RowDataPacket): ChunkRecord {
  return {
    sourceId: String(r.source_id),
    schema: String(r.schema_name),
    table: String(r.table_name),
    index: Number(r.chunk_index),
    lower: decodeKeyTuple(r.lower_bound === null ? null : String(r.lower_bound)),
    upper: decodeKeyTuple(r.upper_bound === null ? null : String(r.upper_bound)),
    fileKey: r.file_key === null ? null : String(r.file_key),
    fileBytes: Number(r.file_bytes),
    dumpedRows: Number(r.dumped_rows),
    dumped: r.dumped_at !== null,
    loadOffset: Number(r.load_offset),
    loadedRows: Number(r.loaded_rows),
    loaded: r.loaded_at !== null,
    resumeKey: decodeKeyTuple(r.resume_key === null || r.resume_key === undefined ? null : String(r.resume_key)),
  };
}

export async function readChunk(db: Queryable, meta: MetaTables, key: ChunkKey): Promise<ChunkRecord | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM ${metaName(meta, 'chunks')} WHERE ${CHUNK_WHERE}`, chunkParams(key));
  return rows[0] ? toChunk(rows[0]) : undefined;
}

/** Chunks of one source still to dump or load, for re-enqueueing after a restart. */
export async function readUnfinishedChunks(db: Queryable, meta: MetaTables, sourceId: string): Promise<ChunkRecord[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT * FROM ${metaName(meta, 'chunks')} WHERE source_id = ? AND loaded_at IS NULL
     ORDER BY schema_name, table_name, chunk_index`,
    [sourceId],
  );
  return rows.map(toChunk);
}

function toTable(r: RowDataPacket): TableRecord {
  return {
    sourceId: String(r.source_id),
    schema: String(r.schema_name),
    table: String(r.table_name),
    target: { schema: String(r.target_schema), table: String(r.target_table) },
    createSql: String(r.create_sql),
    columns: JSON.parse(String(r.column_list)) as ColumnInfo[],
    splitKey: JSON.parse(String(r.split_key)) as string[],
    splitKind: String(r.split_kind) as SplitKind,
    estimatedRows: Number(r.estimated_rows),
    chunkCount: Number(r.chunk_count),
  };
}

export async function readTable(
  db: Queryable,
  meta: MetaTables,
  ref: { sourceId: string; schema: string; table: string },
): Promise<TableRecord | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT * FROM ${metaName(meta, 'tables')} WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
    [ref.sourceId, ref.schema, ref.table],
  );
  return rows[0] ? toTable(rows[0]) : undefined;
}

/**
 * Claim the dump of a chunk for one file. Only the first finished attempt wins; a slower
 * duplicate attempt (a stalled job re-run elsewhere) gets false and must discard its file, so
 * the file a load reads never changes under it. A chunk a direct copy has begun to write
 * (load_offset > 0) is not claimed either: its rows resume from its key, never from a file.
 */
export async function markChunkDumped(
  db: Queryable,
  meta: MetaTables,
  key: ChunkKey,
  result: { fileKey: string; bytes: number; rows: number },
): Promise<boolean> {
  const [res] = await db.query<ResultSetHeader>(
    `UPDATE ${metaName(meta, 'chunks')} SET file_key = ?, file_bytes = ?, dumped_rows = ?, dumped_at = NOW(3)
     WHERE ${CHUNK_WHERE} AND dumped_at IS NULL AND load_offset = 0`,
    [result.fileKey, result.bytes, result.rows, ...chunkParams(key)],
  );
  return res.affectedRows === 1;
}

/**
 * Last statement of every load transaction, under the lock `lockChunkAt` took: moves the chunk's
 * offset forward only if nobody else did.
 */
export async function advanceLoadOffset(
  conn: PoolConnection | Connection,
  meta: MetaTables,
  key: ChunkKey,
  step: { from: number; to: number; rows: number; done: boolean },
): Promise<boolean> {
  const [res] = await conn.query<ResultSetHeader>(
    `UPDATE ${metaName(meta, 'chunks')}
     SET load_offset = ?, loaded_rows = loaded_rows + ?, loaded_at = IF(?, NOW(3), NULL)
     WHERE ${CHUNK_WHERE} AND load_offset = ? AND loaded_at IS NULL`,
    [step.to, step.rows, step.done, ...chunkParams(key), step.from],
  );
  return res.affectedRows === 1;
}

/**
 * First statement of every load and direct-copy transaction: locks the chunk's row and says
 * whether the copy still stands at `offset`, unfinished. A concurrent duplicate of the job waits
 * here and then sees it moved on.
 */
export async function lockChunkAt(conn: PoolConnection | Connection, meta: MetaTables, key: ChunkKey, offset: number): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT * FROM ${metaName(meta, 'chunks')} WHERE ${CHUNK_WHERE} FOR UPDATE`,
    chunkParams(key),
  );
  const chunk = rows[0] ? toChunk(rows[0]) : undefined;
  return chunk !== undefined && !chunk.loaded && chunk.loadOffset === offset;
}

/**
 * Last statement of a direct-copy transaction, under the lock `lockChunkAt` took: the rows read
 * and written so far (their bytes as SQL text, their count, the key of the last), and, with the
 * last rows of the chunk, its dump and load marks at once.
 */
export async function recordCopyStep(
  conn: PoolConnection | Connection,
  meta: MetaTables,
  key: ChunkKey,
  step: { bytes: number; rows: number; resumeKey: KeyValue[] | null; done: boolean },
): Promise<void> {
  await conn.query(
    `UPDATE ${metaName(meta, 'chunks')}
     SET load_offset = ?, file_bytes = ?, loaded_rows = ?, dumped_rows = ?, resume_key = ?,
         loaded_at = IF(?, NOW(3), NULL), dumped_at = IF(?, NOW(3), NULL)
     WHERE ${CHUNK_WHERE}`,
    [step.bytes, step.bytes, step.rows, step.rows, encodeKeyTuple(step.resumeKey), step.done, step.done, ...chunkParams(key)],
  );
}

/** Record where the source's binlog stood once every chunk was read (set once). */
export async function recordHighWatermark(db: Queryable, meta: MetaTables, sourceId: string, high: BinlogPosition | null): Promise<void> {
  await db.query(
    `UPDATE ${metaName(meta, 'dumpMeta')} SET high_binlog_name = ?, high_binlog_pos = ?, high_binlog_gtid = ?, dumped_at = NOW(3)
     WHERE source_id = ? AND dumped_at IS NULL`,
    [high?.file ?? null, high?.pos ?? null, high?.gtid ?? null, sourceId],
  );
}

export interface CopyProgress {
  sourceId: string;
  totalTables: number;
  /** Tables whose chunks are all dumped. */
  dumpedTables: number;
  /** Tables whose chunks are all loaded. */
  loadedTables: number;
  totalChunks: number;
  dumpedChunks: number;
  loadedChunks: number;
  dumpedRows: number;
  dumpedBytes: number;
  loadedRows: number;
  loadedBytes: number;
  estimatedRows: number;
}

export async function readCopyProgress(db: Queryable, meta: MetaTables): Promise<Map<string, CopyProgress>> {
  const [chunkRows] = await db.query<RowDataPacket[]>(
    `SELECT source_id, schema_name, table_name, COUNT(*) AS chunks, COUNT(dumped_at) AS dumped, COUNT(loaded_at) AS loaded,
            SUM(dumped_rows) AS dumped_rows, SUM(file_bytes) AS dumped_bytes, SUM(loaded_rows) AS loaded_rows,
            SUM(load_offset) AS loaded_bytes
     FROM ${metaName(meta, 'chunks')} GROUP BY source_id, schema_name, table_name`,
  );
  const [tableRows] = await db.query<RowDataPacket[]>(
    `SELECT source_id, SUM(estimated_rows) AS est FROM ${metaName(meta, 'tables')} GROUP BY source_id`,
  );
  const progress = new Map<string, CopyProgress>();
  for (const r of chunkRows) {
    const sourceId = String(r.source_id);
    const p = progress.get(sourceId) ?? {
      sourceId,
      totalTables: 0,
      dumpedTables: 0,
      loadedTables: 0,
      totalChunks: 0,
      dumpedChunks: 0,
      loadedChunks: 0,
      dumpedRows: 0,
      dumpedBytes: 0,
      loadedRows: 0,
      loadedBytes: 0,
      estimatedRows: 0,
    };
    p.totalTables += 1;
    p.totalChunks += Number(r.chunks);
    p.dumpedChunks += Number(r.dumped);
    p.loadedChunks += Number(r.loaded);
    if (Number(r.dumped) === Number(r.chunks)) p.dumpedTables += 1;
    if (Number(r.loaded) === Number(r.chunks)) p.loadedTables += 1;
    p.dumpedRows += Number(r.dumped_rows);
    p.dumpedBytes += Number(r.dumped_bytes);
    p.loadedRows += Number(r.loaded_rows);
    p.loadedBytes += Number(r.loaded_bytes);
    progress.set(sourceId, p);
  }
  for (const r of tableRows) {
    const p = progress.get(String(r.source_id));
    if (p) p.estimatedRows = Number(r.est);
  }
  return progress;
}
