import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { qualify, quoteId } from '../../src/shared/sql/quote.js';
import type { Endpoint } from '../harness/servers.js';

/**
 * Each column as text that differs whenever the stored value differs: raw bytes in hex for
 * everything, except FLOAT and DOUBLE (as numbers, see floatText), BIT (as its integer) and
 * character columns, whose characters are compared as utf8mb4 bytes:
 * TiDB keeps latin1 text as UTF-8 inside, MariaDB as latin1, and converting is one-to-one.
 */
function exactExpression(column: { name: string; type: string; charset: string | null }): string {
  const id = quoteId(column.name);
  // A FLOAT printed as itself shows 6 digits; widened to DOUBLE it shows them all.
  if (column.type === 'float' || column.type === 'double') return `CAST(${id} + 0E0 AS CHAR)`;
  if (column.type === 'bit') return `CAST(${id} + 0 AS CHAR)`;
  if (column.charset !== null && column.charset !== 'binary') return `HEX(CONVERT(${id} USING utf8mb4))`;
  // MariaDB's UUID and INET types, which other targets hold as their text.
  if (['uuid', 'inet4', 'inet6'].includes(column.type)) return `HEX(CONVERT(CAST(${id} AS CHAR) USING utf8mb4))`;
  return `HEX(CAST(${id} AS BINARY))`;
}

/**
 * The same double however the server writes it: MariaDB prints `1.7976931348623157e308`, TiDB
 * all its digits; both parse to the one double they round-trip.
 */
const floatText = (text: string) => (text === '<NULL>' ? text : String(Number(text)));

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
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [schema, table],
    );
    if (cols.length === 0) throw new Error(`${qualify(schema, table)} does not exist on ${server.port}`);
    const select = cols
      .map((c) => {
        const column = { name: String(c.name), type: String(c.type).toLowerCase(), charset: c.charset === null ? null : String(c.charset) };
        return `IFNULL(${exactExpression(column)}, '<NULL>')`;
      })
      .join(', ');
    const [rows] = await conn.query<RowDataPacket[]>({ sql: `SELECT ${select} FROM ${qualify(schema, table)}`, rowsAsArray: true });
    const floats = cols.map((c) => ['float', 'double'].includes(String(c.type).toLowerCase()));
    return (rows as unknown as string[][]).map((r) => rowDigest(r.map((v, i) => (floats[i] ? floatText(v) : v)).join('|'))).sort();
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
