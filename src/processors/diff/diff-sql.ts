import type { KeyValue } from '../../shared/chunk/chunk.js';
import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import { selectExpression } from '../dump/sql-literal.js';
import { typeFamily, type ShardColumn } from './diff-columns.js';

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * Where one side's rows come from, named by the target's columns: the target table, a source
 * table, or, for a shard whose route adds extract columns, a derived table adding them as
 * constants (MySQL and MariaDB merge it into the outer query, so key ranges still use the index).
 * `filter` keeps only the rows the copy would bring (the table's expression filters).
 */
export interface DiffSide {
  from: string;
  params: unknown[];
  filter: string | undefined;
}

export function tableSide(schema: string, table: string, filter?: string): DiffSide {
  return { from: qualify(schema, table), params: [], filter };
}

export function shardSide(schema: string, table: string, target: ColumnInfo[], columns: ShardColumn[], filter?: string): DiffSide {
  const extracts = columns.flatMap((c, i) => (c.kind === 'extract' ? [{ name: target[i]!.name, value: c.value }] : []));
  if (extracts.length === 0) return tableSide(schema, table, filter);
  const added = extracts.map((e) => `? AS ${quoteId(e.name)}`).join(', ');
  return {
    // The filter names the source's own columns, so it applies inside, before the extract columns exist.
    from: `(SELECT *, ${added} FROM ${qualify(schema, table)}${filter ? ` WHERE ${filter}` : ''}) AS ${quoteId('shard')}`,
    params: extracts.map((e) => e.value),
    filter: undefined,
  };
}

/**
 * A column's part of the checksummed row text, in a form MariaDB, MySQL and TiDB print alike
 * for equal values: text converted to utf8mb4 (a latin1 column would not mix otherwise), BIT as
 * its integer. Floats and JSON may still print differently on two servers; a chunk they make
 * differ is settled by the row comparison, which reads them as numbers and parsed JSON.
 */
function checksumPart(column: ColumnInfo): string {
  const id = quoteId(column.name);
  if (column.dataType === 'bit') return `${id} + 0`;
  if (typeFamily(column) === 'text') return `CONVERT(${id} USING utf8mb4)`;
  return id;
}

/**
 * One row as text: CONCAT_WS skips NULLs, so a last part of ISNULL flags tells a NULL from an
 * empty string and from a shifted neighbour.
 */
export function rowText(columns: ColumnInfo[]): string {
  const flags = `CONCAT(${columns.map((c) => `ISNULL(${quoteId(c.name)})`).join(', ')})`;
  return `CONCAT_WS(',', ${columns.map(checksumPart).join(', ')}, ${flags})`;
}

function whereOf(side: DiffSide, conditions: SqlFragment[]): SqlFragment {
  const parts = [...conditions.map((c) => c.sql), ...(side.filter ? [side.filter] : [])];
  return { sql: parts.length > 0 ? ` WHERE ${parts.join(' AND ')}` : '', params: conditions.flatMap((c) => c.params) };
}

/**
 * Count and sum of per-row CRC32 over the rows matching `conditions`: a sum, not the XOR
 * sync-diff-inspector takes, because two equal rows of a table without a key cancel in a XOR.
 * Both servers compute CRC32 the same way (ISO 3309).
 */
export function checksumQuery(side: DiffSide, columns: ColumnInfo[], conditions: SqlFragment[]): SqlFragment {
  const where = whereOf(side, conditions);
  return {
    sql: `SELECT COUNT(*) AS n, SUM(CRC32(${rowText(columns)})) AS s FROM ${side.from}${where.sql}`,
    params: [...side.params, ...where.params],
  };
}

/** Rows of a keyless table fall in `count` buckets by their checksum, each compared on its own. */
export function bucketCondition(columns: ColumnInfo[], bucket: number, count: number): SqlFragment {
  return { sql: `CRC32(${rowText(columns)}) % ? = ?`, params: [count, bucket] };
}

/** The key columns, then every compared column, as the copy reads them (see selectExpression). */
export function rowsQuery(side: DiffSide, key: ColumnInfo[], columns: ColumnInfo[], conditions: SqlFragment[]): SqlFragment {
  const where = whereOf(side, conditions);
  const select = [...key, ...columns].map(selectExpression).join(', ');
  return { sql: `SELECT ${select} FROM ${side.from}${where.sql}`, params: [...side.params, ...where.params] };
}

/** Rows whose key is one of `keys`: `(a = ? AND b = ?) OR ...`. */
export function keyCondition(key: ColumnInfo[], keys: KeyValue[][]): SqlFragment {
  const one = `(${key.map((c) => `${quoteId(c.name)} = ?`).join(' AND ')})`;
  return { sql: `(${keys.map(() => one).join(' OR ')})`, params: keys.flat() };
}
