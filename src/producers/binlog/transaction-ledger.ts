import { compareCoords, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import type { LaneRef } from '../../shared/binlog/batch.js';
import { laneStands, type TableLanes } from '../../shared/checkpoint/lane-checkpoint.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import type { Backlog } from './back-pressure.js';

/** recentTps is the rate of transactions applied over about this window. */
const TPS_WINDOW_MS = 10_000;

interface LedgerBatch {
  key: string;
  lane: LaneRef | undefined;
  coord: BinlogCoord;
  bytes: number;
}

/** One source transaction read: where it starts and the batches it was cut into. */
interface LedgerTransaction {
  start: BinlogCoord;
  /** With GTID tracking: the set of every transaction before it. */
  gtidBefore: string | undefined;
  /** Source time of the transaction (ms, whole seconds as the binlog keeps them). */
  eventTime: number;
  batches: LedgerBatch[];
}

/** What the ledger knows once it has compared its batches with the tables' checkpoints. */
export interface LedgerFigures {
  pendingBatches: number;
  pendingBytes: number;
  /** Transactions read and held: not fully applied, or still being read. */
  pendingTransactions: number;
  /** Source time of the oldest transaction read but not yet applied (0: none). */
  oldestPendingTime: number;
  appliedTransactions: number;
  recentTps: number;
}

export interface Settlement {
  /** Where the reader may resume without missing anything: the global checkpoint (none yet: undefined). */
  resume: BinlogCoord | undefined;
  /** With GTID tracking: every transaction before `resume`. */
  resumeGtid: string | undefined;
  figures: LedgerFigures;
}

/**
 * Which source transactions the appliers have fully applied, given each table's checkpoint.
 * The global checkpoint is the start of the oldest transaction not fully applied, else the last
 * place read outside a transaction. Pure: the reader tells it what it read and what the target's
 * checkpoints say.
 *
 * It holds only transactions with a batch not yet applied (and the one being read): a fully
 * applied transaction is dropped wherever it stands, not only from the head, because the global
 * checkpoint depends on the oldest unapplied one alone. A batch held for hours (its table's copy
 * is slow) then holds one entry, not every transaction of other tables read since; what stays is
 * bounded by the pending batches, which back-pressure bounds.
 */
export function createTransactionLedger() {
  let transactions: LedgerTransaction[] = [];
  let current: LedgerTransaction | undefined;
  let lastCommit: BinlogCoord | undefined;
  let lastCommitGtid: string | undefined;
  let pendingBatches = 0;
  let pendingBytes = 0;
  let appliedTransactions = 0;
  const tpsSamples: { at: number; applied: number }[] = [];

  return {
    /**
     * A new connection reads again from `from`: what the last one read is forgotten. The
     * counts stay, and the pending figures until the next settle.
     */
    restart(from: BinlogCoord | undefined, gtid?: string): void {
      transactions = [];
      current = undefined;
      lastCommit = from;
      lastCommitGtid = gtid;
    },
    /**
     * A transaction starts at `start`, where the event before it ended: a boundary the server
     * accepts; `gtidBefore`, with GTID tracking, is the set of every transaction before it.
     */
    begin(start: BinlogCoord, eventTime: number, gtidBefore?: string): void {
      current = { start, gtidBefore, eventTime, batches: [] };
      transactions.push(current);
    },
    /** Batches cut from the open transaction: pending until their tables' checkpoints pass them. */
    add(batches: { schema: string; table: string; lane?: LaneRef; coord: string; bytes: number }[]): void {
      for (const b of batches) {
        current?.batches.push({ key: tableKey(b.schema, b.table), lane: b.lane, coord: parseCoordText(b.coord), bytes: b.bytes });
        pendingBytes += b.bytes;
      }
      pendingBatches += batches.length;
    },
    /** The transaction ended at `end`: its commit, or a statement that is a transaction of its own (`gtid`: the set with it). */
    commit(end: BinlogCoord, gtid?: string): void {
      lastCommit = end;
      lastCommitGtid = gtid;
      current = undefined;
    },
    /** An event ended at `end`: outside a transaction every event end is a safe place to resume (and to call synced). */
    passed(end: BinlogCoord): void {
      if (!current) lastCommit = end;
    },
    /** Whether this run has read past `coord`: a batch there, if any, was cut and handed on. */
    readPast(coord: BinlogCoord): boolean {
      return lastCommit !== undefined && compareCoords(lastCommit, coord) > 0;
    },
    inTransaction(): boolean {
      return current !== undefined;
    },
    /** Batches and row bytes read but not yet applied, as of the last settle plus what was added since. */
    backlog(): Backlog {
      return { pendingBatches, pendingBytes, pendingTransactions: transactions.length };
    },
    /**
     * Retires every transaction whose batches are all applied at time `now`: `applied` holds each
     * table's checkpoint, `lanes` those of the lanes of tables split into lanes.
     */
    settle(applied: Map<string, BinlogCoord>, now: number, lanes: Map<string, TableLanes[]> = new Map()): Settlement {
      const covered = (b: LedgerBatch) => {
        const laneAt =
          b.lane &&
          lanes
            .get(b.key)
            ?.find((l) => l.count === b.lane!.count)
            ?.at.get(b.lane.index);
        const at = b.lane ? laneStands(laneAt || undefined, applied.get(b.key)) : applied.get(b.key);
        return at !== undefined && compareCoords(at, b.coord) >= 0;
      };
      // One pass, each batch compared once: up to the back-pressure mark of them, every 100 ms
      // while reading is paused.
      const held: LedgerTransaction[] = [];
      let oldestPendingTime = 0;
      pendingBatches = 0;
      pendingBytes = 0;
      for (const t of transactions) {
        let open = 0;
        for (const b of t.batches) {
          if (covered(b)) continue;
          open += 1;
          pendingBytes += b.bytes;
        }
        pendingBatches += open;
        if (open > 0 && oldestPendingTime === 0) oldestPendingTime = t.eventTime;
        if (open > 0 || t === current) held.push(t);
      }
      appliedTransactions += transactions.length - held.length;
      transactions = held;
      tpsSamples.push({ at: now, applied: appliedTransactions });
      while (tpsSamples.length > 1 && now - tpsSamples[0]!.at > TPS_WINDOW_MS) tpsSamples.shift();
      const oldest = tpsSamples[0]!;
      const recentTps = now > oldest.at ? Math.round(((appliedTransactions - oldest.applied) * 1000) / (now - oldest.at)) : 0;
      return {
        resume: transactions[0]?.start ?? lastCommit,
        resumeGtid: transactions[0] ? transactions[0].gtidBefore : lastCommitGtid,
        figures: {
          pendingBatches,
          pendingBytes,
          pendingTransactions: transactions.length,
          oldestPendingTime,
          appliedTransactions,
          recentTps,
        },
      };
    },
  };
}

export type TransactionLedger = ReturnType<typeof createTransactionLedger>;
