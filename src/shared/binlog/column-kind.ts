/**
 * What an expression filter must know of a source column to hand its value to a server with
 * the column's type: the reader sends these with the rows of tables that have expression
 * filters, the applier writes each value as an SQL literal of that kind.
 * - `int` (every integer type and YEAR), `decimal`, `float` (FLOAT and DOUBLE), `bit`;
 * - `date`, and `datetime(n)`, `timestamp(n)`, `time(n)` with their fractional digits;
 * - `text` (character strings, ENUM and SET as their text), `binary` (byte strings, spatial),
 *   `json` (MySQL's JSON type; MariaDB's JSON is text).
 */
export type ColumnKind =
  | 'int'
  | 'decimal'
  | 'float'
  | 'bit'
  | 'date'
  | `datetime(${number})`
  | `timestamp(${number})`
  | `time(${number})`
  | 'text'
  | 'binary'
  | 'json';

const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const CHARACTER = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);
/** MariaDB's own types that arrive as their text form. */
const AS_TEXT = new Set(['uuid', 'inet4', 'inet6']);

/**
 * The kind of a column from its COLUMN_TYPE (`datetime(3)`, `int(10) unsigned`, ...) and
 * character set (null or `binary` for byte strings), as information_schema and the binlog's
 * table map both describe columns.
 */
export function columnKind(columnType: string, charset: string | null): ColumnKind {
  const type = columnType.trim().toLowerCase();
  const base = /^[a-z0-9]+/.exec(type)?.[0] ?? '';
  if (INTEGER.has(base)) return 'int';
  if (base === 'decimal' || base === 'numeric') return 'decimal';
  if (base === 'float' || base === 'double' || base === 'real') return 'float';
  if (base === 'bit') return 'bit';
  if (base === 'date') return 'date';
  if (base === 'datetime' || base === 'timestamp' || base === 'time') {
    const digits = Number(/^[a-z]+\((\d)\)/.exec(type)?.[1] ?? 0);
    return `${base}(${digits})`;
  }
  if (base === 'json') return 'json';
  if (AS_TEXT.has(base)) return 'text';
  if (CHARACTER.has(base)) return charset === null || charset.toLowerCase() === 'binary' ? 'binary' : 'text';
  return 'binary';
}
