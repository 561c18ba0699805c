import type { ColumnInfo, TableInfo } from '../../shared/sql/catalog.js';

/**
 * Types whose text forms compare alike: dmq creates the target from the source's definition,
 * but a server may spell a type its own way (MariaDB's JSON is LONGTEXT, TiDB's is JSON), and an
 * operator may widen an integer. A change of family is a mismatch the diff cannot compare.
 */
const FAMILIES: Record<string, string> = {
  tinyint: 'integer',
  smallint: 'integer',
  mediumint: 'integer',
  int: 'integer',
  integer: 'integer',
  bigint: 'integer',
  year: 'integer',
  decimal: 'decimal',
  numeric: 'decimal',
  float: 'float',
  double: 'float',
  real: 'float',
  bit: 'bit',
  date: 'date',
  datetime: 'datetime',
  timestamp: 'datetime',
  time: 'time',
  char: 'text',
  varchar: 'text',
  tinytext: 'text',
  text: 'text',
  mediumtext: 'text',
  longtext: 'text',
  enum: 'text',
  set: 'text',
  json: 'text',
  binary: 'binary',
  varbinary: 'binary',
  tinyblob: 'binary',
  blob: 'binary',
  mediumblob: 'binary',
  longblob: 'binary',
};

export const typeFamily = (column: ColumnInfo): string => FAMILIES[column.dataType] ?? column.dataType;

/** One shard's view of the target's columns: its own column, or a constant an extract rule adds. */
export type ShardColumn = { kind: 'column'; name: string } | { kind: 'extract'; value: string };

export type ColumnMatch = { ok: true; columns: ShardColumn[] } | { ok: false; problems: string[] };

/**
 * Lines up a source table's columns with the target table's compared columns (generated columns
 * are the target's to compute, so neither side's count). Every problem is one readable line.
 */
export function matchColumns(
  target: ColumnInfo[],
  source: TableInfo,
  extracts: { column: string; value: string }[],
  sourceLabel: string,
): ColumnMatch {
  const own = new Map(source.columns.filter((c) => !c.generated).map((c) => [c.name.toLowerCase(), c]));
  const problems: string[] = [];
  const columns: ShardColumn[] = [];
  for (const t of target) {
    const extract = extracts.find((e) => e.column.toLowerCase() === t.name.toLowerCase());
    if (extract) {
      columns.push({ kind: 'extract', value: extract.value });
      continue;
    }
    const s = own.get(t.name.toLowerCase());
    if (!s) {
      problems.push(`column \`${t.name}\` is on the target but not on ${sourceLabel}`);
      continue;
    }
    own.delete(t.name.toLowerCase());
    if (typeFamily(s) !== typeFamily(t)) {
      problems.push(`column \`${t.name}\` is ${s.columnType} on ${sourceLabel} but ${t.columnType} on the target`);
    }
    columns.push({ kind: 'column', name: s.name });
  }
  for (const s of own.values()) problems.push(`column \`${s.name}\` is on ${sourceLabel} but not on the target`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, columns };
}
