/**
 * The OLTP workload the replication benchmarks write upstream, and how they see a copy catch up:
 * a heartbeat row whose markers end each phase, and binlog positions.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { prng } from '../../test/support/prng.js';
import { SBTEST1 } from './sbtest.js';
import { connect, queryOne, withConnection, type Server } from './sql.js';

/**
 * A row of sbtest1 outside the seeded ids whose `c` carries the heartbeat (the source's clock in
 * ms) and the end-of-phase markers. It lives in the measured table itself: dmq applies each
 * table in order on its own partition, so a separate heartbeat table could run ahead of sbtest1.
 */
export const HEARTBEAT_ID = -1;
export const POLL_MS = 20;
/** How often a waiting loop asks dmq or the replica whether replication has failed. */
export const HEALTH_CHECK_MS = 1000;

export type Statement = [sql: string, values: unknown[]];

/** Groups of 11 random digits joined by '-', as sysbench fills c (10 groups) and pad (5). */
export function digitGroups(random: () => number, groups: number): string {
  return Array.from({ length: groups }, () => String(Math.floor(random() * 1e11)).padStart(11, '0')).join('-');
}

/** The mix: 60% `UPDATE k = k + 1`, 20% `UPDATE c`, 20% INSERT, on the seeded ids. */
export function oltpStatements(seedValue: number, maxId: number): () => Statement {
  const random = prng(seedValue);
  const id = () => 1 + Math.floor(random() * maxId);
  return () => {
    const choice = random();
    if (choice < 0.6) return [`UPDATE ${SBTEST1} SET k = k + 1 WHERE id = ?`, [id()]];
    if (choice < 0.8) return [`UPDATE ${SBTEST1} SET c = ? WHERE id = ?`, [digitGroups(random, 10), id()]];
    return [`INSERT INTO ${SBTEST1} (k, c, pad) VALUES (?, ?, ?)`, [id(), digitGroups(random, 10), digitGroups(random, 5)]];
  };
}

export interface WriteRun {
  from: number;
  to: number;
  txns: number;
}

/**
 * `count` statements, each its own autocommit transaction, over several connections. With a
 * `rate`, statement n is due at start + n / rate and a connection that falls behind catches up
 * without pausing, so the achieved rate shows what the source could take.
 */
export async function writeTransactions(
  upstream: Server,
  count: number,
  connections: number,
  next: () => Statement,
  rate?: number,
): Promise<WriteRun> {
  const conns = await Promise.all(Array.from({ length: connections }, () => connect(upstream)));
  let taken = 0;
  const from = Date.now();
  const loop = async (conn: mysql.Connection) => {
    for (let n = taken++; n < count; n = taken++) {
      // Taken in index order, so statement n is the same in every run with the same seed.
      const [sql, values] = next();
      const wait = rate === undefined ? 0 : from + (n * 1000) / rate - Date.now();
      if (wait > 1) await sleep(wait);
      await conn.query(sql, values);
    }
  };
  try {
    await Promise.all(conns.map(loop));
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  }
  return { from, to: Date.now(), txns: count };
}

// ---------------------------------------------------------------------------------------------
// Heartbeat row and markers

export async function insertHeartbeatRow(upstream: Server): Promise<void> {
  await withConnection(upstream, (conn) => conn.query(`INSERT INTO ${SBTEST1} (id, k, c, pad) VALUES (?, 0, '', '')`, [HEARTBEAT_ID]));
}

/** A transaction of its own that ends a phase: once a copy shows it, it has applied everything before. */
export async function writeMarker(upstream: Server, phase: string): Promise<string> {
  const marker = `end of ${phase} ${Date.now()}`;
  await withConnection(upstream, (conn) => conn.query(`UPDATE ${SBTEST1} SET c = ? WHERE id = ?`, [marker, HEARTBEAT_ID]));
  return marker;
}

export async function heartbeatValue(conn: mysql.Connection): Promise<string> {
  return String((await queryOne(conn, `SELECT c FROM ${SBTEST1} WHERE id = ?`, [HEARTBEAT_ID])).c);
}

/**
 * Polls a copy every POLL_MS until its heartbeat row holds `marker`; returns when it was seen.
 * `healthy` runs every HEALTH_CHECK_MS and throws when replication has failed, so a stuck
 * applier fails the run at once instead of at the timeout.
 */
export async function waitForMarker(copy: Server, marker: string, timeoutMs: number, healthy: () => Promise<void>): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let nextCheck = 0;
  return withConnection(copy, async (conn) => {
    for (;;) {
      if ((await heartbeatValue(conn)) === marker) return Date.now();
      const now = Date.now();
      if (now >= nextCheck) {
        await healthy();
        nextCheck = now + HEALTH_CHECK_MS;
      }
      if (now > deadline) throw new Error(`"${marker}" did not reach ${copy.host}:${copy.port} within ${timeoutMs / 1000} s`);
      await sleep(POLL_MS);
    }
  });
}

export interface BinlogPosition {
  file: string;
  pos: number;
}

export async function masterPosition(upstream: Server): Promise<BinlogPosition> {
  return withConnection(upstream, async (conn) => {
    const row = await queryOne(conn, 'SHOW MASTER STATUS');
    return { file: String(row.File), pos: Number(row.Position) };
  });
}

/** Bytes of binlog between two positions of the same file; undefined across a rotation. */
export function binlogBytes(from: BinlogPosition, to: BinlogPosition): number | undefined {
  return from.file === to.file ? to.pos - from.pos : undefined;
}

export const coord = (p: BinlogPosition) => `${p.file}:${p.pos}`;
