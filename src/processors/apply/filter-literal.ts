import type { ColumnKind } from '../../shared/binlog/column-kind.js';
import type { RowValue } from '../../shared/binlog/payload-values.js';
import type { TargetDialect } from '../../shared/ddl/target-dialect.js';

/**
 * A binlog value as an SQL literal of its column's type, so that the target evaluates an
 * expression filter on it as on the source column: numbers bare (a float in E notation, so it
 * stays a DOUBLE), temporal values cast to their type (TIMESTAMP to DATETIME), text as utf8mb4
 * bytes, bytes in hex.
 * Nothing of the value is pasted as text: strings go as hex.
 */

const hex = (bytes: Buffer) => `X'${bytes.toString('hex')}'`;

/**
 * DM evaluates filters with TiDB's expression code outside a TiDB server, where strings compare
 * by their bytes whatever the column's collation; utf8mb4_bin does the same on every target.
 */
function textLiteral(text: string): string {
  return `_utf8mb4 ${hex(Buffer.from(text, 'utf8'))} COLLATE utf8mb4_bin`;
}

const INTEGER = /^[-+]?\d+$/;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
/** The characters of a DATE, DATETIME or TIME as the binlog reader writes them. */
const TEMPORAL = /^-?[\d: .-]+$/;

function numberLiteral(value: number): string {
  return Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? String(value) : value.toExponential();
}

function temporalLiteral(text: string, type: string): string {
  return `CAST(${TEMPORAL.test(text) ? `'${text}'` : textLiteral(text)} AS ${type})`;
}

/** A value whose column kind is unknown (a job queued by an older dmq): its form says what it is. */
function plainLiteral(value: Exclude<RowValue, null>): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return numberLiteral(value);
  if (Buffer.isBuffer(value)) return hex(value);
  return textLiteral(value);
}

export function filterLiteral(value: RowValue, kind: ColumnKind | undefined, target: TargetDialect['kind']): string {
  if (value === null) return 'NULL';
  const text = typeof value === 'string' ? value : undefined;
  switch (kind) {
    case 'int':
      if (typeof value === 'number' || typeof value === 'bigint') return plainLiteral(value);
      return text !== undefined && INTEGER.test(text) ? text : plainLiteral(value);
    case 'decimal':
      return text !== undefined && NUMBER.test(text) ? text : plainLiteral(value);
    case 'float':
      return typeof value === 'number' ? value.toExponential() : plainLiteral(value);
    case 'bit':
      // BIT compares as the unsigned integer of its bytes.
      return Buffer.isBuffer(value) ? BigInt(`0x${value.toString('hex') || '0'}`).toString() : plainLiteral(value);
    case 'date':
      return text !== undefined ? temporalLiteral(text, 'DATE') : plainLiteral(value);
    case 'text':
      return text !== undefined ? textLiteral(text) : plainLiteral(value);
    case 'binary':
      return text !== undefined ? hex(Buffer.from(text, 'utf8')) : plainLiteral(value);
    case 'json':
      // MariaDB has no JSON type: its JSON functions take text.
      if (text === undefined) return plainLiteral(value);
      return target === 'mariadb' ? textLiteral(text) : `CAST(${textLiteral(text)} AS JSON)`;
    case undefined:
      return plainLiteral(value);
    default: {
      // The reader writes a TIMESTAMP as its wall clock in the task's zone, the zone the target
      // session runs in: as a DATETIME it reads as the column reads there.
      const [, type = '', digits = '0'] = /^(\w+)\((\d)\)$/.exec(kind) ?? [];
      if (text === undefined) return plainLiteral(value);
      return temporalLiteral(text, `${type === 'time' ? 'TIME' : 'DATETIME'}(${digits})`);
    }
  }
}
