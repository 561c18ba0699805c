import type { ChunkBounds, KeyValue } from './chunk.js';
import { quoteId } from '../sql/quote.js';

interface SqlFragment {
  sql: string;
  params: KeyValue[];
}

/**
 * `(a, b) >= (x, y)` written out as `a > x OR (a = x AND b >= y)`: the same order, but a form
 * every MySQL and MariaDB version turns into an index range instead of a full scan.
 */
export function tupleCompare(columns: string[], op: '>=' | '>' | '<', values: KeyValue[]): SqlFragment {
  const strict = op === '<' ? '<' : '>';
  const terms: string[] = [];
  const params: KeyValue[] = [];
  for (let i = 0; i < columns.length; i++) {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      parts.push(`${quoteId(columns[j]!)} = ?`);
      params.push(values[j]!);
    }
    const last = i === columns.length - 1 && op === '>=' ? '>=' : strict;
    parts.push(`${quoteId(columns[i]!)} ${last} ?`);
    params.push(values[i]!);
    terms.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
  }
  return { sql: terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`, params };
}

/** The WHERE clause selecting exactly one chunk's rows (lower inclusive, upper exclusive). */
export function chunkCondition(columns: string[], bounds: ChunkBounds): SqlFragment {
  const parts: SqlFragment[] = [];
  if (bounds.lower) parts.push(tupleCompare(columns, '>=', bounds.lower));
  if (bounds.upper) parts.push(tupleCompare(columns, '<', bounds.upper));
  if (parts.length === 0) return { sql: '1 = 1', params: [] };
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/**
 * Split [min, max] of an integer key into `count` ranges of equal width. The first and last
 * ranges are open-ended so rows inserted below min or above max during the copy are not missed.
 */
export function integerChunks(min: bigint, max: bigint, count: number): ChunkBounds[] {
  const span = max - min + 1n;
  const n = BigInt(Math.max(1, count)) > span ? span : BigInt(Math.max(1, count));
  const bounds: ChunkBounds[] = [];
  let lower: bigint | null = null;
  for (let i = 1n; i < n; i++) {
    const boundary = min + (span * i) / n;
    bounds.push({ lower: lower === null ? null : [lower], upper: [boundary] });
    lower = boundary;
  }
  bounds.push({ lower: lower === null ? null : [lower], upper: null });
  return bounds;
}

/** Chunks between consecutive keyset boundaries, open at both ends. */
export function keysetChunks(boundaries: KeyValue[][]): ChunkBounds[] {
  const bounds: ChunkBounds[] = [];
  let lower: KeyValue[] | null = null;
  for (const b of boundaries) {
    bounds.push({ lower, upper: b });
    lower = b;
  }
  bounds.push({ lower, upper: null });
  return bounds;
}

export function chunkCountFor(estimatedRows: number, rowsPerChunk: number): number {
  return Math.max(1, Math.ceil(estimatedRows / rowsPerChunk));
}
