import type { RowValue } from '../../shared/binlog/payload-values.js';
import { two, utcTimestampIn } from '../../shared/sql/time-zone.js';

// MySQL protocol type codes whose zongji decoding needs correcting.
const TYPE_YEAR = 13;
const TYPE_TIME = 11;
const TYPE_TIME2 = 19;
const TYPE_TIMESTAMP = 7;
const TYPE_TIMESTAMP2 = 17;

/**
 * zongji 0.9 decodes a negative TIME whose seconds are zero with 64 in place of 0 and one
 * unit too few above it (`-01:00:00` arrives as `-00:63:64`). Carry the 64s back.
 */
export function fixNegativeTime(text: string): string {
  const match = /^-(\d+):(\d\d):(\d\d)(\.\d+)?$/.exec(text);
  if (!match) return text;
  let hours = Number(match[1]);
  let minutes = Number(match[2]);
  let seconds = Number(match[3]);
  if (seconds === 64) {
    seconds = 0;
    minutes += 1;
  }
  if (minutes === 64) {
    minutes = 0;
    hours += 1;
  }
  if (minutes === 60) {
    minutes = 0;
    hours += 1;
  }
  return `-${two(hours)}:${two(minutes)}:${two(seconds)}${match[4] ?? ''}`;
}

/**
 * One decoded value as dmq sends it on: exact strings, numbers, bytes or null. zongji gives a
 * TIMESTAMP as UTC text; with a task `timeZone` it becomes that zone's wall clock, the zone the
 * task's sessions run in.
 */
export function normalizeValue(value: unknown, columnType: number, timeZone?: string): RowValue {
  if (value === null || value === undefined) return null;
  if (timeZone !== undefined && (columnType === TYPE_TIMESTAMP || columnType === TYPE_TIMESTAMP2) && typeof value === 'string') {
    return utcTimestampIn(timeZone, value);
  }
  // YEAR 0000 is the only YEAR outside 1901..2155; zongji reports it as 1900.
  if (columnType === TYPE_YEAR && value === 1900) return 0;
  if ((columnType === TYPE_TIME || columnType === TYPE_TIME2) && typeof value === 'string') return fixNegativeTime(value);
  if (Buffer.isBuffer(value) || typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  // Anything else (a parsed JSON value) goes back as its JSON text.
  return JSON.stringify(value);
}

/** A zongji row object (keyed by column name) as values in binlog column order. */
export function rowValues(row: Record<string, unknown>, columns: string[], types: number[], timeZone?: string): RowValue[] {
  // Own properties only: a name like `constructor` must not read Object.prototype.
  return columns.map((name, i) => normalizeValue(Object.hasOwn(row, name) ? row[name] : null, types[i] ?? 0, timeZone));
}
