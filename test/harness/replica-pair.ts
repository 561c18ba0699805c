import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startMariadb, type MariadbServer } from './mariadb.js';
import { removeOnExit } from './proc.js';
import type { Endpoint } from './servers.js';

/** Both log what they apply from elsewhere under its own GTID, so either can serve the other's transactions. */
const GTID_ARGS = ['--log-slave-updates=ON', '--gtid-strict-mode=ON'];

const endpoint = (s: MariadbServer): Endpoint => ({ host: s.host, port: s.port, user: s.user, password: s.password });

async function query(server: Endpoint, sql: string, values: unknown[] = []): Promise<mysql.RowDataPacket[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, values);
    return rows;
  } finally {
    await conn.end();
  }
}

/**
 * Two MariaDB servers of their own (not the shared stack's) with binlogs and GTIDs: the replica
 * follows the primary by native GTID replication from the primary's first transaction, as a
 * read replica or the green side of a Blue/Green deployment does.
 */
export async function startReplicaPair(serverIds: [number, number]) {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-replica-pair-'));
  removeOnExit(dir);
  const [primary, replica] = await Promise.all(
    serverIds.map((serverId, i) =>
      startMariadb({ dir: join(dir, i === 0 ? 'primary' : 'replica'), serverId, binlog: true, extraArgs: GTID_ARGS }),
    ),
  );
  const [a, b] = [endpoint(primary!), endpoint(replica!)];
  // The replica's own setup statements would be GTIDs of its own ahead of the primary's, which
  // strict mode refuses to follow: it starts with an empty binlog, as a replica made from a backup.
  await query(b, 'RESET MASTER');
  await query(b, "SET GLOBAL gtid_slave_pos = ''");
  await query(b, 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos', [
    a.host,
    a.port,
    a.user,
    a.password,
  ]);
  await query(b, 'START SLAVE');
  return {
    primary: a,
    replica: b,
    /** Waits until the replica has applied everything the primary has written so far. */
    async caughtUp(timeoutSeconds = 60): Promise<void> {
      const [{ pos }] = (await query(a, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos')) as [{ pos: string }];
      const [{ waited }] = (await query(b, 'SELECT MASTER_GTID_WAIT(?, ?) AS waited', [pos, timeoutSeconds])) as [{ waited: number }];
      if (Number(waited) !== 0) {
        const [state] = await query(b, 'SHOW SLAVE STATUS');
        throw new Error(
          `the replica did not reach the primary's ${pos} in ${timeoutSeconds} s: ${state?.Last_Error ?? 'no replication status'}`,
        );
      }
    },
    /** The replica stops following: from here on it is a primary of its own (a failover). */
    async promoteReplica(): Promise<void> {
      await query(b, 'STOP SLAVE');
      await query(b, 'RESET SLAVE ALL');
    },
    async stop(): Promise<void> {
      await Promise.all([primary!.stop(), replica!.stop()]);
    },
  };
}
