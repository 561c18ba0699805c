import { createHash } from 'node:crypto';
import type { KeyValue } from '../../shared/chunk/chunk.js';
import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { keyValueOf } from '../../shared/chunk/chunk.js';
import { typeFamily } from './diff-columns.js';

/** A row as `rowsQuery` reads it (rowsAsArray, typeCast off): the key's values, then every column's. */
export type RawRow = (Buffer | null)[];

export type DifferenceKind = 'missing' | 'extra' | 'changed';

/** A row that differs: `missing` from the target, `extra` on it, or `changed` (both have the key). */
export interface RowDifference {
  kind: DifferenceKind;
  /** The key's values (a keyless table: every column's), as parameters that find the row again. */
  key: KeyValue[];
  /** The source's row (missing, changed) or the target's (extra): what a fix writes or deletes. */
  row: RawRow;
  /** How many such rows: a keyless table may hold a row several times. */
  count: number;
}

/** Canonical JSON text: keys sorted, no spaces, as two servers that print JSON differently agree on. */
function canonicalJson(text: string): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  try {
    return JSON.stringify(sort(JSON.parse(text)));
  } catch {
    return text;
  }
}

/**
 * How a column's raw text is compared: floats as the numbers they print (servers print a double
 * with different digits and exponents), JSON parsed (TiDB stores it binary and prints it
 * normalized, MariaDB keeps the text it was given); everything else byte for byte.
 */
function normalizer(column: ColumnInfo): (raw: Buffer) => Buffer | string {
  if (typeFamily(column) === 'float') return (raw) => String(Number(raw.toString('latin1')));
  if (column.dataType === 'json') return (raw) => canonicalJson(raw.toString('utf8'));
  return (raw) => raw;
}

export interface RowShape {
  key: ColumnInfo[];
  columns: ColumnInfo[];
}

/** Reads rows of one shape: the key's identity, the key's values and a digest of the compared columns. */
export function rowReader(shape: RowShape) {
  const width = shape.key.length;
  const normalize = shape.columns.map(normalizer);
  return {
    keyText(row: RawRow): string {
      return row
        .slice(0, width)
        .map((b) => (b === null ? '-' : b.toString('hex')))
        .join('.');
    },
    keyValues(row: RawRow): KeyValue[] {
      return shape.key.map((c, i) => keyValueOf(c, row[i] ?? null));
    },
    digest(row: RawRow): string {
      const hash = createHash('sha1');
      for (let i = 0; i < normalize.length; i++) {
        const raw = row[width + i] ?? null;
        if (raw === null) {
          hash.update('\0N');
          continue;
        }
        const value = normalize[i]!(raw);
        const bytes = typeof value === 'string' ? Buffer.from(value) : value;
        hash.update(`${bytes.length}:`);
        hash.update(bytes);
      }
      return hash.digest('base64');
    },
    /** The compared columns' part of a row. */
    values(row: RawRow): RawRow {
      return row.slice(width);
    },
  };
}

export type RowReader = ReturnType<typeof rowReader>;

/**
 * Rows of one key range compared by key: the source's digests are held (one chunk's worth,
 * never a table's), the target's rows stream past them.
 */
export function keyedComparison(reader: RowReader) {
  const source = new Map<string, { digest: string; row: RawRow }>();
  const differences: RowDifference[] = [];
  return {
    addSource(row: RawRow): void {
      source.set(reader.keyText(row), { digest: reader.digest(row), row });
    },
    addTarget(row: RawRow): void {
      const key = reader.keyText(row);
      const theirs = source.get(key);
      if (!theirs) {
        differences.push({ kind: 'extra', key: reader.keyValues(row), row: reader.values(row), count: 1 });
        return;
      }
      source.delete(key);
      if (theirs.digest !== reader.digest(row)) {
        differences.push({ kind: 'changed', key: reader.keyValues(theirs.row), row: reader.values(theirs.row), count: 1 });
      }
    },
    /** What differs once both sides are read; the source rows no target row matched are missing. */
    finish(): RowDifference[] {
      for (const { row } of source.values()) {
        differences.push({ kind: 'missing', key: reader.keyValues(row), row: reader.values(row), count: 1 });
      }
      source.clear();
      return differences;
    },
  };
}

/**
 * Rows of a keyless table compared as a multiset of whole rows: a row is its own key, and a row
 * the source holds twice and the target once is one row missing.
 */
export function multisetComparison(reader: RowReader) {
  const rows = new Map<string, { count: number; row: RawRow }>();
  const add = (row: RawRow, by: number) => {
    const digest = reader.digest(row);
    const entry = rows.get(digest) ?? { count: 0, row };
    entry.count += by;
    if (entry.count === 0) rows.delete(digest);
    else rows.set(digest, entry);
  };
  return {
    addSource: (row: RawRow) => add(row, 1),
    addTarget: (row: RawRow) => add(row, -1),
    finish(): RowDifference[] {
      const differences = [...rows.values()].map(({ count, row }) => ({
        kind: (count > 0 ? 'missing' : 'extra') as DifferenceKind,
        key: [],
        row: reader.values(row),
        count: Math.abs(count),
      }));
      rows.clear();
      return differences;
    },
  };
}
