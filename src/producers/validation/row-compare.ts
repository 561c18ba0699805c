import { decodeRow, decodeValue, type EncodedValue, type RowValue } from '../../shared/binlog/payload-values.js';
import type { FailureKind, PendingRow, RowFailure } from '../../shared/checkpoint/validator-store.js';
import type { TableRef } from '../../shared/config/types.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import type { SqlStatement } from '../../shared/sql/script.js';

/**
 * Comparing pending changes with the target, as pure functions: which rows go in one query,
 * the query, and what its answer means. The target compares the values itself, with the same
 * literals the applier wrote them with, so a value compares as it was converted on its way in
 * (a FLOAT, a TIMESTAMP in the session's zone, a DECIMAL's scale) rather than as JavaScript
 * would read it back.
 */

export type CompareMode = 'full' | 'fast';

/** Target columns that need a literal of their own kind to compare: JSON and BIT, by name. */
export type TargetKind = 'json' | 'bit';

/** Pending rows of one target table with the same columns, compared in one query. */
export interface CompareGroup {
  target: TableRef;
  columns: string[];
  keyColumns: string[];
  rows: PendingRow[];
}

const keyPairs = (row: PendingRow) => JSON.parse(row.rowKey) as [string, EncodedValue][];

/** Groups `rows` by target table and shape, at most `size` rows a group. */
export function groupRows(rows: PendingRow[], size: number): CompareGroup[] {
  const groups = new Map<string, CompareGroup[]>();
  for (const row of rows) {
    const keyColumns = keyPairs(row).map(([column]) => column);
    const shape = JSON.stringify([row.target.schema, row.target.table, row.columns, keyColumns]);
    const list = groups.get(shape) ?? [];
    const last = list.at(-1);
    if (last && last.rows.length < size) last.rows.push(row);
    else list.push({ target: row.target, columns: row.columns, keyColumns, rows: [row] });
    groups.set(shape, list);
  }
  return [...groups.values()].flat();
}

/**
 * A JSON number that is not an integer, in E notation: the server reads `1e-1` as a DOUBLE and
 * `0.1` as a DECIMAL, and a FLOAT column compared with a DECIMAL compares by its printed digits.
 */
function literal(value: RowValue, kind: TargetKind | undefined): unknown {
  if (typeof value === 'number' && !Number.isInteger(value)) return { toSqlString: () => value.toExponential() };
  // BIT compares as the unsigned integer of its bytes, not as a binary string.
  if (kind === 'bit' && Buffer.isBuffer(value)) return BigInt(`0x${value.toString('hex') || '0'}`);
  return value;
}

/**
 * One SELECT per row, joined by UNION ALL: the row's index, per column whether the target's
 * value equals the image's (full mode, inserts and updates; 1 otherwise), and the target's row.
 * A row missing on the target yields nothing. JSON columns compare as JSON (TiDB and MySQL store
 * them normalised).
 */
export function compareStatement(group: CompareGroup, mode: CompareMode, kinds: ReadonlyMap<string, TargetKind>): SqlStatement {
  const name = qualify(group.target.schema, group.target.table);
  const columnList = group.columns.map(quoteId).join(', ');
  const values: unknown[] = [];
  const selects = group.rows.map((row, n) => {
    values.push(n);
    let same = group.columns.map(() => '1');
    if (mode === 'full' && row.op !== 'delete') {
      same = group.columns.map((c) => `${quoteId(c)} <=> ${kinds.get(c) === 'json' ? 'CAST(? AS JSON)' : '?'}`);
      values.push(...decodeRow(row.image).map((v, i) => literal(v, kinds.get(group.columns[i]!))));
    }
    const pairs = keyPairs(row);
    values.push(...pairs.map(([, v]) => decodeValue(v)));
    return `SELECT ? AS n, ${same.join(', ')}, ${columnList} FROM ${name} WHERE ${pairs.map(([c]) => `${quoteId(c)} = ?`).join(' AND ')}`;
  });
  return { sql: selects.join(' UNION ALL '), values };
}

/** A value as show-error prints it: bytes in hex, big integers as text. */
function shown(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

const rowText = (columns: string[], values: readonly unknown[]) =>
  JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, shown(values[i] as RowValue)])));

export interface GroupOutcome {
  matched: PendingRow[];
  failed: RowFailure[];
}

/** What the answer to compareStatement (rows as arrays) says about each pending row. */
export function judgeGroup(group: CompareGroup, answer: unknown[][]): GroupOutcome {
  const width = group.columns.length;
  const found = new Map<number, unknown[]>(answer.map((r) => [Number(r[0]), r]));
  const outcome: GroupOutcome = { matched: [], failed: [] };
  group.rows.forEach((row, n) => {
    const target = found.get(n);
    const differ = target ? group.columns.filter((_, i) => Number(target[1 + i]) !== 1) : [];
    let kind: FailureKind | undefined;
    if (row.op === 'delete') kind = target ? 'Deleted rows exist' : undefined;
    else if (!target) kind = 'Expected rows not exist';
    else if (differ.length > 0) kind = 'Column data not matched';
    if (!kind) {
      outcome.matched.push(row);
      return;
    }
    outcome.failed.push({
      row,
      kind,
      srcData: rowText(group.columns, decodeRow(row.image)),
      dstData: target ? rowText(group.columns, target.slice(1 + width)) : null,
      differ,
    });
  });
  return outcome;
}
