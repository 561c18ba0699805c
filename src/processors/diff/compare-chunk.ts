import type { Connection as CallbackConnection } from 'mysql2';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition } from '../../shared/binlog/position.js';
import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { readBinlogPosition } from '../../shared/sql/binlog-status.js';
import { checksumQuery, keyCondition, rowsQuery, type DiffSide, type SqlFragment } from './diff-sql.js';
import { keyedComparison, multisetComparison, rowReader, type RawRow, type RowDifference } from './row-compare.js';

/** One source table feeding the target table, with the pool that reads it. */
export interface ShardReader {
  sourceId: string;
  pool: Pool;
  side: DiffSide;
}

/** One target table and everything needed to compare a key range of it. */
export interface TableComparison {
  key: ColumnInfo[];
  columns: ColumnInfo[];
  shards: ShardReader[];
  target: { pool: Pool; side: DiffSide };
  /** Waits until replication has applied what the sources held at `positions`; returns why not, if it did not. */
  waitForSync(positions: Map<string, BinlogPosition | null>): Promise<string[]>;
  /** Whether any source is replicating, so a difference may be a change in flight. */
  replicating: boolean;
}

export interface ChunkOutcome {
  /** Source rows in the range. */
  rows: number;
  differences: RowDifference[];
  /** Where replication stood when it did not catch up: differences may be changes in flight. */
  lagging: string[];
}

/** A difference seen this many times in a row, each after replication caught up, is reported. */
const RECHECK_ROUNDS = 5;
/** Between rounds: a row written again and again (a counter, a status) gets a moment to rest. */
const RECHECK_PAUSE_MS = 500;
/** Keys looked up per statement when differing rows are read again. */
const KEYS_PER_LOOKUP = 500;

async function positionOf(shard: ShardReader, replicating: boolean): Promise<BinlogPosition | null> {
  return replicating ? readBinlogPosition(shard.pool) : null;
}

async function checksum(pool: Pool, query: SqlFragment): Promise<{ n: number; s: bigint }> {
  const [rows] = await pool.query<RowDataPacket[]>({ sql: query.sql, supportBigNumbers: true, bigNumberStrings: true }, query.params);
  return { n: Number(rows[0]?.n ?? 0), s: BigInt(String(rows[0]?.s ?? 0)) };
}

/** Streams one query's rows, raw, into `each`; a connection left mid-result is destroyed, not reused. */
async function streamRows(pool: Pool, query: SqlFragment, each: (row: RawRow) => void): Promise<void> {
  const conn = await pool.getConnection();
  try {
    const callbackConn = conn.connection as unknown as CallbackConnection;
    const stream = callbackConn.query({ sql: query.sql, values: query.params, rowsAsArray: true, typeCast: false }).stream();
    for await (const row of stream) each(row as RawRow);
    conn.release();
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/**
 * Rows of the range on both sides, compared: the sources' rows first, then, once replication has
 * applied what they held, the target's, so a change made meanwhile is on both sides or neither.
 */
async function compareRows(
  table: TableComparison,
  conditions: SqlFragment[],
): Promise<{ differences: RowDifference[]; lagging: string[] }> {
  const reader = rowReader(table);
  const comparison = table.key.length > 0 ? keyedComparison(reader) : multisetComparison(reader);
  const positions = new Map<string, BinlogPosition | null>();
  for (const shard of table.shards) {
    await streamRows(shard.pool, rowsQuery(shard.side, table.key, table.columns, conditions), comparison.addSource);
    positions.set(shard.sourceId, await positionOf(shard, table.replicating));
  }
  const lagging = await table.waitForSync(positions);
  await streamRows(table.target.pool, rowsQuery(table.target.side, table.key, table.columns, conditions), comparison.addTarget);
  return { differences: comparison.finish(), lagging };
}

/** The differing rows read again by key, in lookups of a bounded number of keys. */
async function recheckKeys(table: TableComparison, differences: RowDifference[]) {
  const still: RowDifference[] = [];
  let lagging: string[] = [];
  for (let i = 0; i < differences.length; i += KEYS_PER_LOOKUP) {
    const keys = differences.slice(i, i + KEYS_PER_LOOKUP).map((d) => d.key);
    const again = await compareRows(table, [keyCondition(table.key, keys)]);
    still.push(...again.differences);
    lagging = again.lagging;
  }
  return { differences: still, lagging };
}

/**
 * Compares one key range (a chunk of the copy's split, or a bucket of a keyless table): checksums
 * first, both sides read at the same replication position; rows only where they differ. While
 * replication runs, a differing row is read again after replication caught up with the source
 * once more, and reported only if it still differs: a change in flight settles, corruption stays.
 */
export async function compareChunk(table: TableComparison, conditions: SqlFragment[]): Promise<ChunkOutcome> {
  let rows = 0;
  let sum = 0n;
  const positions = new Map<string, BinlogPosition | null>();
  const sources = async () => {
    for (const shard of table.shards) {
      const c = await checksum(shard.pool, checksumQuery(shard.side, table.columns, conditions));
      rows += c.n;
      sum += c.s;
      positions.set(shard.sourceId, await positionOf(shard, table.replicating));
    }
  };
  const targetChecksum = () => checksum(table.target.pool, checksumQuery(table.target.side, table.columns, conditions));
  let target: { n: number; s: bigint };
  let lagging: string[] = [];
  if (table.replicating) {
    await sources();
    lagging = await table.waitForSync(positions);
    target = await targetChecksum();
  } else {
    // Nothing moves: both sides are read at once.
    [, target] = await Promise.all([sources(), targetChecksum()]);
  }
  if (target.n === rows && target.s === sum) return { rows, differences: [], lagging };

  let found = await compareRows(table, conditions);
  for (let round = 1; round < RECHECK_ROUNDS && table.replicating && found.differences.length > 0; round++) {
    await new Promise((r) => setTimeout(r, RECHECK_PAUSE_MS));
    found = table.key.length > 0 ? await recheckKeys(table, found.differences) : await compareRows(table, conditions);
  }
  return { rows, differences: found.differences, lagging: found.lagging };
}
