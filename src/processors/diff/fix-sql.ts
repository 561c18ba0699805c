import type { TableRef } from '../../shared/config/types.js';
import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import { literalEncoder, quoteString } from '../dump/sql-literal.js';
import type { RawRow, RowDifference } from './row-compare.js';

/**
 * The statements that make one target row equal to the source, as sync-diff-inspector's fix SQL:
 * a missing or changed row is written whole with REPLACE (by its key), an extra one deleted by
 * its key. Without a key a row is its own key: INSERT once per missing copy, DELETE … LIMIT 1
 * once per extra copy. Values are the literals the copy writes (exact for every type).
 */
export function fixStatements(target: TableRef, key: ColumnInfo[], columns: ColumnInfo[], difference: RowDifference): string[] {
  const table = qualify(target.schema, target.table);
  const encoders = columns.map(literalEncoder);
  const literals = (row: RawRow) => row.map((raw, i) => encoders[i]!(raw ?? null));
  if (difference.kind !== 'extra') {
    const verb = key.length > 0 ? 'REPLACE' : 'INSERT';
    const statement = `${verb} INTO ${table} (${columns.map((c) => quoteId(c.name)).join(', ')}) VALUES (${literals(difference.row).join(', ')});`;
    return Array.from({ length: difference.count }, () => statement);
  }
  const values = literals(difference.row);
  if (key.length > 0) {
    const where = key.map((k) => `${quoteId(k.name)} = ${values[columns.findIndex((c) => c.name === k.name)]}`);
    return [`DELETE FROM ${table} WHERE ${where.join(' AND ')};`];
  }
  // <=> matches NULL to NULL, which a keyless row may hold.
  const where = columns.map((c, i) => `${quoteId(c.name)} <=> ${values[i]}`);
  return Array.from({ length: difference.count }, () => `DELETE FROM ${table} WHERE ${where.join(' AND ')} LIMIT 1;`);
}

/** The fix file opens with the session the values were read in: the copy's sql_mode and time zone. */
export function fixHeader(task: string, timeZone: string): string[] {
  return [
    `-- dmq diff of task ${JSON.stringify(task)}: statements that make the target equal to the source.`,
    '-- Review them, then run them on the target while the task is paused, or where replication will not change these rows.',
    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';",
    `SET SESSION time_zone = ${quoteString(timeZone)};`,
  ];
}
