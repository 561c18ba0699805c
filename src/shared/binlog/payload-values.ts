/**
 * Row values travel from the binlog reader to the appliers as JSON in Redis. JSON has no 64-bit
 * integers and no bytes, so those are tagged: `{ "$int": "18446744073709551615" }`,
 * `{ "$bytes": "<base64>" }`. Everything else (strings, doubles, null) is plain JSON.
 */
export type RowValue = string | number | bigint | Buffer | null;
export type EncodedValue = string | number | null | { $int: string } | { $bytes: string };

export function encodeValue(value: RowValue): EncodedValue {
  if (typeof value === 'bigint') return { $int: value.toString() };
  if (Buffer.isBuffer(value)) return { $bytes: value.toString('base64') };
  return value;
}

export function decodeValue(value: EncodedValue): RowValue {
  if (value === null || typeof value !== 'object') return value;
  return '$int' in value ? BigInt(value.$int) : Buffer.from(value.$bytes, 'base64');
}

const tagged = (v: RowValue) => typeof v === 'bigint' || Buffer.isBuffer(v);

/** The row itself when no value needs a tag, as most rows: one array less per row image read. */
export const encodeRow = (row: RowValue[]): EncodedValue[] => (row.some(tagged) ? row.map(encodeValue) : (row as EncodedValue[]));
export const decodeRow = (row: EncodedValue[]): RowValue[] => row.map(decodeValue);
