import type { RowDataPacket } from 'mysql2/promise';
import type { TableRef } from '../config/types.js';
import type { Queryable } from '../sql/connect.js';
import { qualify, quoteId } from '../sql/quote.js';

/**
 * A source table's definition as the schema tracker keeps it: what decoding a binlog row of it
 * needs when the binlog does not say (binlog_row_metadata=MINIMAL), in table order.
 */
export interface TrackedColumn {
  name: string;
  /** information_schema COLUMN_TYPE, lower case: `int(10) unsigned`, `enum('a','b')`. */
  type: string;
  /** The character set of a text column; null for every other column. */
  charset: string | null;
  collation: string | null;
}

export interface TrackedTable {
  columns: TrackedColumn[];
  primaryKey: string[];
  /** The table's default character set: what a column added without one gets. */
  charset: string;
}

/** Types whose values are text in a character set (ENUM and SET are decoded from their type). */
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);

export const baseType = (columnType: string) => /^[a-z0-9_]+/.exec(columnType.toLowerCase())?.[0] ?? '';

export const isTextType = (columnType: string) => TEXT_TYPES.has(baseType(columnType));

/** Rows of an information_schema query over the schemas of `refs`, grouped by table. */
async function bySchemas(conn: Queryable, sql: string, schemas: string[]): Promise<Map<string, RowDataPacket[]>> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, [schemas]);
  const grouped = new Map<string, RowDataPacket[]>();
  for (const row of rows) {
    const key = JSON.stringify([String(row.s), String(row.t)]);
    const group = grouped.get(key);
    if (group) group.push(row);
    else grouped.set(key, [row]);
  }
  return grouped;
}

/**
 * The current definitions of `refs` on the source (tables that are gone left out): three queries
 * over their schemas, whatever the number of tables.
 */
export async function readTrackedTables(conn: Queryable, refs: TableRef[]): Promise<(TableRef & { definition: TrackedTable })[]> {
  if (refs.length === 0) return [];
  const schemas = [...new Set(refs.map((r) => r.schema))];
  const columns = await bySchemas(
    conn,
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS name, COLUMN_TYPE AS type, CHARACTER_SET_NAME AS charset,
            COLLATION_NAME AS collation
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    schemas,
  );
  const keys = await bySchemas(
    conn,
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS name FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA IN (?) AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX`,
    schemas,
  );
  const tables = await bySchemas(
    conn,
    `SELECT t.TABLE_SCHEMA AS s, t.TABLE_NAME AS t, c.CHARACTER_SET_NAME AS charset FROM information_schema.TABLES t
     JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = t.TABLE_COLLATION WHERE t.TABLE_SCHEMA IN (?)`,
    schemas,
  );
  const found: (TableRef & { definition: TrackedTable })[] = [];
  for (const ref of refs) {
    const key = JSON.stringify([ref.schema, ref.table]);
    const columnRows = columns.get(key);
    if (!columnRows) continue;
    found.push({
      ...ref,
      definition: {
        columns: columnRows.map((c) => ({
          name: String(c.name),
          type: String(c.type).toLowerCase(),
          charset: c.charset === null ? null : String(c.charset),
          collation: c.collation === null ? null : String(c.collation),
        })),
        primaryKey: (keys.get(key) ?? []).map((k) => String(k.name)),
        charset: String(tables.get(key)?.[0]?.charset ?? 'utf8mb4'),
      },
    });
  }
  return found;
}

/** The rows zongji would read from information_schema.COLUMNS, made from the tracked definition. */
export function zongjiColumnSchemas(table: TrackedTable) {
  return table.columns.map((c) => ({
    COLUMN_NAME: c.name,
    COLLATION_NAME: c.collation,
    CHARACTER_SET_NAME: c.charset,
    COLUMN_COMMENT: '',
    COLUMN_TYPE: c.type,
  }));
}

/** The definition as a CREATE TABLE statement (what `binlog-schema list` shows and `update` reads back). */
export function createTableSql(schema: string, table: string, def: TrackedTable): string {
  const lines = def.columns.map((c) => {
    const charset = c.charset === null ? '' : ` CHARACTER SET ${c.charset}${c.collation === null ? '' : ` COLLATE ${c.collation}`}`;
    return `  ${quoteId(c.name)} ${c.type}${charset}`;
  });
  if (def.primaryKey.length > 0) lines.push(`  PRIMARY KEY (${def.primaryKey.map(quoteId).join(', ')})`);
  return `CREATE TABLE ${qualify(schema, table)} (\n${lines.join(',\n')}\n) DEFAULT CHARSET=${def.charset}`;
}

// MySQL binlog type codes (include/field_types.h) each column type may be logged with.
const BINLOG_TYPES: Record<string, number[]> = {
  tinyint: [1],
  bool: [1],
  boolean: [1],
  smallint: [2],
  mediumint: [9],
  int: [3],
  integer: [3],
  bigint: [8],
  float: [4],
  double: [5],
  real: [5],
  decimal: [0, 246],
  numeric: [0, 246],
  date: [10, 14],
  time: [11, 19],
  datetime: [12, 18],
  timestamp: [7, 17],
  year: [13],
  bit: [16],
  json: [245, 252],
  char: [254],
  binary: [254],
  enum: [254, 247],
  set: [254, 248],
  varchar: [15, 253],
  varbinary: [15, 253],
  tinytext: [252, 249],
  text: [252],
  mediumtext: [252, 250],
  longtext: [252, 251],
  tinyblob: [252, 249],
  blob: [252],
  mediumblob: [252, 250],
  longblob: [252, 251],
};

/**
 * Why the tracked definition cannot decode a tablemap with these column type codes (undefined:
 * it can): another column count, or a column whose type is logged with another code. Types dmq
 * does not know the codes of (spatial, MariaDB's UUID/INET) are taken as they are.
 */
export function disagreement(def: TrackedTable, binlogTypes: number[]): string | undefined {
  if (def.columns.length !== binlogTypes.length) {
    return `the binlog has ${binlogTypes.length} columns, the tracked definition ${def.columns.length} (${def.columns.map((c) => c.name).join(', ')})`;
  }
  for (const [i, column] of def.columns.entries()) {
    const codes = BINLOG_TYPES[baseType(column.type)];
    if (codes && !codes.includes(binlogTypes[i]!)) {
      return `column ${i + 1} is ${column.name} ${column.type} in the tracked definition, but the binlog logs it with type code ${binlogTypes[i]}`;
    }
  }
  return undefined;
}
