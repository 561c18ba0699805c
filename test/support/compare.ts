import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { qualify, quoteId } from '../../src/shared/sql/quote.js';
import type { Endpoint } from '../harness/servers.js';

/**
 * Each column as text that differs whenever the stored value differs: raw bytes in hex for
 * everything, except FLOAT (the server prints 6 digits; widened to DOUBLE it prints them all)
 * and BIT (as its integer).
 */
function exactExpression(column: { name: string; type: string }): string {
  const id = quoteId(column.name);
  if (column.type === 'float') return `CAST(${id} + 0E0 AS CHAR)`;
  if (column.type === 'bit') return `CAST(${id} + 0 AS CHAR)`;
  return `HEX(CAST(${id} AS BINARY))`;
}

/**
 * A row as a digest plus a readable head: exact comparison without handing multi-megabyte
 * strings to assert's diff, which takes minutes on them.
 */
function rowDigest(row: string): string {
  return `${createHash('sha256').update(row).digest('hex').slice(0, 24)} ${row.length > 120 ? `${row.slice(0, 120)}…` : row}`;
}

async function exactRows(server: Endpoint, schema: string, table: string): Promise<string[]> {
  const conn = await mysql.createConnection({ ...server, timezone: 'Z' });
  try {
    await conn.query("SET time_zone = '+00:00'");
    const [cols] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [schema, table],
    );
    if (cols.length === 0) throw new Error(`${qualify(schema, table)} does not exist on ${server.port}`);
    const select = cols.map((c) => `IFNULL(${exactExpression({ name: String(c.name), type: String(c.type) })}, '<NULL>')`).join(', ');
    const [rows] = await conn.query<RowDataPacket[]>({ sql: `SELECT ${select} FROM ${qualify(schema, table)}`, rowsAsArray: true });
    return (rows as unknown as string[][]).map((r) => rowDigest(r.join('|'))).sort();
  } finally {
    await conn.end();
  }
}

/** The union of the source tables' rows, compared row by row with the target table's. */
export async function compareMerged(
  sources: { server: Endpoint; schema: string; table: string }[],
  target: { server: Endpoint; schema: string; table: string },
): Promise<{ expected: string[]; actual: string[] }> {
  const expected = (await Promise.all(sources.map((s) => exactRows(s.server, s.schema, s.table)))).flat().sort();
  const actual = await exactRows(target.server, target.schema, target.table);
  return { expected, actual };
}

/**
 * The rows a query returns, each as JSON of its values as text, sorted: a UNION of INT and
 * BIGINT columns comes back as another JavaScript type than an INT column, its text does not.
 */
export async function queryRows(server: Endpoint, sql: string): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [result] = await conn.query<RowDataPacket[]>({ sql, rowsAsArray: true });
    return (result as unknown as unknown[][]).map((r) => JSON.stringify(r.map(String))).sort();
  } finally {
    await conn.end();
  }
}
