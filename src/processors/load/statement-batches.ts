import type { Readable } from 'node:stream';
import { withRowEnd } from './target-writer.js';

/**
 * Cut a chunk file (one row tuple per line) into INSERT statements and the statements into
 * transactions, tracking byte offsets so a load can resume exactly after its last commit.
 * Lines split at 0x0A: a newline never occurs inside a row (values escape it) nor inside a
 * UTF-8 multi-byte sequence.
 */
export interface BatchLimits {
  /** Bytes of row text per statement: well under max_allowed_packet on every target. */
  statementBytes: number;
  /** Bytes per transaction: well inside TiDB's txn-total-size-limit (100 MiB by default). */
  transactionBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  statementBytes: 1 << 20,
  transactionBytes: 8 << 20,
};

export interface Transaction {
  /** Row lists, each the VALUES part of one statement: `(..),(..)`. */
  statements: string[];
  rows: number;
  /** Offset in the file just after this transaction's last line. */
  endOffset: number;
}

const NEWLINE = 0x0a;
const COMMA = Buffer.from(',');

export async function* transactions(
  file: Readable,
  startOffset: number,
  options: {
    limits?: BatchLimits | undefined /** Replaces each row's closing `)`: values to append to every row. */;
    rowEnd?: Buffer | undefined;
  } = {},
): AsyncGenerator<Transaction> {
  const limits = options.limits ?? DEFAULT_BATCH_LIMITS;
  const { rowEnd } = options;
  let offset = startOffset;
  let carry: Buffer = Buffer.alloc(0);
  let lines: Buffer[] = [];
  let lineBytes = 0;
  let statements: string[] = [];
  let txnBytes = 0;
  let txnRows = 0;

  const closeStatement = () => {
    if (lines.length === 0) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(lines[i]!);
    }
    statements.push(Buffer.concat(parts).toString('utf8'));
    txnRows += lines.length;
    txnBytes += lineBytes;
    lines = [];
    lineBytes = 0;
  };
  const takeTransaction = (): Transaction => {
    const txn = { statements, rows: txnRows, endOffset: offset };
    statements = [];
    txnBytes = 0;
    txnRows = 0;
    return txn;
  };

  for await (const piece of file as AsyncIterable<Buffer>) {
    const data = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
    let start = 0;
    for (;;) {
      const end = data.indexOf(NEWLINE, start);
      if (end < 0) break;
      lines.push(withRowEnd(data.subarray(start, end), rowEnd));
      lineBytes += end - start + 1;
      offset += end - start + 1;
      start = end + 1;
      if (lineBytes >= limits.statementBytes) {
        closeStatement();
        if (txnBytes >= limits.transactionBytes) yield takeTransaction();
      }
    }
    carry = Buffer.from(data.subarray(start));
  }
  if (carry.length > 0) throw new Error(`chunk file ends without a newline after offset ${offset}: it is truncated`);
  closeStatement();
  if (statements.length > 0) yield takeTransaction();
}
