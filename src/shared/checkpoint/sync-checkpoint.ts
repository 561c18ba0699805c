import type { RowDataPacket } from 'mysql2/promise';
import { compareCoords, type BinlogCoord, type BinlogPosition } from '../binlog/position.js';
import type { Queryable } from '../sql/connect.js';
import type { SqlStatement } from '../sql/script.js';
import { metaName, type MetaTables } from './meta-schema.js';

/**
 * DM's `<task>_syncer_checkpoint`: one row per (source, table) saying up to which binlog
 * coordinate that table's changes are applied, written in the same transaction as the
 * changes; and one global row per source (empty schema and table) saying where the binlog
 * reader may resume without missing anything.
 */
function syncCheckpointName(meta: MetaTables): string {
  return metaName(meta, 'syncer');
}

export interface TableSyncRef {
  sourceId: string;
  schema: string;
  table: string;
}

function toCoord(r: RowDataPacket): BinlogCoord {
  const coord: BinlogCoord = { file: String(r.binlog_name), pos: Number(r.binlog_pos) };
  if (Number(r.binlog_part) > 0) coord.part = Number(r.binlog_part);
  return coord;
}

/** Locks the table's row for the transaction; `readLockedCheckpoint` reads its result. */
export function lockTableCheckpointStatement(meta: MetaTables, ref: TableSyncRef): SqlStatement {
  return {
    sql: `SELECT binlog_name, binlog_pos, binlog_part FROM ${syncCheckpointName(meta)}
     WHERE source_id = ? AND schema_name = ? AND table_name = ? FOR UPDATE`,
    values: [ref.sourceId, ref.schema, ref.table],
  };
}

/** Reads the table's row without locking it (a lane's applier reads where its table's joins stand); `readLockedCheckpoint` reads its result. */
export function readTableCheckpointStatement(meta: MetaTables, ref: TableSyncRef): SqlStatement {
  return {
    sql: `SELECT binlog_name, binlog_pos, binlog_part FROM ${syncCheckpointName(meta)} WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
    values: [ref.sourceId, ref.schema, ref.table],
  };
}

/**
 * Creates a table's row at `coord` unless it exists, locking it either way: a first batch
 * (incremental mode) must lock a row that is there, because on MySQL and MariaDB a locking
 * read of a missing row in READ COMMITTED locks nothing, and two deliveries would both apply.
 * The no-op update takes the row's exclusive lock at once; INSERT IGNORE would take a shared
 * one, and two deliveries upgrading it would deadlock.
 */
export function createTableCheckpointStatement(meta: MetaTables, ref: TableSyncRef, coord: BinlogCoord): SqlStatement {
  return {
    sql: `INSERT INTO ${syncCheckpointName(meta)} (source_id, schema_name, table_name, binlog_name, binlog_pos, binlog_part, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, NOW(3)) ON DUPLICATE KEY UPDATE source_id = source_id`,
    values: [ref.sourceId, ref.schema, ref.table, coord.file, coord.pos, coord.part ?? 0],
  };
}

/**
 * Moves a table's row from `from` to `to`, and only from there (its affected rows say whether it
 * did): a late writer that finds the table elsewhere moves nothing, least of all backwards.
 */
export function moveTableCheckpointStatement(
  meta: MetaTables,
  ref: TableSyncRef,
  from: BinlogCoord,
  to: BinlogCoord,
  gtid: string | null,
): SqlStatement {
  return {
    sql: `UPDATE ${syncCheckpointName(meta)} SET binlog_name = ?, binlog_pos = ?, binlog_part = ?, binlog_gtid = ?, updated_at = NOW(3)
     WHERE source_id = ? AND schema_name = ? AND table_name = ? AND binlog_name = ? AND binlog_pos = ? AND binlog_part = ?`,
    values: [to.file, to.pos, to.part ?? 0, gtid, ref.sourceId, ref.schema, ref.table, from.file, from.pos, from.part ?? 0],
  };
}

/** Where a table stands, without locking its row; undefined: no row yet. */
export async function readTableCheckpoint(db: Queryable, meta: MetaTables, ref: TableSyncRef): Promise<BinlogCoord | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT binlog_name, binlog_pos, binlog_part FROM ${syncCheckpointName(meta)} WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
    [ref.sourceId, ref.schema, ref.table],
  );
  return rows[0] ? toCoord(rows[0]) : undefined;
}

/** Where the locked table stands; undefined: no row yet. */
export function readLockedCheckpoint(rows: RowDataPacket[]): BinlogCoord | undefined {
  return rows[0] ? toCoord(rows[0]) : undefined;
}

export function writeTableCheckpointStatement(meta: MetaTables, ref: TableSyncRef, coord: BinlogCoord, gtid: string | null): SqlStatement {
  return {
    sql: `INSERT INTO ${syncCheckpointName(meta)} (source_id, schema_name, table_name, binlog_name, binlog_pos, binlog_part, binlog_gtid, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NOW(3))
     ON DUPLICATE KEY UPDATE binlog_name = VALUES(binlog_name), binlog_pos = VALUES(binlog_pos),
       binlog_part = VALUES(binlog_part), binlog_gtid = VALUES(binlog_gtid), updated_at = VALUES(updated_at)`,
    values: [ref.sourceId, ref.schema, ref.table, coord.file, coord.pos, coord.part ?? 0, gtid],
  };
}

/**
 * The copy hands a table to sync at the source's low watermark; never moves an existing row back.
 * The watermark's GTID set goes with it, so a switch of server knows what the table holds.
 */
export async function startTableSync(db: Queryable, meta: MetaTables, ref: TableSyncRef, low: BinlogPosition): Promise<void> {
  await db.query(
    `INSERT IGNORE INTO ${syncCheckpointName(meta)} (source_id, schema_name, table_name, binlog_name, binlog_pos, binlog_part, binlog_gtid, updated_at)
     VALUES (?, ?, ?, ?, ?, 0, ?, NOW(3))`,
    [ref.sourceId, ref.schema, ref.table, low.file, low.pos, low.gtid === '' ? null : low.gtid],
  );
}

export interface GlobalCheckpoint {
  coord: BinlogCoord;
  gtid: string | null;
  /** Which server the coordinates are of (server-switch.ts); null: written before dmq recorded it. */
  server: string | null;
}

interface SourceSyncState {
  global: GlobalCheckpoint | undefined;
  tables: Map<string, BinlogCoord>;
  /** Each table row's GTID set: every transaction applied to the table, up to the one its coordinate is in. */
  gtids: Map<string, string | null>;
}

export const tableKey = (schema: string, table: string) => JSON.stringify([schema, table]);

const gtidOf = (r: RowDataPacket) => (r.binlog_gtid === null || r.binlog_gtid === '' ? null : String(r.binlog_gtid));

export async function readSourceSync(db: Queryable, meta: MetaTables, sourceId: string): Promise<SourceSyncState> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM ${syncCheckpointName(meta)} WHERE source_id = ?`, [sourceId]);
  const state: SourceSyncState = { global: undefined, tables: new Map(), gtids: new Map() };
  for (const r of rows) {
    if (Number(r.is_global) === 1)
      state.global = { coord: toCoord(r), gtid: gtidOf(r), server: r.binlog_server === null ? null : String(r.binlog_server) };
    else {
      const key = tableKey(String(r.schema_name), String(r.table_name));
      state.tables.set(key, toCoord(r));
      state.gtids.set(key, gtidOf(r));
    }
  }
  return state;
}

/** Where the binlog reader may resume, on server `server`: only ever forward. */
export async function writeGlobalCheckpoint(db: Queryable, meta: MetaTables, sourceId: string, to: GlobalCheckpoint): Promise<void> {
  const current = (await readSourceSync(db, meta, sourceId)).global;
  // Another server's coordinates do not compare; a row from before dmq recorded servers is this one's.
  if (current && compareCoords(current.coord, to.coord) >= 0 && (current.server === to.server || current.server === null)) return;
  await db.query(
    `INSERT INTO ${syncCheckpointName(meta)} (source_id, schema_name, table_name, binlog_name, binlog_pos, binlog_part, binlog_gtid, is_global, updated_at, binlog_server)
     VALUES (?, '', '', ?, ?, 0, ?, 1, NOW(3), ?)
     ON DUPLICATE KEY UPDATE binlog_name = VALUES(binlog_name), binlog_pos = VALUES(binlog_pos),
       binlog_gtid = VALUES(binlog_gtid), updated_at = VALUES(updated_at), binlog_server = VALUES(binlog_server)`,
    [sourceId, to.coord.file, to.coord.pos, to.gtid, to.server],
  );
}
