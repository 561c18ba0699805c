import type { ApplyBatch, DdlBarrier, DdlWait, EncodedChange, LaneRef, RowOp } from '../../shared/binlog/batch.js';
import type { ColumnKind } from '../../shared/binlog/column-kind.js';
import { gtidInSet, type GtidSet } from '../../shared/binlog/gtid-set.js';
import { compareCoords, coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { encodeRow, type RowValue } from '../../shared/binlog/payload-values.js';
import type { TableRef } from '../../shared/config/types.js';
import { laneStands, type TableLanes } from '../../shared/checkpoint/lane-checkpoint.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import { chooseLane, formerLane, lanePlan, type LaneChoice } from './lanes.js';

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
  /** With GTID tracking: every transaction read up to and with this one. */
  gtidSet?: string;
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
  gtidSet?: string;
}

export interface BatcherOptions {
  task: string;
  sourceId: string;
  maxRows: number;
  maxBytes: number;
  /** Where each table already stands (its checkpoint); batches at or below are skipped. */
  applied: Map<string, BinlogCoord>;
  /** Where the lanes of tables split into lanes stand, for every lane count they had. */
  appliedLanes?: Map<string, TableLanes[]>;
  /** How many lanes a table with a key is split into (1: none). */
  lanes?: number;
  /** The table's unique keys besides the one the binlog names (none unless told; 'unknown': every change joins). */
  uniqueKeys?(schema: string, table: string): string[][] | 'unknown';
  /** How many batches in a row that could go to lanes stay in their table's chain after a join (CALM_BATCHES_PER_LANE per lane). */
  calmBatches?: number;
  /** A DDL of the table was read: what is known of its unique keys may be out of date. */
  schemaChanged?(schema: string, table: string): void;
  /** The predecessor of a table's first batch when it has no checkpoint. */
  origin: BinlogCoord;
  startIfMissing: boolean;
  /** The reader's fencing epoch, carried by every batch. */
  epoch: number;
  /** Whether a batch at `coord`, of transaction `gtid`, must be applied idempotently. */
  safeAt(coord: BinlogCoord, gtid: string | null): boolean;
  /** After a switch of server: what each table whose row stands at the switch origin applied. */
  switched?: Map<string, SwitchedTable>;
}

/**
 * What a table applied before a switch of server (server-switch.ts), as GTID sets: its row's,
 * and those of its lanes that applied on their own. Until the table applies on the new server,
 * they tell which transactions read there it already holds.
 */
export interface SwitchedTable {
  set: GtidSet;
  lanes: { count: number; index: number; set: GtidSet }[];
}

const valueBytes = (v: RowValue) => (v === null ? 1 : Buffer.isBuffer(v) ? v.length : String(v).length);

/** What one run has read of a table: its last batch of its own chain, and each lane's since then. */
interface Stream {
  main: BinlogCoord | undefined;
  lanes: Map<number, BinlogCoord>;
  /** Batches in a row that could have gone to lanes, since the last that joined. */
  calm: number;
}

/**
 * After a join, a table's batches stay in its own chain until this many per lane in a row could
 * have gone to lanes: moving from the lanes to the table's chain and back costs a wait on each
 * side, and a join waits for every lane, so a table whose changes often join applies as one
 * chain, as without lanes.
 */
const CALM_BATCHES_PER_LANE = 4;

type Pending = {
  table: TableMeta;
  changes: EncodedChange[];
  bytes: number;
  coord: BinlogCoord;
  eventTime: number;
  gtid: string | null;
  gtidSet?: string;
  /** Changes its chain may hold already (a switch of server in the middle of its transaction): applied idempotently. */
  replay?: boolean;
};

/**
 * How a change of transaction `gtid` stands in what a switched table applied: `applied` when a
 * set holds the transaction and a later one of its stream; `maybe` when the transaction is the
 * last a set holds, which its chain may have applied in part; else `new`.
 */
function switchedStanding(
  switched: SwitchedTable,
  gtid: string | null,
  laneOf: (count: number) => number | undefined,
): 'applied' | 'maybe' | 'new' {
  if (gtid === null) return 'new';
  const sets = [switched.set, ...switched.lanes.filter((l) => laneOf(l.count) === l.index).map((l) => l.set)];
  const standings = sets.map((set) => gtidInSet(set, gtid));
  return standings.includes('inside') ? 'applied' : standings.includes('last') ? 'maybe' : 'new';
}

/**
 * Turns the row events of a stream into ordered per-table batches. Boundaries depend only on
 * the events (a table switch, a commit, the size limits), never on time, so reading the same
 * binlog again yields the same batches with the same coordinates: a restart re-creates exactly
 * the batches it may have queued before, and the applier recognises them.
 *
 * A table with a key and more than one lane has its batches split by lane (lanes.ts): each
 * lane is a chain of its own, at the same coordinates. A batch with a change that joins goes
 * whole to the table's own chain and waits for every lane, and every lane's next batch follows
 * it. Whether a change joins may differ from one run to the next (the unique keys are read from
 * the servers) and the lane count may too: so a change that the lane rows of any lane count
 * already cover is left out of its batch, which keeps its coordinate.
 */
export function createBatcher(options: BatcherOptions) {
  const count = options.lanes ?? 1;
  const calm = options.calmBatches ?? CALM_BATCHES_PER_LANE * count;
  const seen = new Map<string, Stream>();
  let pending: Pending | undefined;

  const streamOf = (key: string): Stream => {
    let stream = seen.get(key);
    if (!stream) {
      stream = { main: undefined, lanes: new Map(), calm };
      seen.set(key, stream);
    }
    return stream;
  };
  const laneRows = (key: string) => options.appliedLanes?.get(key) ?? [];
  const laneApplied = (key: string, index: number) =>
    laneStands(
      laneRows(key)
        .find((l) => l.count === count)
        ?.at.get(index),
      options.applied.get(key),
    );
  /**
   * A batch follows the last batch of its chain read in this run, unless the chain already stands
   * further (a batch this run reads as a lane's or a join's was, in an earlier run, the other).
   */
  const later = (a: BinlogCoord | undefined, b: BinlogCoord | undefined) => (!a ? b : !b ? a : compareCoords(a, b) >= 0 ? a : b);
  const mainPrev = (key: string) => later(seen.get(key)?.main, options.applied.get(key)) ?? options.origin;
  const lanePrev = (key: string, index: number) => {
    const stream = seen.get(key);
    return later(stream?.lanes.get(index) ?? stream?.main, laneApplied(key, index)) ?? options.origin;
  };
  /** Where every lane of the table stands in this run: what a join waits for. */
  const laneWaits = (t: { schema: string; table: string }, stream: Stream | undefined): DdlWait[] =>
    [...(stream?.lanes ?? [])].map(([index, coord]) => ({
      schema: t.schema,
      table: t.table,
      lane: { index, count },
      coord: coordText(coord),
    }));

  /** The changes at `coord` no lane row of any lane count covers yet (see createBatcher). */
  function uncovered(key: string, table: TableMeta, coord: BinlogCoord, changes: EncodedChange[]): EncodedChange[] {
    const rows = laneRows(key).filter((l) => [...l.at.values()].some((at) => compareCoords(at, coord) >= 0));
    const index = table.key.map((c) => table.columns.indexOf(c));
    if (rows.length === 0 || index.length === 0 || index.includes(-1)) return changes;
    return changes.filter(
      (c) =>
        !rows.some((l) => {
          const lane = formerLane(c, index, l.count);
          const at = lane === undefined ? undefined : l.at.get(lane);
          return at !== undefined && compareCoords(at, coord) >= 0;
        }),
    );
  }

  function batch(p: Pending, changes: EncodedChange[], prev: BinlogCoord, first: boolean, lane?: LaneRef, join?: DdlWait[]): ApplyBatch {
    return {
      task: options.task,
      sourceId: options.sourceId,
      schema: p.table.schema,
      table: p.table.table,
      target: p.table.target,
      columns: p.table.columns,
      key: p.table.key,
      ...(p.table.columnKinds ? { columnKinds: p.table.columnKinds } : {}),
      ...(lane ? { lane } : {}),
      coord: coordText(p.coord),
      prev: coordText(prev),
      startIfMissing: options.startIfMissing && first,
      safe: options.safeAt(p.coord, p.gtid) || p.replay === true,
      changes,
      eventTime: p.eventTime,
      gtid: p.gtid,
      ...(p.gtidSet === undefined ? {} : { gtidSet: p.gtidSet }),
      bytes: lane ? Math.ceil((p.bytes * changes.length) / p.changes.length) : p.bytes,
      epoch: options.epoch,
      ...(join && join.length > 0 ? { join } : {}),
    };
  }

  /**
   * A batch of a switched table without the changes it already holds; undefined when it holds
   * them all. Nothing of the table's streams moves for it: the chain still stands at the origin.
   */
  function unswitched(key: string, p: Pending): Pending | undefined {
    const switched = options.switched?.get(key);
    if (!switched) return p;
    const index = p.table.key.map((c) => p.table.columns.indexOf(c));
    const keyed = index.length > 0 && !index.includes(-1);
    const standings = p.changes.map((c) => switchedStanding(switched, p.gtid, (n) => (keyed ? formerLane(c, index, n) : undefined)));
    const changes = p.changes.filter((_, i) => standings[i] !== 'applied');
    if (changes.length === 0) return undefined;
    return { ...p, changes, replay: standings.includes('maybe') };
  }

  function close(): ApplyBatch[] {
    if (!pending) return [];
    const key = tableKey(pending.table.schema, pending.table.table);
    const p = unswitched(key, pending);
    pending = undefined;
    if (!p) return [];
    const applied = options.applied.get(key);
    // Only a table's first batch may stand in for a missing checkpoint row: a later batch that
    // found no row would otherwise apply ahead of a first batch still being retried.
    const first = !seen.has(key) && applied === undefined;
    const stream = seen.get(key);
    const plan =
      count > 1 ? lanePlan(p.table.columns, p.table.key, count, options.uniqueKeys?.(p.table.schema, p.table.table) ?? []) : undefined;
    const choices: LaneChoice[] = plan ? p.changes.map((c) => chooseLane(c, plan)) : [];
    const joins = choices.includes('join');
    const next = streamOf(key);
    next.calm = joins ? 0 : next.calm + 1;
    if (!plan || joins || next.calm <= calm) {
      const prev = mainPrev(key);
      const join = laneWaits(p.table, stream);
      next.main = p.coord;
      next.lanes.clear();
      if (applied && compareCoords(p.coord, applied) <= 0) return [];
      return [batch(p, uncovered(key, p.table, p.coord, p.changes), prev, first, undefined, join)];
    }
    const byLane = new Map<number, EncodedChange[]>();
    p.changes.forEach((c, i) => {
      const lane = choices[i] as number;
      byLane.set(lane, [...(byLane.get(lane) ?? []), c]);
    });
    const out: ApplyBatch[] = [];
    for (const index of [...byLane.keys()].sort((a, b) => a - b)) {
      const prev = lanePrev(key, index);
      const at = laneApplied(key, index);
      streamOf(key).lanes.set(index, p.coord);
      if (at && compareCoords(p.coord, at) <= 0) continue;
      out.push(batch(p, uncovered(key, p.table, p.coord, byLane.get(index)!), prev, first && out.length === 0, { index, count }));
    }
    return out;
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
        if (!pending)
          pending = {
            table: input.table,
            changes: [],
            bytes: 0,
            coord,
            eventTime: input.eventTime,
            gtid: input.gtid,
            ...(input.gtidSet === undefined ? {} : { gtidSet: input.gtidSet }),
          };
        pending.changes.push(change);
        pending.bytes += bytes;
        pending.coord = coord;
        pending.eventTime = input.eventTime;
        pending.gtid = input.gtid;
        if (input.gtidSet !== undefined) pending.gtidSet = input.gtidSet;
      }
      return out;
    },
    /** End of a transaction: nothing of it stays pending. */
    commit(): ApplyBatch[] {
      return close();
    },
    /** A DDL statement: a barrier without rows in the chain of each table it is about, a join of its lanes. */
    ddl(input: DdlInput): ApplyBatch[] {
      const out = close();
      for (const u of input.barriers) {
        const key = tableKey(u.table.schema, u.table.table);
        const switched = options.switched?.get(key);
        // A DDL is a transaction of its own: a switched table that holds it ran it whole.
        if (switched && input.gtid !== null && gtidInSet(switched.set, input.gtid) !== 'absent') continue;
        const applied = options.applied.get(key);
        const prev = mainPrev(key);
        const first = !seen.has(key) && applied === undefined;
        const join = laneWaits(u.table, seen.get(key));
        options.schemaChanged?.(u.table.schema, u.table.table);
        const stream = streamOf(key);
        stream.calm = 0;
        stream.main = input.coord;
        stream.lanes.clear();
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
          ...(input.gtidSet === undefined ? {} : { gtidSet: input.gtidSet }),
          bytes: 0,
          epoch: options.epoch,
          ddl: u.ddl,
          ...(join.length > 0 ? { join } : {}),
        });
      }
      return out;
    },
    /** The tables with a batch read in this run (not the schemas' own streams). */
    streams(): TableRef[] {
      return [...seen.keys()]
        .map((k) => JSON.parse(k) as [string, string])
        .filter(([, table]) => table !== '')
        .map(([schema, table]) => ({ schema, table }));
    },
    /** Where a table's chain and each of its lanes must stand to have applied everything read of it in this run. */
    waitsOf(schema: string, table: string): DdlWait[] {
      const stream = seen.get(tableKey(schema, table));
      if (!stream) return [];
      return [...(stream.main ? [{ schema, table, coord: coordText(stream.main) }] : []), ...laneWaits({ schema, table }, stream)];
    },
  };
}

export type Batcher = ReturnType<typeof createBatcher>;
