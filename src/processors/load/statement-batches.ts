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

/** One INSERT's rows, and where the file stands after them. */
export interface LoadStatement {
  /** The VALUES part: `(..),(..)`. */
  values: string;
  rows: number;
  /** Offset in the file just after this statement's last line. */
  endOffset: number;
  /** The transaction reached `transactionBytes` with this statement: it commits now. The file's end closes the last one too. */
  closesTransaction: boolean;
}

export interface Transaction {
  /** Row lists, each the VALUES part of one statement: `(..),(..)`. */
  statements: string[];
  rows: number;
  /** Offset in the file just after this transaction's last line. */
  endOffset: number;
}

const NEWLINE = 0x0a;
const COMMA = Buffer.from(',');

/**
 * The file's statements one at a time, each made only when the caller asks for it: a load
 * holds one statement, not a transaction of them, however wide the rows.
 */
export async function* statements(
  file: Readable,
  startOffset: number,
  options: {
    limits?: BatchLimits | undefined;
    /** Replaces each row's closing `)`: values to append to every row. */
    rowEnd?: Buffer | undefined;
  } = {},
): AsyncGenerator<LoadStatement> {
  const limits = options.limits ?? DEFAULT_BATCH_LIMITS;
  const { rowEnd } = options;
  let offset = startOffset;
  let carry: Buffer = Buffer.alloc(0);
  let lines: Buffer[] = [];
  let lineBytes = 0;
  let txnBytes = 0;

  const take = (): LoadStatement => {
    const parts: Buffer[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(lines[i]!);
    }
    txnBytes += lineBytes;
    const closesTransaction = txnBytes >= limits.transactionBytes;
    const statement = { values: Buffer.concat(parts).toString('utf8'), rows: lines.length, endOffset: offset, closesTransaction };
    if (closesTransaction) txnBytes = 0;
    lines = [];
    lineBytes = 0;
    return statement;
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
      if (lineBytes >= limits.statementBytes) yield take();
    }
    carry = Buffer.from(data.subarray(start));
  }
  if (carry.length > 0) throw new Error(`chunk file ends without a newline after offset ${offset}: it is truncated`);
  if (lines.length > 0) yield take();
}

/** The file's statements grouped by the transactions they commit in. */
export async function* transactions(
  file: Readable,
  startOffset: number,
  options: { limits?: BatchLimits | undefined; rowEnd?: Buffer | undefined } = {},
): AsyncGenerator<Transaction> {
  let txn: Transaction = { statements: [], rows: 0, endOffset: startOffset };
  for await (const statement of statements(file, startOffset, options)) {
    txn.statements.push(statement.values);
    txn.rows += statement.rows;
    txn.endOffset = statement.endOffset;
    if (!statement.closesTransaction) continue;
    yield txn;
    txn = { statements: [], rows: 0, endOffset: statement.endOffset };
  }
  if (txn.statements.length > 0) yield txn;
}
