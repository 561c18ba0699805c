import type { RowDataPacket } from 'mysql2/promise';
import type { Queryable } from './connect.js';
import { ER, serverErrno } from './server-errors.js';
import type { BinlogPosition } from '../binlog/position.js';

export async function isMariadb(conn: Queryable): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v ?? ''));
}

/** The row of SHOW MASTER STATUS, or undefined when binary logging is off. */
export async function showMasterStatus(conn: Queryable): Promise<RowDataPacket | undefined> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
    return rows[0];
  } catch (err) {
    // MySQL 8.4 removed SHOW MASTER STATUS in favour of this spelling.
    if (serverErrno(err) !== ER.PARSE_ERROR) throw err;
    const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
    return rows[0];
  }
}

/** Where the server's binlog stands now, or null when binary logging is off. */
export async function readBinlogPosition(conn: Queryable): Promise<BinlogPosition | null> {
  const row = await showMasterStatus(conn);
  if (!row) return null;
  let gtid = String(row.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
  if (await isMariadb(conn)) {
    const [g] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    gtid = String(g[0]?.g ?? '');
  }
  return { file: String(row.File), pos: Number(row.Position), gtid };
}

/**
 * Why this server's binlog cannot be replayed row by row (null: it can). Replay needs row
 * events with full images; column names it takes from the schema tracker when the binlog has none.
 */
export async function binlogReplayGap(conn: Queryable): Promise<string | null> {
  const [rows] = await conn.query<RowDataPacket[]>(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image')",
  );
  const vars = new Map(rows.map((r) => [String(r.Variable_name), String(r.Value).toUpperCase()]));
  const wanted: [string, string[]][] = [
    ['log_bin', ['ON', '1']],
    ['binlog_format', ['ROW']],
    ['binlog_row_image', ['FULL']],
  ];
  const gaps = wanted
    .filter(([name, ok]) => !ok.includes(vars.get(name) ?? ''))
    .map(([name]) => `${name} is ${vars.get(name)?.toLowerCase() ?? 'unset'}`);
  return gaps.length > 0 ? gaps.join(', ') : null;
}
