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

export function chunkLabel(key: ChunkKey): string {
  return `source "${key.sourceId}" table \`${key.schema}\`.\`${key.table}\` chunk ${key.index}`;
}
