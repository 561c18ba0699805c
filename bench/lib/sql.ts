/** Short-lived connections to the benchmark's servers. */
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import type { MariadbServer } from '../../test/harness/servers.js';

export type Server = Pick<MariadbServer, 'host' | 'port' | 'user' | 'password'>;

/** A connection in UTC, so TIMESTAMP values and NOW() read the same on every server. */
export async function connect(server: Server): Promise<mysql.Connection> {
  const { host, port, user, password } = server;
  const conn = await mysql.createConnection({ host, port, user, password, supportBigNumbers: true, bigNumberStrings: true });
  try {
    await conn.query("SET time_zone = '+00:00'");
    return conn;
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

export async function withConnection<T>(server: Server, fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await connect(server);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

export async function queryOne(conn: mysql.Connection, sql: string, params: unknown[] = []): Promise<RowDataPacket> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, params);
  if (!rows[0]) throw new Error(`no row from: ${sql}`);
  return rows[0];
}

/** What the server says it is (`SELECT VERSION()`), for reports. */
export async function serverVersion(server: Server): Promise<string> {
  return withConnection(server, async (conn) => String((await queryOne(conn, 'SELECT VERSION() AS v')).v));
}
