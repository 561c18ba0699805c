import type { Readable } from 'node:stream';
import type { Connection as CallbackConnection } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import type { ChunkRecord, TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import { keyValueOf, type KeyValue } from '../../shared/chunk/chunk.js';
import { chunkCondition, tupleCompare } from '../../shared/chunk/key-range.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import { rowEncoder, selectExpression, serverRowExpression } from './sql-literal.js';

/**
 * `server`: the source renders each row's tuple (fast). `client`: dmq renders it from raw
 * column bytes, for chunks holding a row whose rendered tuple exceeds the source's
 * max_allowed_packet.
 */
export type RenderMode = 'server' | 'client';

export class RowTooLargeForServer extends Error {}

export interface ChunkToRead {
  table: TableRecord;
  chunk: ChunkRecord;
  /** Leaves out the rows the table's expression filters match. */
  filter: string | undefined;
  /** Only the rows after this split-key value: a direct copy resuming after its last commit. */
  after?: KeyValue[] | null;
}

/** A row as the query returns it: the rendered tuple (or every column), then the split key's columns raw. */
export type RawRow = (Buffer | null)[];

/**
 * The SELECT that reads one chunk (or its rest, after `read.after`) in key order, so a file is
 * reproducible and a direct copy can resume from the last key it committed.
 */
function chunkQuery(read: ChunkToRead, mode: RenderMode): { sql: string; params: unknown[] } {
  const { table, filter } = read;
  const key = table.splitKey;
  const where = chunkCondition(key, read.chunk);
  const after = read.after ? tupleCompare(key, '>', read.after) : undefined;
  const order = key.length > 0 ? ` ORDER BY ${key.map(quoteId).join(', ')}` : '';
  const rendered = mode === 'server' ? serverRowExpression(table.columns) : table.columns.map(selectExpression).join(', ');
  const select = [rendered, ...key.map(quoteId)].join(', ');
  const conditions = [where.sql, ...(after ? [after.sql] : []), ...(filter ? [filter] : [])];
  return {
    sql: `SELECT ${select} FROM ${qualify(table.schema, table.table)} WHERE ${conditions.join(' AND ')}${order}`,
    params: [...where.params, ...(after?.params ?? [])],
  };
}

/** A row's tuple, `(1,'a',NULL)`, without a line end; throws RowTooLargeForServer when the source could not render it. */
export function rowText(mode: RenderMode, table: TableRecord): (row: RawRow) => Buffer {
  if (mode === 'server') {
    return (row) => {
      const line = row[0];
      if (line === null || line === undefined) throw new RowTooLargeForServer();
      return line;
    };
  }
  const encode = rowEncoder(table.columns);
  return (row) => Buffer.from(encode(row)).subarray(0, -1);
}

/** The split-key value of a row read by chunkQuery: its last columns. */
export function rowKey(mode: RenderMode, table: TableRecord): (row: RawRow) => KeyValue[] {
  const first = mode === 'server' ? 1 : table.columns.length;
  const columns = table.splitKey.map((name) => table.columns.find((c) => c.name === name)!);
  return (row) => columns.map((c, i) => keyValueOf(c, row[first + i] ?? null));
}

/** Types whose one value may be megabytes. */
const WIDE_TYPES = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob', 'text', 'mediumtext', 'longtext', 'json']);

/**
 * Rows read ahead of `consume` before the connection is paused: many small rows keep the stream
 * busy, but a table whose rows may each be megabytes would hold a thousand of them in memory.
 * Two wide rows keep the next one on its way while the last is taken; in a direct copy the
 * process's byte budget, not this count, bounds what waits further on.
 */
export function readAheadRows(table: TableRecord): number {
  return table.columns.some((c) => WIDE_TYPES.has(c.dataType)) ? 2 : 1000;
}

/**
 * Stream one chunk's rows (raw, as arrays) to `consume`. A half-read result leaves the
 * connection mid-protocol, so on any failure it is destroyed, never handed back to the pool.
 */
export async function readChunkRows(
  pool: Pool,
  read: ChunkToRead,
  mode: RenderMode,
  consume: (rows: Readable) => Promise<void>,
): Promise<void> {
  const conn = await pool.getConnection();
  try {
    const { sql, params } = chunkQuery(read, mode);
    const callbackConn = conn.connection as unknown as CallbackConnection;
    await consume(
      callbackConn.query({ sql, values: params, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: readAheadRows(read.table) }),
    );
  } catch (err) {
    conn.destroy();
    throw err;
  }
  conn.release();
}
