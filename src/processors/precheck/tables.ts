import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableRef } from '../../shared/config/types.js';

export interface ColumnFacts {
  name: string;
  /** Full lower-case COLUMN_TYPE, `int(10) unsigned`. */
  columnType: string;
  /** Lower-case DATA_TYPE, `int`. */
  dataType: string;
  /** Lower-case collation of a character column; null for others. */
  collation: string | null;
  nullable: boolean;
  autoIncrement: boolean;
}

export interface UniqueKeyFacts {
  name: string;
  primary: boolean;
  columns: string[];
  /** A key over a column prefix or a nullable column does not pin down one row. */
  identifiesRows: boolean;
}

export interface TableFacts extends TableRef {
  columns: ColumnFacts[];
  uniqueKeys: UniqueKeyFacts[];
  /** Constraint names of foreign keys this table declares. */
  foreignKeys: string[];
}

const tableKey = (schema: string, table: string) => `${schema}\u0000${table}`;

/**
 * Columns and keys of many tables in three queries per source rather than several per table:
 * a precheck over thousands of tables must not take minutes (a known DM complaint).
 */
export async function readTableFacts(conn: Connection, tables: TableRef[]): Promise<TableFacts[]> {
  if (tables.length === 0) return [];
  const schemas = [...new Set(tables.map((t) => t.schema))];
  const facts = new Map(
    tables.map((t) => [
      tableKey(t.schema, t.table),
      {
        ...t,
        columns: [] as ColumnFacts[],
        uniqueKeys: [] as UniqueKeyFacts[],
        foreignKeys: [] as string[],
      },
    ]),
  );

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS name, COLUMN_TYPE AS type,
            DATA_TYPE AS dataType, COLLATION_NAME AS collation, IS_NULLABLE AS nullable, EXTRA AS extra
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?)
     ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [schemas],
  );
  for (const r of columnRows) {
    facts.get(tableKey(String(r.s), String(r.t)))?.columns.push({
      name: String(r.name),
      columnType: String(r.type).toLowerCase(),
      dataType: String(r.dataType).toLowerCase(),
      collation: r.collation === null || r.collation === undefined ? null : String(r.collation).toLowerCase(),
      nullable: r.nullable === 'YES',
      autoIncrement: /auto_increment/i.test(String(r.extra ?? '')),
    });
  }

  const [keyRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, INDEX_NAME AS name, COLUMN_NAME AS col, SUB_PART AS subPart
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (?) AND NON_UNIQUE = 0
     ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [schemas],
  );
  for (const r of keyRows) {
    const table = facts.get(tableKey(String(r.s), String(r.t)));
    if (!table) continue;
    const name = String(r.name);
    let key = table.uniqueKeys.find((k) => k.name === name);
    if (!key) {
      key = { name, primary: name === 'PRIMARY', columns: [], identifiesRows: true };
      table.uniqueKeys.push(key);
    }
    const column = String(r.col);
    key.columns.push(column);
    const nullable = table.columns.find((c) => c.name === column)?.nullable ?? true;
    if ((r.subPart !== null && r.subPart !== undefined) || nullable) key.identifiesRows = false;
  }

  const [fkRows] = await conn.query<RowDataPacket[]>(
    `SELECT CONSTRAINT_SCHEMA AS s, TABLE_NAME AS t, CONSTRAINT_NAME AS name
     FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN (?)`,
    [schemas],
  );
  for (const r of fkRows) facts.get(tableKey(String(r.s), String(r.t)))?.foreignKeys.push(String(r.name));

  return [...facts.values()];
}
