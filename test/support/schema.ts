import mysql from 'mysql2/promise';
import type { Endpoint } from '../harness/servers.js';

/** What information_schema says of a table, as text that differs whenever the definition does. */
export async function columnsOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT CONCAT(COLUMN_NAME, \' \', COLUMN_TYPE, \' \', IS_NULLABLE, \' \', IFNULL(COLUMN_DEFAULT, \'-\')) AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [schema, table],
    );
    return rows.map((r) => String(r.c));
  } finally {
    await conn.end();
  }
}

export async function indexesOf(server: Endpoint, schema: string, table: string): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT CONCAT(INDEX_NAME, \':\', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY INDEX_NAME ORDER BY INDEX_NAME',
      [schema, table],
    );
    return rows.map((r) => String(r.i));
  } finally {
    await conn.end();
  }
}

export async function tablesOf(server: Endpoint, schema: string): Promise<string[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [schema]);
    return rows.map((r) => String(r.t));
  } finally {
    await conn.end();
  }
}
