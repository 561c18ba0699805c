import type { Connection, RowDataPacket } from 'mysql2/promise';
import { INTEGER_TYPES, keyValueOf, type ChunkBounds, type KeyValue, type SplitKind, type TablePlan } from '../../shared/chunk/chunk.js';
import type { TableRef } from '../../shared/config/types.js';
import { rowIdentityKey, type ColumnInfo, type TableInfo } from '../../shared/sql/catalog.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import { chunkCountFor, integerChunks, keysetChunks, tupleCompare } from '../../shared/chunk/key-range.js';

async function integerSplit(conn: Connection, info: TableInfo, column: string, rowsPerChunk: number): Promise<ChunkBounds[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT MIN(${quoteId(column)}) AS lo, MAX(${quoteId(column)}) AS hi FROM ${qualify(info.schema, info.table)}`,
  );
  const lo = rows[0]?.lo;
  const hi = rows[0]?.hi;
  if (lo === null || lo === undefined || hi === null || hi === undefined) return [{ lower: null, upper: null }];
  const min = BigInt(String(lo));
  const max = BigInt(String(hi));
  // Table statistics can lag far behind a fresh bulk insert; the key span bounds the row count
  // from above, so the estimate only ever lowers the chunk count for sparse keys.
  const span = max - min + 1n;
  const estimate = info.estimatedRows > 0 ? BigInt(info.estimatedRows) : span;
  const rowsGuess = Number(estimate < span ? (estimate * 2n > span ? span : estimate) : span);
  return integerChunks(min, max, chunkCountFor(rowsGuess, rowsPerChunk));
}

/** Walk the key in index order, `rowsPerChunk` rows at a time; each step reads one index range. */
async function keysetSplit(conn: Connection, info: TableInfo, key: ColumnInfo[], rowsPerChunk: number): Promise<ChunkBounds[]> {
  const names = key.map((c) => c.name);
  const select = `SELECT ${names.map(quoteId).join(', ')} FROM ${qualify(info.schema, info.table)}`;
  const order = `ORDER BY ${names.map(quoteId).join(', ')} LIMIT 1 OFFSET ${rowsPerChunk}`;
  const boundaries: KeyValue[][] = [];
  for (;;) {
    const last = boundaries[boundaries.length - 1];
    const where = last ? tupleCompare(names, '>=', last) : { sql: '1 = 1', params: [] };
    const [rows] = await conn.query<RowDataPacket[]>(
      { sql: `${select} WHERE ${where.sql} ${order}`, rowsAsArray: true, typeCast: false },
      where.params,
    );
    const row = rows[0] as unknown as (Buffer | null)[] | undefined;
    if (!row) break;
    boundaries.push(key.map((c, i) => keyValueOf(c, row[i] ?? null)));
  }
  return keysetChunks(boundaries);
}

export async function planTable(
  conn: Connection,
  info: TableInfo,
  options: { sourceId: string; target: TableRef; rowsPerChunk: number },
): Promise<TablePlan> {
  const key = rowIdentityKey(info);
  const keyColumns = key ? key.columns.map((name) => info.columns.find((c) => c.name === name)!) : [];
  let splitKind: SplitKind = 'none';
  let chunks: ChunkBounds[] = [{ lower: null, upper: null }];
  if (keyColumns.length === 1 && INTEGER_TYPES.has(keyColumns[0]!.dataType)) {
    splitKind = 'integer';
    chunks = await integerSplit(conn, info, keyColumns[0]!.name, options.rowsPerChunk);
  } else if (keyColumns.length > 0 && info.estimatedRows > options.rowsPerChunk / 2) {
    splitKind = 'keyset';
    chunks = await keysetSplit(conn, info, keyColumns, options.rowsPerChunk);
  } else if (keyColumns.length > 0) {
    splitKind = 'keyset';
  }
  return {
    sourceId: options.sourceId,
    schema: info.schema,
    table: info.table,
    target: options.target,
    createSql: info.createSql,
    columns: info.columns.filter((c) => !c.generated),
    splitKey: keyColumns.map((c) => c.name),
    splitKind,
    estimatedRows: info.estimatedRows,
    chunks,
  };
}
