import mysql from 'mysql2/promise';
import type { Endpoint } from '../harness/servers.js';

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

/** A table's columns in order, as text that differs whenever a column's definition does. */
export function columnsOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  return firstColumn(
    server,
    "SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE, ' ', IFNULL(COLUMN_DEFAULT, '-')) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    [schema, table],
  );
}

/** A table's indexes by name, each with its columns in order. */
export function indexesOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  return firstColumn(
    server,
    "SELECT CONCAT(INDEX_NAME, ':', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY INDEX_NAME ORDER BY INDEX_NAME",
    [schema, table],
  );
}

export function tablesOf(server: Endpoint, schema: string): Promise<string[]> {
  return firstColumn(server, 'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [schema]);
}
