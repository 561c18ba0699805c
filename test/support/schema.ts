import mysql from 'mysql2/promise';
import { SYSTEM_SCHEMAS, type Endpoint } from '../harness/servers.js';

/** The first column of a query's rows, as text, in the query's order. */
async function firstColumn(server: Endpoint, sql: string, values: string[]): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql, values, rowsAsArray: true });
    return (rows as unknown as unknown[][]).map((r) => String(r[0]));
  } finally {
    await conn.end();
  }
}

/**
 * The same column definition as MariaDB and TiDB (or MySQL 8) print it: integer display widths
 * (`int(11)` vs `int`) are dropped, and a default is compared by value, since MariaDB quotes
 * string defaults and spells a NULL default `NULL` where the others give SQL NULL.
 */
function comparableColumn(name: string, type: string, nullable: string, defaultValue: string | null): string {
  const columnType = type.toLowerCase().replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1');
  let shown = defaultValue ?? '-';
  if (shown === 'NULL') shown = '-';
  else if (/^'.*'$/s.test(shown)) shown = shown.slice(1, -1).replaceAll("''", "'");
  shown = shown.toLowerCase() === 'current_timestamp()' ? 'CURRENT_TIMESTAMP' : shown;
  return `${name} ${columnType} ${nullable} ${shown}`;
}

/** A table's columns in order, as text that differs whenever a column's definition does. */
export async function columnsOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS n, COLUMN_TYPE AS t, IS_NULLABLE AS nl, COLUMN_DEFAULT AS d FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [schema, table],
    );
    return rows.map((r) => comparableColumn(String(r.n), String(r.t), String(r.nl), r.d === null ? null : String(r.d)));
  } finally {
    await conn.end();
  }
}

/** A table's indexes by name (sorted here: servers sort names by different collations), each with its columns in order. */
export async function indexesOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  const indexes = await firstColumn(
    server,
    "SELECT CONCAT(INDEX_NAME, ':', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY INDEX_NAME",
    [schema, table],
  );
  return indexes.sort();
}

export async function tablesOf(server: Endpoint, schema: string): Promise<string[]> {
  return (await firstColumn(server, 'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema])).sort();
}

/** The schemas a migration made on a server: all but the system's (TiDB names some in upper case). */
export async function userSchemas(server: Endpoint): Promise<string[]> {
  const schemas = await firstColumn(server, 'SELECT schema_name FROM information_schema.schemata', []);
  return schemas.filter((s) => !SYSTEM_SCHEMAS.includes(s.toLowerCase())).sort();
}
