import type { TableRef } from '../config/types.js';
import type { ColumnKind } from './column-kind.js';
import type { EncodedValue } from './payload-values.js';

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
  /**
   * The kinds of the source's own columns (the first `columnKinds.length` of `columns`; the
   * values a route extracts follow them), for expression filters: only tables that have some.
   */
  columnKinds?: ColumnKind[];
  /**
   * The lane of a table split into lanes (see lanes.ts); absent: the table's own chain, which
   * holds everything of a table without lanes and the joins of a table with them.
   */
  lane?: LaneRef;
}

/** One of `count` lanes of a table: its own chain of batches and its own checkpoint row. */
export interface LaneRef {
  index: number;
  count: number;
}

/**
 * Consecutive row changes of one source table within one transaction (or one part of a huge
 * one). `coord` orders the table's batches; `prev` names the batch before it, so the applier
 * can apply exactly in order however the queue delivers. Batch boundaries depend only on the
 * binlog, so a restarted reader re-creates the same batches.
 */
export interface Batch {
  coord: string;
  prev: string;
  /** Idempotent statements: the copy, or an earlier run, may already hold these changes. */
  safe: boolean;
  changes: EncodedChange[];
  /** Source time of the last event (ms), for lag. */
  eventTime: number;
  gtid: string | null;
  /**
   * With `enable-gtid`: the GTID set of every transaction read up to and with this batch's. Its
   * chain's checkpoint keeps it, so that a switch of server knows what the chain holds.
   */
  gtidSet?: string;
  /** A schema change instead of rows: a batch of its own, a barrier in its table's chain. */
  ddl?: DdlBarrier;
  /**
   * A join of a table with lanes (a DDL, or a change whose keys could meet another lane's): where
   * each lane must stand before it applies. Every lane's later batches follow it.
   */
  join?: DdlWait[];
}

/** Where another stream must stand before a DDL barrier may run. */
export interface DdlWait {
  schema: string;
  table: string;
  /** A lane of the table: it stands at its own checkpoint or its table's, whichever is further. */
  lane?: LaneRef;
  coord: string;
}

/**
 * One DDL statement in a table's chain. A statement about several tables (RENAME, DROP
 * DATABASE, CREATE TABLE after a DROP DATABASE) runs in the first table's chain once the
 * others have applied what came before it; the others' chains hold a barrier without
 * statements that waits for it to run, so their later rows follow it.
 */
export interface DdlBarrier {
  /** The statement as the source ran it, for errors and logs. */
  source: string;
  kind: string;
  /** What the target runs, names routed; empty in the barriers that only wait. */
  target: string[];
  after: DdlWait[];
  shard: ShardRole;
}

/**
 * What a DDL of a shard does to a merged target table (shard-mode set; `none` otherwise):
 * `lock` runs it once every shard has reached it; `first` (optimistic mode, a DDL that only
 * adds) runs it when the first shard reaches it; `leave` (DROP TABLE) and `unmerged-only`
 * (TRUNCATE, RENAME) run it only on a table no other shard merges into, and `leave` takes the
 * shard out of later locks; `join` (CREATE TABLE) runs it and brings a shard that left back.
 */
export type ShardRole = 'none' | 'lock' | 'first' | 'leave' | 'unmerged-only' | 'join';

/** A batch as the reader cuts it. */
export interface ApplyBatch extends BatchTable, Batch {
  /** Incremental mode: a table without a checkpoint row starts at `prev`, so it may apply at once. */
  startIfMissing: boolean;
  /** Approximate size of the row values, to bound jobs. */
  bytes: number;
  /** The fencing epoch of the reader that cut it (see ApplyJob.epoch). */
  epoch: number;
}

/**
 * One apply job: a chain of consecutive batches of one table (each batch's `prev` is the
 * `coord` before it), applied in one target transaction. How batches are grouped into jobs
 * may differ from one reader run to the next; the applier skips the batches a job's table
 * already covers, so overlapping jobs are harmless.
 */
export interface ApplyJob extends BatchTable {
  startIfMissing: boolean;
  /**
   * The fencing epoch of the reader that cut the job: the applier refuses it once a later reader
   * of the source has started. Missing in jobs queued by a release before fencing: they count as
   * epoch 0, refused once a reader of this release started, which re-reads their batches.
   */
  epoch?: number;
  batches: Batch[];
}
