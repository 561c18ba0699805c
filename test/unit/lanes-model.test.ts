import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupIntoJobs } from '../../src/producers/binlog/apply-jobs.js';
import { createBatcher, type TableMeta } from '../../src/producers/binlog/batcher.js';
import { createTransactionLedger } from '../../src/producers/binlog/transaction-ledger.js';
import { decideApply } from '../../src/processors/apply/apply-rule.js';
import type { ApplyBatch, ApplyJob, DdlBarrier, EncodedChange, RowOp } from '../../src/shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../src/shared/binlog/position.js';
import { positionOf, type SyncPositions } from '../../src/shared/checkpoint/lane-checkpoint.js';
import { tableKey } from '../../src/shared/checkpoint/sync-checkpoint.js';
import type { RowValue } from '../../src/shared/binlog/payload-values.js';
import { prng } from '../support/prng.js';

// A model of lanes end to end: a random serial history of one hot table (few keys, key-changing
// updates, a second unique key, DDLs), cut by the real batcher into lanes and joins, grouped
// into jobs, applied by the real rule in a scrambled order with redeliveries, killed at random
// points and resumed from the global checkpoint the real ledger computes, with another lane
// count or other knowledge of the unique keys each time. The model target checks every
// statement as a server would (a duplicate key, a missing row, a stale row image), so applying
// out of order or twice fails; at the end it must hold exactly the source's rows.

const F = 'mysql-bin.000009';
const T: TableMeta = { schema: 'db', table: 'hot', target: { schema: 'db', table: 'hot' }, columns: ['id', 'u', 'v'], key: ['id'] };
const KEY = tableKey('db', 'hot');
const DDL: DdlBarrier = {
  source: 'ALTER TABLE hot COMMENT "x"',
  kind: 'alter table',
  target: ['ALTER TABLE hot COMMENT "x"'],
  after: [],
  shard: 'none',
};

type Row = [number, number, number];
type Event = { kind: 'rows'; op: RowOp; rows: { before?: Row; after?: Row }[]; coord: BinlogCoord } | { kind: 'ddl'; coord: BinlogCoord };
interface Txn {
  start: BinlogCoord;
  events: Event[];
  end: BinlogCoord;
}

/** A serial history on few ids and few unique values, every step valid on the source. */
function history(seed: number, count: number): { txns: Txn[]; rows: Map<number, Row> } {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const rows = new Map<number, Row>();
  const usedU = () => new Set([...rows.values()].map((r) => r[1]));
  let pos = 4;
  let version = 0;
  const txns: Txn[] = [];
  for (let t = 0; t < count; t++) {
    const start = { file: F, pos };
    pos += 40;
    const events: Event[] = [];
    if (rnd() < 0.06) {
      pos += 100;
      events.push({ kind: 'ddl', coord: { file: F, pos } });
      txns.push({ start, events, end: { file: F, pos } });
      continue;
    }
    for (let e = 0, n = 1 + int(3); e < n; e++) {
      const op = (['insert', 'update', 'update', 'delete'] as const)[int(4)]!;
      const changes: { before?: Row; after?: Row }[] = [];
      for (let r = 0, m = 1 + int(3); r < m; r++) {
        version += 1;
        const free = [1, 2, 3, 4, 5, 6, 7, 8].filter((id) => !rows.has(id));
        const present = [...rows.keys()];
        const freeU = [10, 11, 12, 13, 14, 15, 16, 17, 18].filter((u) => !usedU().has(u));
        if (op === 'insert' && free.length > 0 && freeU.length > 0) {
          const row: Row = [free[int(free.length)]!, freeU[int(freeU.length)]!, version];
          rows.set(row[0], row);
          changes.push({ after: row });
        } else if (op === 'delete' && present.length > 0) {
          const before = rows.get(present[int(present.length)]!)!;
          rows.delete(before[0]);
          changes.push({ before });
        } else if (op === 'update' && present.length > 0) {
          const before = rows.get(present[int(present.length)]!)!;
          const after: Row = [before[0], before[1], version];
          const what = rnd();
          if (what < 0.3 && free.length > 0) after[0] = free[int(free.length)]!;
          else if (what < 0.5 && freeU.length > 0) after[1] = freeU[int(freeU.length)]!;
          rows.delete(before[0]);
          rows.set(after[0], after);
          changes.push({ before, after });
        }
      }
      if (changes.length === 0) continue;
      pos += 50 + int(200);
      events.push({ kind: 'rows', op, rows: changes, coord: { file: F, pos } });
    }
    pos += 31;
    txns.push({ start, events, end: { file: F, pos } });
  }
  return { txns, rows };
}

interface Target {
  positions: SyncPositions;
  rows: Map<number, Row>;
  epoch: number;
  /** Whether u is a unique key (on the source and the target). */
  unique: boolean;
}

const rowOf = (values: unknown[] | undefined) => values as Row;
const same = (a: Row | undefined, b: Row) => a?.every((v, i) => v === b[i]) === true;

/** One change on the model target, checked as a server (with a unique key on u) would. */
function write(target: Target, c: EncodedChange, where: string) {
  const taken = (u: number, except?: number) => target.unique && [...target.rows.values()].some((r) => r[1] === u && r[0] !== except);
  if (c.op === 'insert') {
    const after = rowOf(c.after);
    assert.ok(!target.rows.has(after[0]), `${where}: insert of id ${after[0]} that exists`);
    assert.ok(!taken(after[1]), `${where}: insert of u ${after[1]} that another row holds`);
    target.rows.set(after[0], after);
    return;
  }
  const before = rowOf(c.before);
  assert.ok(
    same(target.rows.get(before[0]), before),
    `${where}: ${c.op} of ${JSON.stringify(before)} finds ${JSON.stringify(target.rows.get(before[0]))}`,
  );
  target.rows.delete(before[0]);
  if (c.op === 'update') {
    const after = rowOf(c.after);
    assert.ok(!target.rows.has(after[0]), `${where}: update to id ${after[0]} that exists`);
    assert.ok(!taken(after[1], before[0]), `${where}: update to u ${after[1]} that another row holds`);
    target.rows.set(after[0], after);
  }
}

function setLane(positions: SyncPositions, count: number, index: number, at: BinlogCoord) {
  const list = positions.lanes.get(KEY) ?? [];
  let entry = list.find((l) => l.count === count);
  if (!entry) {
    entry = { count, at: new Map() };
    list.push(entry);
  }
  entry.at.set(index, at);
  positions.lanes.set(KEY, list);
}

/**
 * Runs jobs in a scrambled order, as the partitions and redeliveries would, until `limit`
 * applies (a kill) or nothing is left; returns what was not taken. A job of an older epoch is
 * refused; a lane's job stands where its lane or its table's joins stand; a join waits for its lanes.
 */
function runApplier(queue: ApplyJob[], target: Target, rnd: () => number, limit: number, stats: { laneApplies: Set<number> }): ApplyJob[] {
  const waiting = [...queue];
  let applied = 0;
  let idle = 0;
  while (waiting.length > 0 && applied < limit) {
    const job = waiting.splice(Math.floor(rnd() * Math.min(waiting.length, 8)), 1)[0]!;
    if ((job.epoch ?? 0) < target.epoch) continue;
    const stored = positionOf(target.positions, job.schema, job.table, job.lane);
    const decision = decideApply(stored, job);
    assert.notEqual(
      decision.action,
      'conflict',
      `stands at ${stored && coordText(stored)} inside ${JSON.stringify(job.batches.map((b) => b.coord))}`,
    );
    const retry = () => {
      waiting.push(job);
      idle += 1;
      assert.ok(
        idle < 50 * (waiting.length + 10),
        `stuck: ${waiting.map((j) => `${j.lane?.index ?? 'T'}@${j.batches[0]!.prev}->${j.batches[0]!.coord}`).join(' ')}`,
      );
    };
    if (decision.action === 'skip') continue;
    if (decision.action === 'wait') {
      retry();
      continue;
    }
    if (decision.action !== 'apply') continue;
    const batches = job.batches.slice(decision.from);
    const join = batches[0]!.join ?? [];
    const behind = join.filter((w) => {
      const at = positionOf(target.positions, w.schema, w.table, w.lane);
      return !at || compareCoords(at, parseCoordText(w.coord)) < 0;
    });
    if (behind.length > 0) {
      retry();
      continue;
    }
    if (job.startIfMissing && !target.positions.tables.has(KEY)) target.positions.tables.set(KEY, parseCoordText(job.batches[0]!.prev));
    for (const b of batches)
      for (const c of b.changes) write(target, c, `${job.lane ? `lane ${job.lane.index}/${job.lane.count}` : 'table'} ${b.coord}`);
    const end = parseCoordText(batches.at(-1)!.coord);
    if (job.lane) {
      setLane(target.positions, job.lane.count, job.lane.index, end);
      stats.laneApplies.add(job.lane.index);
    } else target.positions.tables.set(KEY, end);
    applied += 1;
    idle = 0;
  }
  return waiting;
}

interface Run {
  lanes: number;
  /** Batches in a row that stay in the table's chain after a join. */
  calm: number;
  /** Whether the reader could read the unique keys. */
  keys: 'known' | 'unknown';
}

/** One reader run from `from`: its batches (by the real batcher) and the ledger that watched them. */
function read(txns: Txn[], from: number, target: Target, run: Run, epoch: number, origin: BinlogCoord, startIfMissing: boolean) {
  const ledger = createTransactionLedger();
  ledger.restart(txns[from]?.start);
  let stale = false;
  const batcher = createBatcher({
    task: 't',
    sourceId: 's',
    maxRows: 2,
    maxBytes: 1 << 20,
    applied: new Map(target.positions.tables),
    appliedLanes: new Map([...target.positions.lanes].map(([k, v]) => [k, v.map((l) => ({ count: l.count, at: new Map(l.at) }))])),
    origin,
    startIfMissing,
    epoch,
    safeAt: () => false,
    lanes: run.lanes,
    calmBatches: run.calm,
    uniqueKeys: () => (run.keys === 'unknown' || stale ? 'unknown' : target.unique ? [['u']] : []),
    schemaChanged: () => {
      stale = true;
    },
  });
  const batches: ApplyBatch[] = [];
  const emit = (out: ApplyBatch[]) => {
    ledger.add(out);
    batches.push(...out);
  };
  for (let t = from; t < txns.length; t++) {
    const txn = txns[t]!;
    ledger.begin(txn.start, 0);
    for (const e of txn.events) {
      if (e.kind === 'ddl') {
        emit(
          batcher.ddl({
            barriers: [{ table: { ...T, columns: [], key: [] }, ddl: DDL, creates: false }],
            coord: e.coord,
            eventTime: 0,
            gtid: null,
          }),
        );
        // The reader reads the keys again a moment later.
        stale = t % 3 !== 0;
        continue;
      }
      emit(
        batcher.rows({
          table: T,
          op: e.op,
          rows: e.rows.map((r) => ({ before: r.before as RowValue[] | undefined, after: r.after as RowValue[] | undefined })),
          coord: e.coord,
          eventTime: 0,
          gtid: null,
        }),
      );
    }
    emit(batcher.commit());
    ledger.commit(txn.end);
  }
  return { batches, ledger };
}

/** Jobs as the sink forms them: flushes of random size, grouped within small limits. */
function jobsOf(batches: ApplyBatch[], rnd: () => number): ApplyJob[] {
  const jobs: ApplyJob[] = [];
  for (let i = 0; i < batches.length; ) {
    const flush = 1 + Math.floor(rnd() * 10);
    jobs.push(...groupIntoJobs(batches.slice(i, i + flush), { maxRows: 5, maxBytes: 1 << 20 }));
    i += flush;
  }
  return jobs;
}

describe('lanes: model of a hot table applied on several lanes', () => {
  for (const seed of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) {
    for (const mode of ['all', 'incremental'] as const) {
      const unique = seed % 2 === 1;
      test(`seed ${seed}, ${mode}, ${unique ? 'a second unique key' : 'primary key only'}: kills, redeliveries, lane counts and unique-key knowledge changing between runs`, () => {
        const { txns, rows } = history(seed, 120);
        const rnd = prng(seed * 97 + (mode === 'all' ? 1 : 2));
        const origin = txns[0]!.start;
        const target: Target = {
          positions: { tables: new Map(mode === 'all' ? [[KEY, origin]] : []), lanes: new Map() },
          rows: new Map(),
          epoch: 1,
          unique,
        };
        const runs: Run[] = [
          { lanes: 4, keys: 'known', calm: 0 },
          { lanes: 4, keys: 'unknown', calm: 0 },
          { lanes: 3, keys: 'known', calm: 2 },
          { lanes: 2, keys: 'known', calm: 0 },
          { lanes: 4, keys: 'known', calm: 3 },
          { lanes: 1, keys: 'known', calm: 0 },
          { lanes: 4, keys: 'known', calm: 1 },
        ];
        const stats = { laneApplies: new Set<number>() };
        let from = 0;
        let leftover: ApplyJob[] = [];
        let joins = 0;
        for (const [i, run] of runs.entries()) {
          const last = i === runs.length - 1;
          const { batches, ledger } = read(txns, from, target, run, target.epoch, txns[from]?.start ?? origin, mode === 'incremental');
          joins += batches.filter((b) => b.join).length;
          const jobs = jobsOf(batches, rnd);
          // At least once and out of order: some jobs twice, and the last run's leftovers mixed in.
          const queue = [...jobs, ...jobs.filter(() => rnd() < 0.3), ...leftover];
          const limit = last ? Infinity : Math.floor(jobs.length * (0.2 + rnd() * 0.6));
          leftover = runApplier(queue, target, rnd, limit, stats);
          if (last) break;
          // kill -9: the next reader raises the fence and resumes from the global checkpoint.
          const { resume } = ledger.settle(target.positions.tables, 0, target.positions.lanes);
          const next = resume ? txns.findIndex((t) => compareCoords(t.start, resume) >= 0) : 0;
          from = next < 0 ? txns.length : next;
          target.epoch += 1;
        }
        assert.deepEqual(
          leftover.filter((j) => (j.epoch ?? 0) >= target.epoch),
          [],
          'every job of the last reader is done',
        );
        assert.deepEqual(
          [...target.rows.values()].sort((a, b) => a[0] - b[0]),
          [...rows.values()].sort((a, b) => a[0] - b[0]),
          'the target holds exactly the source rows',
        );
        // With the second unique key most batches join, and some histories never leave the table chain.
        if (!unique) assert.ok(stats.laneApplies.size > 1, 'more than one lane applied');
        assert.ok(joins > 0, 'some changes joined');
      });
    }
  }
});
