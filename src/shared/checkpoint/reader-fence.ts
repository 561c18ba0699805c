import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { SqlStatement } from '../sql/script.js';
import { metaName, type MetaTables } from './meta-schema.js';

/**
 * `<task>_reader_fence`: one row per source holding the epoch of its current binlog reader. A
 * reader raises it each time it connects, and every apply job carries the epoch of the reader
 * that cut it, so a reader that lost its Redis lease without noticing (paused, cut off) cannot
 * have its batches applied once another reader has started: the target, not Redis, decides.
 */

/**
 * Raises the source's epoch and returns it. First it locks every checkpoint row of the source
 * (tables' and lanes'), so it waits for appliers in flight (each holds its table's or lane's row): an apply that commits after
 * the new epoch is visible has read it, and the checkpoints the new reader reads next are final
 * for every job of an older epoch.
 */
export async function raiseReaderFence(pool: Pool, meta: MetaTables, sourceId: string, owner: string): Promise<number> {
  const conn = await pool.getConnection();
  try {
    const [results] = await conn.query(
      `SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION;
       SELECT source_id FROM ${metaName(meta, 'syncer')} WHERE source_id = ? FOR UPDATE;
       SELECT source_id FROM ${metaName(meta, 'lanes')} WHERE source_id = ? FOR UPDATE;
       INSERT INTO ${metaName(meta, 'fence')} (source_id, epoch, owner, updated_at) VALUES (?, 1, ?, NOW(3))
         ON DUPLICATE KEY UPDATE epoch = epoch + 1, owner = VALUES(owner), updated_at = VALUES(updated_at);
       SELECT epoch FROM ${metaName(meta, 'fence')} WHERE source_id = ?;
       COMMIT`,
      [sourceId, sourceId, sourceId, owner, sourceId],
    );
    return readFenceEpoch((results as unknown[])[5] as RowDataPacket[]);
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

/**
 * Reads the source's epoch inside an applier's transaction, after its checkpoint row is locked.
 * A plain read sees the latest committed epoch (READ COMMITTED, on TiDB too) and serialises
 * nothing: a raise waits for the row the applier holds. Only a table's first batch or a lane's,
 * whose checkpoint row the raise could not lock because it did not exist yet, locks the fence row
 * (`lock`), the one row a raise takes last.
 */
export function readFenceStatement(meta: MetaTables, sourceId: string, lock: boolean): SqlStatement {
  return { sql: `SELECT epoch FROM ${metaName(meta, 'fence')} WHERE source_id = ?${lock ? ' FOR UPDATE' : ''}`, values: [sourceId] };
}

/** The source's epoch as committed now. */
export async function readReaderFence(pool: Pool, meta: MetaTables, sourceId: string): Promise<number> {
  const { sql, values } = readFenceStatement(meta, sourceId, false);
  const [rows] = await pool.query<RowDataPacket[]>(sql, values);
  return readFenceEpoch(rows);
}

/** The epoch in a fence read; 0 before any reader of this release raised it. */
export function readFenceEpoch(rows: RowDataPacket[]): number {
  return rows[0] ? Number(rows[0].epoch) : 0;
}
