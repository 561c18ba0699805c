import type { TableRef } from '../config/types.js';
import type { ColumnInfo } from '../sql/catalog.js';

/**
 * A chunk is one key range of one source table: the unit of dump and load work.
 * Bounds are key tuples; `lower` is inclusive, `upper` exclusive, null means unbounded, so
 * rows written outside the planned range while the copy runs still fall in the first or
 * last chunk.
 */
export type KeyValue = string | bigint | Buffer | null;

export interface ChunkBounds {
  lower: KeyValue[] | null;
  upper: KeyValue[] | null;
}

export interface ChunkKey extends TableRef {
  sourceId: string;
  index: number;
}

export type SplitKind = 'integer' | 'keyset' | 'none';

export interface TablePlan extends TableRef {
  sourceId: string;
  target: TableRef;
  createSql: string;
  /** Columns copied, in order; generated columns are left to the target. */
  columns: ColumnInfo[];
  splitKey: string[];
  splitKind: SplitKind;
  estimatedRows: number;
  chunks: ChunkBounds[];
}

/** Key values travel through JSON in the meta tables; bytes must survive exactly. */
export function encodeKeyTuple(tuple: KeyValue[] | null): string | null {
  if (tuple === null) return null;
  return JSON.stringify(
    tuple.map((v) => {
      if (Buffer.isBuffer(v)) return { b64: v.toString('base64') };
      if (typeof v === 'bigint') return { int: v.toString() };
      return v;
    }),
  );
}

type EncodedKeyValue = string | null | { b64: string } | { int: string };

export function decodeKeyTuple(text: string | null): KeyValue[] | null {
  if (text === null) return null;
  const raw = JSON.parse(text) as EncodedKeyValue[];
  return raw.map((v) => {
    if (v === null || typeof v === 'string') return v;
    return 'b64' in v ? Buffer.from(v.b64, 'base64') : BigInt(v.int);
  });
}

export const INTEGER_TYPES: ReadonlySet<string> = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const BINARY_TYPES: ReadonlySet<string> = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit']);

/**
 * Key values read back as raw bytes and turned into parameters that compare the way the index
 * orders them: integers as BigInt (no double rounding past 2^53), binary as bytes, text as
 * text so the column's collation applies.
 */
export function keyValueOf(column: ColumnInfo, raw: Buffer | null): KeyValue {
  if (raw === null) return null;
  if (INTEGER_TYPES.has(column.dataType)) return BigInt(raw.toString('latin1'));
  if (BINARY_TYPES.has(column.dataType)) return raw;
  return raw.toString('utf8');
}

export function chunkLabel(key: ChunkKey): string {
  return `source "${key.sourceId}" table \`${key.schema}\`.\`${key.table}\` chunk ${key.index}`;
}
