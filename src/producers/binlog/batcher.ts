import type { ApplyBatch, DdlBarrier, EncodedChange, RowOp } from '../../shared/binlog/batch.js';
import type { ColumnKind } from '../../shared/binlog/column-kind.js';
import { compareCoords, coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { encodeRow, type RowValue } from '../../shared/binlog/payload-values.js';
import type { TableRef } from '../../shared/config/types.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';

export interface TableMeta {
  schema: string;
  table: string;
  target: TableRef;
  columns: string[];
  key: string[];
  /** Only for a table with expression filters (see BatchTable). */
  columnKinds?: ColumnKind[];
}

export interface RowsInput {
  table: TableMeta;
  op: RowOp;
  rows: { before?: RowValue[]; after?: RowValue[] }[];
  /** File and end position of the rows event. */
  coord: BinlogCoord;
  eventTime: number;
  gtid: string | null;
}

export interface DdlInput {
  /** One barrier per table the statement is about, the one that runs it first. */
  barriers: {
    table: TableMeta;
    ddl: DdlBarrier;
    /** A table the statement creates: it needs no checkpoint row to start. */
    creates: boolean;
  }[];
  coord: BinlogCoord;
  eventTime: number;
  gtid: string | null;
}

export interface BatcherOptions {
  task: string;
  sourceId: string;
  maxRows: number;
  maxBytes: number;
  /** Where each table already stands (its checkpoint); batches at or below are skipped. */
  applied: Map<string, BinlogCoord>;
  /** The predecessor of a table's first batch when it has no checkpoint. */
  origin: BinlogCoord;
  startIfMissing: boolean;
  /** The reader's fencing epoch, carried by every batch. */
  epoch: number;
  /** Whether a batch at `coord` must be applied idempotently. */
  safeAt(coord: BinlogCoord): boolean;
}

const valueBytes = (v: RowValue) => (v === null ? 1 : Buffer.isBuffer(v) ? v.length : String(v).length);

/**
 * Turns the row events of a stream into ordered per-table batches. Boundaries depend only on
 * the events (a table switch, a commit, the size limits), never on time, so reading the same
 * binlog again yields the same batches with the same coordinates: a restart re-creates exactly
 * the batches it may have queued before, and the applier recognises them.
 */
export function createBatcher(options: BatcherOptions) {
  const last = new Map<string, BinlogCoord>();
  let pending:
    | { table: TableMeta; changes: EncodedChange[]; bytes: number; coord: BinlogCoord; eventTime: number; gtid: string | null }
    | undefined;

  const previousOf = (key: string) => last.get(key) ?? options.applied.get(key) ?? options.origin;

  function close(): ApplyBatch[] {
    if (!pending) return [];
    const p = pending;
    pending = undefined;
    const key = tableKey(p.table.schema, p.table.table);
    const applied = options.applied.get(key);
    const prev = previousOf(key);
    // Only a table's first batch may stand in for a missing checkpoint row: a later batch that
    // found no row would otherwise apply ahead of a first batch still being retried.
    const first = !last.has(key) && applied === undefined;
    last.set(key, p.coord);
    if (applied && compareCoords(p.coord, applied) <= 0) return [];
    return [
      {
        task: options.task,
        sourceId: options.sourceId,
        schema: p.table.schema,
        table: p.table.table,
        target: p.table.target,
        columns: p.table.columns,
        key: p.table.key,
        ...(p.table.columnKinds ? { columnKinds: p.table.columnKinds } : {}),
        coord: coordText(p.coord),
        prev: coordText(prev),
        startIfMissing: options.startIfMissing && first,
        safe: options.safeAt(p.coord),
        changes: p.changes,
        eventTime: p.eventTime,
        gtid: p.gtid,
        bytes: p.bytes,
        epoch: options.epoch,
      },
    ];
  }

  return {
    rows(input: RowsInput): ApplyBatch[] {
      const out: ApplyBatch[] = [];
      if (pending && (pending.table.schema !== input.table.schema || pending.table.table !== input.table.table)) out.push(...close());
      let part = 0;
      for (const row of input.rows) {
        const change: EncodedChange = { op: input.op };
        let bytes = 0;
        if (row.before) {
          change.before = encodeRow(row.before);
          bytes += row.before.reduce<number>((n, v) => n + valueBytes(v), 0);
        }
        if (row.after) {
          change.after = encodeRow(row.after);
          bytes += row.after.reduce<number>((n, v) => n + valueBytes(v), 0);
        }
        if (pending && (pending.changes.length >= options.maxRows || pending.bytes + bytes > options.maxBytes)) {
          // A full batch inside one event: later parts of the event get their own coordinate.
          const full = close();
          out.push(...full);
          part += 1;
        }
        const coord: BinlogCoord = part > 0 ? { ...input.coord, part } : input.coord;
        if (!pending) pending = { table: input.table, changes: [], bytes: 0, coord, eventTime: input.eventTime, gtid: input.gtid };
        pending.changes.push(change);
        pending.bytes += bytes;
        pending.coord = coord;
        pending.eventTime = input.eventTime;
        pending.gtid = input.gtid;
      }
      return out;
    },
    /** End of a transaction: nothing of it stays pending. */
    commit(): ApplyBatch[] {
      return close();
    },
    /** A DDL statement: a barrier without rows in the chain of each table it is about. */
    ddl(input: DdlInput): ApplyBatch[] {
      const out = close();
      for (const u of input.barriers) {
        const key = tableKey(u.table.schema, u.table.table);
        const applied = options.applied.get(key);
        const prev = previousOf(key);
        const first = !last.has(key) && applied === undefined;
        last.set(key, input.coord);
        if (applied && compareCoords(input.coord, applied) <= 0) continue;
        out.push({
          task: options.task,
          sourceId: options.sourceId,
          schema: u.table.schema,
          table: u.table.table,
          target: u.table.target,
          columns: [],
          key: [],
          coord: coordText(input.coord),
          prev: coordText(prev),
          startIfMissing: first && (options.startIfMissing || u.creates),
          safe: false,
          changes: [],
          eventTime: input.eventTime,
          gtid: input.gtid,
          bytes: 0,
          epoch: options.epoch,
          ddl: u.ddl,
        });
      }
      return out;
    },
    /** The tables with a batch read in this run (not the schemas' own streams). */
    streams(): TableRef[] {
      return [...last.keys()]
        .map((k) => JSON.parse(k) as [string, string])
        .filter(([, table]) => table !== '')
        .map(([schema, table]) => ({ schema, table }));
    },
    /** The coordinate of the last batch of a table read in this run, if any. */
    lastOf(schema: string, table: string): string | undefined {
      const coord = last.get(tableKey(schema, table));
      return coord && coordText(coord);
    },
  };
}

export type Batcher = ReturnType<typeof createBatcher>;
