import type { RowDataPacket } from 'mysql2/promise';
import type { Queryable } from './connect.js';
import type { BinlogPosition } from '../chunk.js';

export async function isMariadb(conn: Queryable): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v ?? ''));
}

/** Where the server's binlog stands now, or null when binary logging is off. */
export async function readBinlogPosition(conn: Queryable): Promise<BinlogPosition | null> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
  } catch (err) {
    // MySQL 8.4 removed SHOW MASTER STATUS in favour of this spelling.
    if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
    [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
  }
  const row = rows[0];
  if (!row) return null;
  let gtid = String(row.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
  if (await isMariadb(conn)) {
    const [g] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    gtid = String(g[0]?.g ?? '');
  }
  return { name: String(row.File), pos: Number(row.Position), gtid };
}
