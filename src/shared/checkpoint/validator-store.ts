import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { BatchTable, RowOp } from '../binlog/batch.js';
import type { EncodedValue } from '../binlog/payload-values.js';
import type { TableRef } from '../config/types.js';
import type { Queryable } from '../sql/connect.js';
import type { SqlStatement } from '../sql/script.js';
import type { PendingChange } from '../validation/pending-change.js';
import { metaName, type MetaTables } from './meta-schema.js';

/**
 * The continuous validator's state on the target, beside the other checkpoints: the changes
 * waiting to be compared (written by the applier with the changes themselves), the rows that
 * did not match, and per source the position validated to and the rows counted.
 */

/** DM's error states, as dmctl prints them. */
export type ErrorStatus = 'NewErr' | 'IgnoredErr' | 'ResolvedErr';
/** DM's words for what was wrong with a row. */
export type FailureKind = 'Deleted rows exist' | 'Expected rows not exist' | 'Column data not matched';

/** Row images per recording statement, at most: a statement stays far below any max_allowed_packet. */
const RECORD_STATEMENT_BYTES = 1 << 20;

/** Records `changes` (of one source table) for validation; in the transaction that applies them. */
export function recordPendingStatements(meta: MetaTables, table: BatchTable, changes: PendingChange[]): SqlStatement[] {
  const columns = JSON.stringify(table.columns);
  const statements: SqlStatement[] = [];
  let rows: unknown[][] = [];
  let bytes = 0;
  const flush = () => {
    if (rows.length === 0) return;
    statements.push({
      sql: `INSERT INTO ${metaName(meta, 'validatorPending')}
      (source_id, schema_name, table_name, key_hash, row_key, target_schema, target_table, column_list, op, row_image, binlog_coord, event_time, applied_at)
      VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3))').join(', ')}
      ON DUPLICATE KEY UPDATE target_schema = VALUES(target_schema), target_table = VALUES(target_table),
        column_list = VALUES(column_list), op = VALUES(op), row_image = VALUES(row_image),
        binlog_coord = VALUES(binlog_coord), event_time = VALUES(event_time), applied_at = VALUES(applied_at)`,
      values: rows.flat(),
    });
    rows = [];
    bytes = 0;
  };
  for (const c of changes) {
    const image = JSON.stringify(c.image);
    if (bytes > 0 && bytes + image.length > RECORD_STATEMENT_BYTES) flush();
    rows.push([
      table.sourceId,
      table.schema,
      table.table,
      c.keyHash,
      c.rowKey,
      table.target.schema,
      table.target.table,
      columns,
      c.op,
      image,
      c.coord,
      c.eventTime,
    ]);
    bytes += image.length + c.rowKey.length + columns.length;
  }
  flush();
  return statements;
}

export interface PendingRow extends PendingChange {
  sourceId: string;
  schema: string;
  table: string;
  target: TableRef;
  columns: string[];
  /** Since the change was applied, on the target's clock. */
  ageMs: number;
}

export async function readPendingPage(
  db: Queryable,
  meta: MetaTables,
  sourceId: string,
  /** The key_hash the previous page ended at. */
  after: string | undefined,
  limit: number,
): Promise<PendingRow[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT schema_name, table_name, key_hash, row_key, target_schema, target_table, column_list, op, row_image, binlog_coord,
        event_time, TIMESTAMPDIFF(MICROSECOND, applied_at, NOW(3)) DIV 1000 AS age_ms
      FROM ${metaName(meta, 'validatorPending')}
      WHERE source_id = ?${after ? ' AND key_hash > ?' : ''} ORDER BY key_hash LIMIT ?`,
    [sourceId, ...(after ? [after] : []), limit],
  );
  return rows.map((r) => ({
    sourceId,
    schema: String(r.schema_name),
    table: String(r.table_name),
    keyHash: String(r.key_hash),
    rowKey: String(r.row_key),
    target: { schema: String(r.target_schema), table: String(r.target_table) },
    columns: JSON.parse(String(r.column_list)) as string[],
    op: String(r.op) as RowOp,
    image: JSON.parse(String(r.row_image)) as EncodedValue[],
    coord: String(r.binlog_coord),
    eventTime: Number(r.event_time),
    ageMs: Number(r.age_ms),
  }));
}

const pendingMatch = (rows: PendingRow[]) => ({
  sql: rows.map(() => '(key_hash = ? AND binlog_coord = ?)').join(' OR '),
  values: rows.flatMap((r) => [r.keyHash, r.coord]),
});

/**
 * Drops pending rows that were validated. Only if they still hold the change that was compared:
 * one the applier replaced meanwhile waits for the next round.
 */
export async function deletePending(db: Queryable, meta: MetaTables, sourceId: string, rows: PendingRow[]): Promise<void> {
  if (rows.length === 0) return;
  const match = pendingMatch(rows);
  await db.query(`DELETE FROM ${metaName(meta, 'validatorPending')} WHERE source_id = ? AND (${match.sql})`, [sourceId, ...match.values]);
}

export interface RowFailure {
  row: PendingRow;
  kind: FailureKind;
  /** The source's row as JSON text (column → value). */
  srcData: string;
  /** The target's row as JSON text; null when there is none. */
  dstData: string | null;
  /** The columns whose values differ (Column data not matched). */
  differ: string[];
}

/**
 * Moves a row that failed for row-error-delay from pending to the errors, in one transaction,
 * unless the applier replaced its change meanwhile. A key that failed before is reported again
 * as new, with the latest images.
 */
export async function reportFailure(pool: Pool, meta: MetaTables, failure: RowFailure): Promise<boolean> {
  const { row } = failure;
  const conn = await pool.getConnection();
  try {
    await conn.query('START TRANSACTION');
    const match = pendingMatch([row]);
    const [deleted] = await conn.query(`DELETE FROM ${metaName(meta, 'validatorPending')} WHERE source_id = ? AND ${match.sql}`, [
      row.sourceId,
      ...match.values,
    ]);
    const moved = (deleted as { affectedRows: number }).affectedRows > 0;
    if (moved) {
      await conn.query(
        `INSERT INTO ${metaName(meta, 'validatorErrors')}
          (source_id, schema_name, table_name, key_hash, row_key, target_schema, target_table, src_data, dst_data, error_type, differ,
           status, binlog_coord, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'NewErr', ?, NOW(3), NOW(3))
          ON DUPLICATE KEY UPDATE row_key = VALUES(row_key), target_schema = VALUES(target_schema), target_table = VALUES(target_table),
            src_data = VALUES(src_data), dst_data = VALUES(dst_data), error_type = VALUES(error_type), differ = VALUES(differ),
            status = 'NewErr',
            binlog_coord = VALUES(binlog_coord), updated_at = NOW(3)`,
        [
          row.sourceId,
          row.schema,
          row.table,
          row.keyHash,
          row.rowKey,
          row.target.schema,
          row.target.table,
          failure.srcData,
          failure.dstData,
          failure.kind,
          JSON.stringify(failure.differ),
          row.coord,
        ],
      );
    }
    await conn.query('COMMIT');
    return moved;
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

export interface PendingSummary {
  insert: number;
  update: number;
  delete: number;
  bytes: number;
  /** Source time of the oldest pending change (ms); undefined when none waits. */
  oldestEventTime?: number;
}

export async function readPendingSummary(db: Queryable, meta: MetaTables, sourceId: string): Promise<PendingSummary> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT op, COUNT(*) AS n, COALESCE(SUM(LENGTH(row_image)), 0) AS bytes, MIN(event_time) AS oldest
      FROM ${metaName(meta, 'validatorPending')} WHERE source_id = ? GROUP BY op`,
    [sourceId],
  );
  const summary: PendingSummary = { insert: 0, update: 0, delete: 0, bytes: 0 };
  for (const r of rows) {
    summary[String(r.op) as RowOp] = Number(r.n);
    summary.bytes += Number(r.bytes);
    const oldest = Number(r.oldest);
    if (summary.oldestEventTime === undefined || oldest < summary.oldestEventTime) summary.oldestEventTime = oldest;
  }
  return summary;
}

export interface ValidatorCheckpoint {
  /** Every change recorded up to this binlog coordinate has been validated. */
  coord: string | null;
  processed: Record<RowOp, number>;
}

export async function readValidatorCheckpoint(db: Queryable, meta: MetaTables, sourceId: string): Promise<ValidatorCheckpoint> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT binlog_coord, procd_ins, procd_upd, procd_del FROM ${metaName(meta, 'validatorCheckpoint')} WHERE source_id = ?`,
    [sourceId],
  );
  const r = rows[0];
  return {
    coord: r?.binlog_coord ? String(r.binlog_coord) : null,
    processed: { insert: Number(r?.procd_ins ?? 0), update: Number(r?.procd_upd ?? 0), delete: Number(r?.procd_del ?? 0) },
  };
}

/** Adds `counted` to the rows processed and moves the position (never back to nothing). */
export async function writeValidatorCheckpoint(
  db: Queryable,
  meta: MetaTables,
  sourceId: string,
  coord: string | null,
  counted: Record<RowOp, number>,
): Promise<void> {
  await db.query(
    `INSERT INTO ${metaName(meta, 'validatorCheckpoint')} (source_id, binlog_coord, procd_ins, procd_upd, procd_del, updated_at)
      VALUES (?, ?, ?, ?, ?, NOW(3))
      ON DUPLICATE KEY UPDATE binlog_coord = COALESCE(VALUES(binlog_coord), binlog_coord), procd_ins = procd_ins + VALUES(procd_ins),
        procd_upd = procd_upd + VALUES(procd_upd), procd_del = procd_del + VALUES(procd_del), updated_at = NOW(3)`,
    [sourceId, coord, counted.insert, counted.update, counted.delete],
  );
}

export async function readErrorCounts(db: Queryable, meta: MetaTables, sourceId: string): Promise<Record<ErrorStatus, number>> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT status, COUNT(*) AS n FROM ${metaName(meta, 'validatorErrors')} WHERE source_id = ? GROUP BY status`,
    [sourceId],
  );
  const counts: Record<ErrorStatus, number> = { NewErr: 0, IgnoredErr: 0, ResolvedErr: 0 };
  for (const r of rows) counts[String(r.status) as ErrorStatus] = Number(r.n);
  return counts;
}

/** One row of `dmq validation show-error`, in DM's shape. */
export interface ValidationErrorRow {
  id: string;
  source: string;
  srcTable: string;
  srcData: string;
  dstTable: string;
  dstData: string;
  errorType: string;
  status: ErrorStatus;
  time: string;
  message: string;
}

function errorMessage(r: RowDataPacket): string {
  const differ = JSON.parse(String(r.differ ?? '[]')) as string[];
  const columns = differ.length > 0 ? `; columns that differ: ${differ.join(', ')}` : '';
  return `row key ${String(r.row_key)}, changed at ${String(r.binlog_coord)}${columns}`;
}

const label = (schema: unknown, table: unknown) => `\`${String(schema)}\`.\`${String(table)}\``;

/** The errors in `statuses` (all when empty), oldest first. */
export async function listValidationErrors(db: Queryable, meta: MetaTables, statuses: ErrorStatus[]): Promise<ValidationErrorRow[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT id, source_id, schema_name, table_name, row_key, target_schema, target_table, src_data, dst_data, error_type, differ, status,
        binlog_coord, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') AS time
      FROM ${metaName(meta, 'validatorErrors')}${statuses.length > 0 ? ' WHERE status IN (?)' : ''} ORDER BY id`,
    statuses.length > 0 ? [statuses] : [],
  );
  return rows.map((r) => ({
    id: String(r.id),
    source: String(r.source_id),
    srcTable: label(r.schema_name, r.table_name),
    srcData: String(r.src_data),
    dstTable: label(r.target_schema, r.target_table),
    dstData: r.dst_data === null ? '' : String(r.dst_data),
    errorType: String(r.error_type),
    status: String(r.status) as ErrorStatus,
    time: String(r.time),
    message: errorMessage(r),
  }));
}

export type ErrorOperation = 'ignore' | 'resolve' | 'clear';

/** `ignore-error`, `resolve-error`, `clear-error` on one error id or all; how many rows changed. */
export async function operateValidationErrors(db: Queryable, meta: MetaTables, op: ErrorOperation, id: number | 'all'): Promise<number> {
  const where = id === 'all' ? '' : ' WHERE id = ?';
  const values = id === 'all' ? [] : [id];
  const table = metaName(meta, 'validatorErrors');
  const sql =
    op === 'clear'
      ? `DELETE FROM ${table}${where}`
      : `UPDATE ${table} SET status = '${op === 'ignore' ? 'IgnoredErr' : 'ResolvedErr'}', updated_at = NOW(3)${where}`;
  const [result] = await db.query(sql, values);
  return (result as { affectedRows: number }).affectedRows;
}
