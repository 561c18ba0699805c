import type { RowDataPacket } from 'mysql2/promise';
import type { LaneRef } from '../binlog/batch.js';
import { compareCoords, type BinlogCoord } from '../binlog/position.js';
import type { Queryable } from '../sql/connect.js';
import type { SqlStatement } from '../sql/script.js';
import { metaName, type MetaTables } from './meta-schema.js';
import { readSourceSync, readTableCheckpoint, tableKey, type TableSyncRef } from './sync-checkpoint.js';

/**
 * `<task>_syncer_lane`: one row per lane of a table whose changes apply on several lanes, saying
 * up to which binlog coordinate that lane's batches are applied. The table's own row in
 * `<task>_syncer_checkpoint` holds its joins (DDLs, changes that could meet another lane's rows),
 * which wait for every lane; a lane stands at its own row or its table's, whichever is further.
 * Rows are kept per lane count: lanes of an earlier count tell which changes they applied.
 */

/** Where a lane row is made: before any coordinate, so the lane stands where its table stands. */
const LANE_ORIGIN: BinlogCoord = { file: '', pos: 0 };

/** The lane rows of one table for one lane count. */
export interface TableLanes {
  count: number;
  at: Map<number, BinlogCoord>;
}

/** Every checkpoint of a source's tables: the tables' own rows and their lanes' rows (by table key). */
export interface SyncPositions {
  tables: Map<string, BinlogCoord>;
  lanes: Map<string, TableLanes[]>;
}

function toCoord(r: RowDataPacket): BinlogCoord | undefined {
  if (String(r.binlog_name) === '') return undefined;
  const coord: BinlogCoord = { file: String(r.binlog_name), pos: Number(r.binlog_pos) };
  if (Number(r.binlog_part) > 0) coord.part = Number(r.binlog_part);
  return coord;
}

/** Where a lane stands: its own row or its table's, whichever is further. */
export function laneStands(laneAt: BinlogCoord | undefined, tableAt: BinlogCoord | undefined): BinlogCoord | undefined {
  if (!laneAt) return tableAt;
  if (!tableAt) return undefined;
  return compareCoords(laneAt, tableAt) > 0 ? laneAt : tableAt;
}

/** Where a table's chain (no lane) or one of its lanes stands. */
export function positionOf(positions: SyncPositions, schema: string, table: string, lane?: LaneRef): BinlogCoord | undefined {
  const key = tableKey(schema, table);
  const tableAt = positions.tables.get(key);
  if (!lane) return tableAt;
  const rows = positions.lanes.get(key)?.find((l) => l.count === lane.count);
  return laneStands(rows?.at.get(lane.index), tableAt);
}

const where = 'source_id = ? AND schema_name = ? AND table_name = ? AND lane_count = ? AND lane = ?';
const whereValues = (ref: TableSyncRef, lane: LaneRef) => [ref.sourceId, ref.schema, ref.table, lane.count, lane.index];

/**
 * Makes the lane's row unless it exists, at the origin, so that there is a row to lock (a
 * locking read of a missing row locks nothing in READ COMMITTED). Its affected rows say whether
 * it made one: then the row is newer than a reader fence raised meanwhile (see reader-fence.ts).
 */
export function createLaneCheckpointStatement(meta: MetaTables, ref: TableSyncRef, lane: LaneRef): SqlStatement {
  return {
    sql: `INSERT INTO ${metaName(meta, 'lanes')} (source_id, schema_name, table_name, lane_count, lane, binlog_name, binlog_pos, binlog_part, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, NOW(3)) ON DUPLICATE KEY UPDATE source_id = source_id`,
    values: [...whereValues(ref, lane), LANE_ORIGIN.file, LANE_ORIGIN.pos],
  };
}

/** Locks the lane's row; `readLockedLane` reads the result. */
export function lockLaneCheckpointStatement(meta: MetaTables, ref: TableSyncRef, lane: LaneRef): SqlStatement {
  return {
    sql: `SELECT binlog_name, binlog_pos, binlog_part FROM ${metaName(meta, 'lanes')} WHERE ${where} FOR UPDATE`,
    values: whereValues(ref, lane),
  };
}

/** The lane row a lock read: missing (no row yet), or where the lane's own batches stand (undefined: none yet). */
export function readLockedLane(rows: RowDataPacket[]): { exists: boolean; at: BinlogCoord | undefined } {
  return rows[0] ? { exists: true, at: toCoord(rows[0]) } : { exists: false, at: undefined };
}

export function writeLaneCheckpointStatement(
  meta: MetaTables,
  ref: TableSyncRef,
  lane: LaneRef,
  coord: BinlogCoord,
  gtid: string | null,
): SqlStatement {
  return {
    sql: `UPDATE ${metaName(meta, 'lanes')} SET binlog_name = ?, binlog_pos = ?, binlog_part = ?, binlog_gtid = ?, updated_at = NOW(3) WHERE ${where}`,
    values: [coord.file, coord.pos, coord.part ?? 0, gtid, ...whereValues(ref, lane)],
  };
}

/** Where a lane of a table stands, without locks; undefined: neither the lane nor the table has applied anything. */
export async function readLanePosition(
  db: Queryable,
  meta: MetaTables,
  ref: TableSyncRef,
  lane: LaneRef,
): Promise<BinlogCoord | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT binlog_name, binlog_pos, binlog_part FROM ${metaName(meta, 'lanes')} WHERE ${where}`,
    whereValues(ref, lane),
  );
  return laneStands(rows[0] ? toCoord(rows[0]) : undefined, await readTableCheckpoint(db, meta, ref));
}

/**
 * What a lane applied before a switch of server (server-switch.ts): its row stands at the
 * origin, and its GTID set says which transactions it holds.
 */
export interface SwitchedLane {
  count: number;
  index: number;
  gtid: string;
}

/** The rows of the source's tables and lanes, read at once. */
export async function readSyncPositions(
  db: Queryable,
  meta: MetaTables,
  sourceId: string,
): Promise<
  SyncPositions & Pick<Awaited<ReturnType<typeof readSourceSync>>, 'global' | 'gtids'> & { switchedLanes: Map<string, SwitchedLane[]> }
> {
  const sync = await readSourceSync(db, meta, sourceId);
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT schema_name, table_name, lane_count, lane, binlog_name, binlog_pos, binlog_part, binlog_gtid FROM ${metaName(meta, 'lanes')} WHERE source_id = ?`,
    [sourceId],
  );
  const lanes = new Map<string, TableLanes[]>();
  const switchedLanes = new Map<string, SwitchedLane[]>();
  for (const r of rows) {
    const at = toCoord(r);
    const key = tableKey(String(r.schema_name), String(r.table_name));
    if (!at) {
      if (r.binlog_gtid !== null && r.binlog_gtid !== '')
        switchedLanes.set(key, [
          ...(switchedLanes.get(key) ?? []),
          { count: Number(r.lane_count), index: Number(r.lane), gtid: String(r.binlog_gtid) },
        ]);
      continue;
    }
    const list = lanes.get(key) ?? [];
    let entry = list.find((l) => l.count === Number(r.lane_count));
    if (!entry) {
      entry = { count: Number(r.lane_count), at: new Map() };
      list.push(entry);
    }
    entry.at.set(Number(r.lane), at);
    lanes.set(key, list);
  }
  return { global: sync.global, tables: sync.tables, gtids: sync.gtids, lanes, switchedLanes };
}
