import { createHash } from 'node:crypto';
import type { Batch, BatchTable, RowOp } from '../binlog/batch.js';
import type { EncodedValue } from '../binlog/payload-values.js';

/**
 * What the validator must find on the target for one row key after a change: the row as its
 * last image says (insert, update) or no row (delete). The applier records one per key it
 * changed, in the transaction that changes it, so what waits for validation is exactly what
 * was applied.
 */
export interface PendingChange {
  /** The key as [column, value] pairs, JSON: stored, compared and shown. */
  rowKey: string;
  /** Digest of the source table and the key: identifies the row among the source's. */
  keyHash: string;
  op: RowOp;
  /** The row after the change; for a delete, the row it removed. */
  image: EncodedValue[];
  coord: string;
  /** Source time of the change (ms). */
  eventTime: number;
}

export const keyDigest = (schema: string, table: string, rowKey: string) =>
  createHash('sha1')
    .update(JSON.stringify([schema, table, rowKey]))
    .digest('hex');

function keyOf(columns: string[], keyIndexes: number[], row: EncodedValue[]): string {
  return JSON.stringify(keyIndexes.map((i) => [columns[i]!, row[i] ?? null]));
}

/**
 * The changes of `batches` (in order, already applied) as one pending change per row key, the
 * last winning. An update that moves a row to another key leaves the old key deleted. Tables
 * without a key cannot be looked up and are not validated (as in DM); nor are changes older than
 * `since` (ms), the validator's start time.
 */
export function pendingChanges(table: BatchTable, key: string[], batches: Batch[], since?: number): PendingChange[] {
  const { columns } = table;
  const keyIndexes = key.map((k) => columns.indexOf(k));
  if (keyIndexes.length === 0 || keyIndexes.includes(-1)) return [];
  const byKey = new Map<string, PendingChange>();
  const put = (op: RowOp, image: EncodedValue[], batch: Batch) => {
    const rowKey = keyOf(columns, keyIndexes, image);
    byKey.delete(rowKey);
    byKey.set(rowKey, {
      rowKey,
      keyHash: keyDigest(table.schema, table.table, rowKey),
      op,
      image,
      coord: batch.coord,
      eventTime: batch.eventTime,
    });
  };
  for (const batch of batches) {
    if (batch.ddl || (since !== undefined && batch.eventTime < since)) continue;
    for (const change of batch.changes) {
      if (change.op === 'delete') {
        put('delete', change.before!, batch);
        continue;
      }
      const after = change.after!;
      if (change.op === 'update' && change.before) {
        const before = change.before;
        if (keyOf(columns, keyIndexes, before) !== keyOf(columns, keyIndexes, after)) put('delete', before, batch);
      }
      put(change.op, after, batch);
    }
  }
  return [...byKey.values()];
}
