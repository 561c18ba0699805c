import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableRef } from '../config/types.js';
import { qualify } from './quote.js';

/** Schemas DM never migrates, whatever the block-allow list says. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys', 'metrics_schema', 'inspection_schema'] as const;

export interface ColumnInfo {
  name: string;
  /** information_schema DATA_TYPE, lower case: int, varchar, bit, ... */
  dataType: string;
  /** Full COLUMN_TYPE: `int(10) unsigned`, `enum('a','b')`. */
  columnType: string;
  nullable: boolean;
  /** Generated (virtual/stored) columns are computed by the target, never copied. */
  generated: boolean;
}

export interface KeyInfo {
  name: string;
  primary: boolean;
  columns: string[];
}

export interface TableInfo extends TableRef {
  columns: ColumnInfo[];
  /** Primary key first, then unique keys whose columns are all NOT NULL, then other unique keys. */
  uniqueKeys: KeyInfo[];
  /** Unique indexes of every kind, prefix indexes (which `uniqueKeys` leaves out) included. */
  uniqueIndexes: number;
  estimatedRows: number;
  averageRowBytes: number;
  createSql: string;
}

export async function listTables(conn: Connection): Promise<TableRef[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
     WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?)
     ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [SYSTEM_SCHEMAS],
  );
  return rows.map((r) => ({ schema: String(r.s), table: String(r.t) }));
}

export async function describeTable(conn: Connection, ref: TableRef): Promise<TableInfo> {
  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType,
            IS_NULLABLE AS nullable, EXTRA AS extra, GENERATION_EXPRESSION AS expr
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
     ORDER BY ORDINAL_POSITION`,
    [ref.schema, ref.table],
  );
  const columns: ColumnInfo[] = columnRows.map((r) => ({
    name: String(r.name),
    dataType: String(r.dataType).toLowerCase(),
    columnType: String(r.columnType).toLowerCase(),
    nullable: r.nullable === 'YES',
    generated:
      /\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(String(r.extra ?? '')) ||
      (r.expr !== null && r.expr !== undefined && String(r.expr) !== ''),
  }));

  const [keyRows] = await conn.query<RowDataPacket[]>(
    `SELECT INDEX_NAME AS name, COLUMN_NAME AS col, SEQ_IN_INDEX AS seq, SUB_PART AS subPart
     FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
     ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [ref.schema, ref.table],
  );
  const keys = new Map<string, { columns: string[]; prefix: boolean }>();
  for (const r of keyRows) {
    const key = keys.get(String(r.name)) ?? { columns: [], prefix: false };
    key.columns.push(String(r.col));
    if (r.subPart !== null && r.subPart !== undefined) key.prefix = true;
    keys.set(String(r.name), key);
  }
  const nullable = new Set(columns.filter((c) => c.nullable).map((c) => c.name));
  const uniqueKeys: KeyInfo[] = [...keys.entries()]
    // A prefix index does not identify a row by the values we read, so it cannot split or address rows.
    .filter(([, k]) => !k.prefix)
    .map(([name, k]) => ({ name, primary: name === 'PRIMARY', columns: k.columns }))
    .sort((a, b) => rank(a) - rank(b));
  function rank(k: KeyInfo): number {
    if (k.primary) return 0;
    return k.columns.some((c) => nullable.has(c)) ? 2 : 1;
  }

  const [statRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_ROWS AS n, AVG_ROW_LENGTH AS avg FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
    [ref.schema, ref.table],
  );
  const [createRows] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE ${qualify(ref.schema, ref.table)}`);
  return {
    ...ref,
    columns,
    uniqueKeys,
    uniqueIndexes: keys.size,
    estimatedRows: Number(statRows[0]?.n ?? 0),
    averageRowBytes: Number(statRows[0]?.avg ?? 0),
    createSql: String(createRows[0]?.['Create Table'] ?? ''),
  };
}

/** The key that identifies a row, if any: the primary key, else a unique key over NOT NULL columns. */
export function rowIdentityKey(info: TableInfo): KeyInfo | undefined {
  const nullable = new Set(info.columns.filter((c) => c.nullable).map((c) => c.name));
  return info.uniqueKeys.find((k) => k.primary || !k.columns.some((c) => nullable.has(c)));
}
