import { Transform } from 'node:stream';
import type { TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import type { KeyValue } from '../../shared/chunk/chunk.js';
import type { BudgetShare } from '../../shared/memory/byte-budget.js';
import { rowKey, rowText, type RawRow, type RenderMode } from '../dump/chunk-read.js';
import { withRowEnd } from '../load/target-writer.js';

/** One INSERT of a direct copy, and where it leaves the chunk. */
export interface StatementPiece {
  /** The whole statement: the prefix, then `(..),(..)`. */
  sql: string;
  rows: number;
  /**
   * Bytes of the rows as chunk-file lines would hold them: the copy's progress, comparable with
   * a dump's, and what the piece holds of the process's budget until the target has it.
   */
  bytes: number;
  /** Split-key value of the last row: a resumed copy reads after it. */
  lastKey: KeyValue[];
}

const COMMA = Buffer.from(',');

/**
 * Rows of a chunk, read in key order, into INSERT statements of about `statementBytes`. Each row
 * holds its bytes of the process's budget from when it is read until its statement is written
 * (the writer gives them back), so all the chunks a process copies together hold at most the
 * budget, however wide their rows. When the budget is short, the rows gathered so far go out as
 * a smaller statement rather than wait: a piece waiting for bytes that only other waiting
 * pieces could give back would never move.
 */
export function statementPieces(
  mode: RenderMode,
  table: TableRecord,
  options: { prefix: string; statementBytes: number; rowEnd: Buffer | undefined; share: BudgetShare },
): Transform {
  const { share } = options;
  const text = rowText(mode, table);
  const key = rowKey(mode, table);
  const prefix = Buffer.from(options.prefix);
  let parts: Buffer[] = [prefix];
  let rows = 0;
  let bytes = 0;
  let last: RawRow | undefined;
  const take = (): StatementPiece => {
    // The prefix joins the rows here, once: pasted on later, the statement would be copied again.
    const piece = { sql: Buffer.concat(parts).toString('utf8'), rows, bytes, lastKey: key(last!) };
    parts = [prefix];
    rows = 0;
    bytes = 0;
    return piece;
  };
  return new Transform({
    objectMode: true,
    writableHighWaterMark: 1,
    readableHighWaterMark: 1,
    transform(row: RawRow, _enc, done) {
      let line: Buffer;
      try {
        line = text(row);
      } catch (err) {
        return done(err as Error);
      }
      const size = line.length + 1;
      const add = () => {
        if (rows > 0) parts.push(COMMA);
        parts.push(withRowEnd(line, options.rowEnd));
        rows += 1;
        bytes += size;
        last = row;
        done(null, bytes >= options.statementBytes ? take() : undefined);
      };
      if (share.tryTake(size)) return add();
      if (rows > 0) this.push(take());
      share.take(size).then(add, done);
    },
    flush(done) {
      done(null, rows > 0 ? take() : undefined);
    },
  });
}
