import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { quoteId } from '../../shared/sql/quote.js';
import { SPATIAL_TYPES } from '../../shared/ddl/target-dialect.js';

/**
 * Chunk files hold rows as SQL value tuples, one per line: `(1,'a',X'00ff',NULL)`. The load
 * joins lines into multi-row INSERTs without parsing them, so every value is rendered once, in
 * a form the target reads back to the identical value: by the source server itself
 * (`serverRowExpression`, the fast path), or here from raw column bytes (`rowEncoder`, for
 * rows too large for the server to render as one value).
 */

/**
 * What to SELECT for a column so that its text form is exact:
 * - BIT arrives as raw bytes; `+0` gives its integer, which any BIT column accepts back.
 * - FLOAT text is rounded to 6 digits by the server; widening to DOUBLE first prints every
 *   digit of the stored value, and the target rounds it back to the same FLOAT.
 */
export function selectExpression(column: ColumnInfo): string {
  const id = quoteId(column.name);
  if (column.dataType === 'bit') return `${id} + 0`;
  if (column.dataType === 'float') return `${id} + 0E0`;
  return id;
}

const NUMERIC_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'year',
  'bit',
]);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', ...SPATIAL_TYPES]);

/**
 * One SELECT expression that renders a whole row as its tuple line, so the source does in C
 * what would otherwise cost a JavaScript call per value. Every part is non-NULL by
 * construction (QUOTE(NULL) is the word NULL), so a NULL row means CONCAT overflowed
 * max_allowed_packet, never a value. Text goes through utf8mb4 (CONCAT of latin1 and utf8mb4
 * columns would be an illegal mix); QUOTE leaves newlines raw, and a raw newline would end
 * the line, so they are escaped after it.
 */
export function serverRowExpression(columns: ColumnInfo[]): string {
  const parts = columns.map((column) => {
    const value = selectExpression(column);
    if (NUMERIC_TYPES.has(column.dataType)) return `IFNULL(${value}, 'NULL')`;
    // IF, not IFNULL: an overflowing HEX is NULL too, and must make the row NULL, not the value.
    if (BINARY_TYPES.has(column.dataType)) return `IF(${value} IS NULL, 'NULL', CONCAT('X''', HEX(${value}), ''''))`;
    return `REPLACE(QUOTE(CONVERT(${value} USING utf8mb4)), '\\n', '\\\\n')`;
  });
  return `CONCAT('(', ${parts.join(", ',', ")}, ')')`;
}

const ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
  "'": "\\'",
  '\\': '\\\\',
};

/** Backslash escapes, as the target reads them when NO_BACKSLASH_ESCAPES is off (dmq sets the load session's sql_mode). */
export function quoteString(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and Ctrl-Z are exactly what MySQL's escaping names
  return `'${text.replace(/[\0\n\r\x1a'\\]/g, (c) => ESCAPES[c] ?? c)}'`;
}

export function hexLiteral(bytes: Buffer): string {
  return `X'${bytes.toString('hex')}'`;
}

type LiteralEncoder = (raw: Buffer | null) => string;

/**
 * How a column's raw text-protocol bytes become its SQL literal. Numbers come as ASCII and stay
 * unquoted; binary strings become hex so any byte survives; text arrives in utf8mb4 (the
 * session's result character set) and goes back in utf8mb4, which the target converts to the
 * column's own character set, exactly inverting the source's conversion.
 */
export function literalEncoder(column: ColumnInfo): LiteralEncoder {
  if (NUMERIC_TYPES.has(column.dataType)) return (raw) => (raw === null ? 'NULL' : raw.toString('latin1'));
  if (BINARY_TYPES.has(column.dataType)) return (raw) => (raw === null ? 'NULL' : hexLiteral(raw));
  return (raw) => (raw === null ? 'NULL' : quoteString(raw.toString('utf8')));
}

/** One chunk-file line for one row read with `rowsAsArray` and `typeCast: false`. */
export function rowEncoder(columns: ColumnInfo[]): (row: (Buffer | null)[]) => string {
  const encoders = columns.map(literalEncoder);
  return (row) => {
    let line = '(';
    for (let i = 0; i < encoders.length; i++) {
      if (i > 0) line += ',';
      line += encoders[i]!(row[i] ?? null);
    }
    return `${line})\n`;
  };
}
