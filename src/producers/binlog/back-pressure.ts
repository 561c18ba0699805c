/**
 * Batches queued but not yet applied, above which the reader stops reading the binlog. A batch of
 * a one-row transaction is a few hundred bytes here and in Redis; the low mark is half a second
 * or more of the appliers' work, several of the paused reader's polls, so they do not run dry
 * before it reads again.
 */
const BACKLOG_HIGH = 10_000;
const BACKLOG_LOW = 5_000;
/**
 * The same in row bytes, so big rows cannot fill Redis's memory before the count is reached. A
 * few seconds of the appliers' work: more only costs memory.
 */
const BACKLOG_HIGH_BYTES = 64 << 20;
const BACKLOG_LOW_BYTES = 32 << 20;
/**
 * Row bytes decoded but not yet handed to Redis: these are on this process's heap, and a big
 * transaction decodes faster than Redis takes it.
 */
const HELD_HIGH_BYTES = 24 << 20;
const HELD_LOW_BYTES = 8 << 20;
/**
 * The same in source transactions the reader holds (one small entry each): the ledger keeps
 * only transactions with a batch not yet applied, so this mark is met when many small
 * transactions are read between two settles, or each holds a batch of a table that waits.
 */
const BACKLOG_HIGH_TRANSACTIONS = 20_000;
const BACKLOG_LOW_TRANSACTIONS = 10_000;

/** What the reader has queued and the appliers have not yet applied. */
export interface Backlog {
  pendingBatches: number;
  pendingBytes: number;
  pendingTransactions: number;
}

/** After batches were queued (`held`: row bytes not yet in Redis): whether reading must pause until the appliers catch up. */
export function backlogFull(backlog: Backlog, held: number): boolean {
  return (
    held >= HELD_HIGH_BYTES ||
    backlog.pendingBatches >= BACKLOG_HIGH ||
    backlog.pendingBytes >= BACKLOG_HIGH_BYTES ||
    backlog.pendingTransactions >= BACKLOG_HIGH_TRANSACTIONS
  );
}

/**
 * After the checkpoints were read: whether paused reading may go on. Below both low marks
 * only, so reading does not flap at the high mark.
 */
export function backlogDrained(backlog: Backlog, held: number): boolean {
  return (
    held <= HELD_LOW_BYTES &&
    backlog.pendingBatches <= BACKLOG_LOW &&
    backlog.pendingBytes <= BACKLOG_LOW_BYTES &&
    backlog.pendingTransactions <= BACKLOG_LOW_TRANSACTIONS
  );
}

/** The transaction mark, for the reader's status. */
export const TRANSACTION_LIMIT = BACKLOG_HIGH_TRANSACTIONS;

/** Batches pending above which the appliers count as lagging. */
const BEHIND_BATCHES = 500;

/** Whether the appliers lag enough that batches are handed to Redis less often, in larger jobs. */
export function appliersBehind(backlog: Backlog): boolean {
  return backlog.pendingBatches > BEHIND_BATCHES;
}
