import type { TableRef } from '../config/types.js';
import type { EncodedValue } from './row-values.js';

export type RowOp = 'insert' | 'update' | 'delete';

export interface EncodedChange {
  op: RowOp;
  before?: EncodedValue[];
  after?: EncodedValue[];
}

/**
 * Consecutive row changes of one source table, as the tailer enqueues them for the applier.
 * `coord` orders the table's batches; `prev` names the batch before it, so the applier can
 * apply exactly in order however the queue delivers.
 */
export interface ApplyBatch {
  task: string;
  sourceId: string;
  schema: string;
  table: string;
  target: TableRef;
  columns: string[];
  /** Columns that identify a row (the primary key); empty: compare every column. */
  key: string[];
  coord: string;
  prev: string;
  /** Incremental mode: a table without a checkpoint row starts at `prev`, so it may apply at once. */
  startIfMissing: boolean;
  /** Idempotent statements: the copy, or an earlier run, may already hold these changes. */
  safe: boolean;
  changes: EncodedChange[];
  /** Source time of the last event (ms), for lag. */
  eventTime: number;
  gtid: string | null;
}
