import { Transform } from 'node:stream';
import type { TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import type { KeyValue } from '../../shared/chunk/chunk.js';
import { rowKey, rowText, type RawRow, type RenderMode } from '../dump/chunk-read.js';
import { withRowEnd } from '../load/target-writer.js';

/** The rows of one INSERT of a direct copy, and where they leave the chunk. */
export interface StatementPiece {
  /** The VALUES part: `(..),(..)`. */
  values: string;
  rows: number;
  /** Bytes of the rows as chunk-file lines would hold them: the copy's progress, comparable with a dump's. */
  bytes: number;
  /** Split-key value of the last row: a resumed copy reads after it. */
  lastKey: KeyValue[];
}

const COMMA = Buffer.from(',');

/**
 * Rows of a chunk, read in key order, into INSERT-sized pieces of about `statementBytes`.
 * Pieces queue up to `ahead` at a time, so the source is read while the target writes the piece
 * before, and memory stays bounded by a few statements.
 */
export function statementPieces(
  mode: RenderMode,
  table: TableRecord,
  options: { statementBytes: number; rowEnd: Buffer | undefined; ahead?: number },
): Transform {
  const text = rowText(mode, table);
  const key = rowKey(mode, table);
  let parts: Buffer[] = [];
  let rows = 0;
  let bytes = 0;
  let last: RawRow | undefined;
  const take = (): StatementPiece => {
    const piece = { values: Buffer.concat(parts).toString('utf8'), rows, bytes, lastKey: key(last!) };
    parts = [];
    rows = 0;
    bytes = 0;
    return piece;
  };
  return new Transform({
    objectMode: true,
    readableHighWaterMark: options.ahead ?? 2,
    transform(row: RawRow, _enc, done) {
      let tuple: Buffer;
      try {
        tuple = text(row);
      } catch (err) {
        return done(err as Error);
      }
      if (rows > 0) parts.push(COMMA);
      parts.push(withRowEnd(tuple, options.rowEnd));
      rows += 1;
      bytes += tuple.length + 1;
      last = row;
      done(null, bytes >= options.statementBytes ? take() : undefined);
    },
    flush(done) {
      done(null, rows > 0 ? take() : undefined);
    },
  });
}
