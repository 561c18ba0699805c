import type { TableRef } from '../config/types.js';
import type { EncodedValue } from './row-values.js';

export type RowOp = 'insert' | 'update' | 'delete';

export interface EncodedChange {
  op: RowOp;
  before?: EncodedValue[];
  after?: EncodedValue[];
}

/** Which source table a batch belongs to and how its rows are written on the target. */
export interface BatchTable {
  task: string;
  sourceId: string;
  schema: string;
  table: string;
  target: TableRef;
  columns: string[];
  /** Columns that identify a row (the primary key); empty: compare every column. */
  key: string[];
}

/**
 * Consecutive row changes of one source table within one transaction (or one part of a huge
 * one). `coord` orders the table's batches; `prev` names the batch before it, so the applier
 * can apply exactly in order however the queue delivers. Batch boundaries depend only on the
 * binlog, so a restarted reader re-creates the same batches.
 */
export interface BatchUnit {
  coord: string;
  prev: string;
  /** Idempotent statements: the copy, or an earlier run, may already hold these changes. */
  safe: boolean;
  changes: EncodedChange[];
  /** Source time of the last event (ms), for lag. */
  eventTime: number;
  gtid: string | null;
}

/** A batch as the reader cuts it. */
export interface ApplyBatch extends BatchTable, BatchUnit {
  /** Incremental mode: a table without a checkpoint row starts at `prev`, so it may apply at once. */
  startIfMissing: boolean;
  /** Approximate size of the row values, to bound jobs. */
  bytes: number;
}

/**
 * One apply job: a chain of consecutive batches of one table (each unit's `prev` is the
 * `coord` before it), applied in one target transaction. How batches are grouped into jobs
 * may differ from one reader run to the next; the applier skips the units a job's table
 * already covers, so overlapping jobs are harmless.
 */
export interface ApplyJob extends BatchTable {
  startIfMissing: boolean;
  units: BatchUnit[];
}
