import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBatcher, type BatcherOptions, type RowsInput, type TableMeta } from '../../src/producers/binlog/batcher.js';
import { groupIntoJobs } from '../../src/producers/binlog/apply-jobs.js';
import { decideApply } from '../../src/processors/apply/apply-rule.js';
import type { ApplyBatch, ApplyJob, EncodedChange, RowOp } from '../../src/shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../src/shared/binlog/position.js';
import { encodeRow, type RowValue } from '../../src/shared/binlog/payload-values.js';
import { tableKey } from '../../src/shared/checkpoint/sync-checkpoint.js';
import { parseGtidSet } from '../../src/shared/binlog/gtid-set.js';
import { formerLane } from '../../src/producers/binlog/lanes.js';
import { prng } from '../support/prng.js';

const F9 = 'mysql-bin.000009';
const F10 = 'mysql-bin.000010';

const tbl = (table: string, key: string[] = ['id']): TableMeta => ({
  schema: 'db',
  table,
  target: { schema: 'tgt', table: `${table}_all` },
  columns: ['id', 'v'],
  key,
});
const A = tbl('a');
const B = tbl('b');
const C = tbl('c', []);
const keyOf = (t: TableMeta) => tableKey(t.schema, t.table);

const opts = (over: Partial<BatcherOptions> = {}): BatcherOptions => ({
  task: 'task1',
  sourceId: 'src1',
  maxRows: 1000,
  maxBytes: 1 << 20,
  applied: new Map(),
  origin: { file: F9, pos: 4 },
  startIfMissing: false,
  epoch: 3,
  safeAt: () => false,
  ...over,
});

/** A rows event at `file:pos` with one row per id. */
function ev(
  table: TableMeta,
  pos: number,
  ids: number[],
  op: RowOp = 'insert',
  file = F9,
  value: (id: number) => RowValue = (id) => `v${id}`,
): RowsInput {
  return {
    table,
    op,
    rows: ids.map((id) => {
      const row: RowValue[] = [id, value(id)];
      if (op === 'insert') return { after: row };
      if (op === 'delete') return { before: row };
      return { before: [id, 'old'], after: row };
    }),
    coord: { file, pos },
    eventTime: 1_700_000_000_000 + pos,
    gtid: `0-1-${pos}`,
  };
}

/** The ids (first column) of a batch's changes, from whichever image they carry. */
const ids = (b: ApplyBatch) => b.changes.map((c) => (c.after ?? c.before)![0]);

type Item = { rows: RowsInput } | 'commit';

function feed(batcher: ReturnType<typeof createBatcher>, items: Item[]): ApplyBatch[] {
  const out: ApplyBatch[] = [];
  for (const item of items) out.push(...(item === 'commit' ? batcher.commit() : batcher.rows(item.rows)));
  return out;
}

/**
 * The chain property: each batch's prev is the coord of the table's previous batch (emitted or
 * skipped), else the table's checkpoint, else the origin; and coords strictly increase per table.
 */
function assertChain(batches: ApplyBatch[], start: (key: string) => BinlogCoord) {
  const last = new Map<string, string>();
  for (const b of batches) {
    const key = tableKey(b.schema, b.table);
    const expectedPrev = last.get(key) ?? coordText(start(key));
    assert.equal(b.prev, expectedPrev, `prev of ${key} batch ${b.coord}`);
    assert.ok(compareCoords(parseCoordText(b.coord), parseCoordText(b.prev)) > 0, `${key}: coord ${b.coord} must be after prev ${b.prev}`);
    last.set(key, b.coord);
  }
}

describe('batcher: boundaries', () => {
  test('consecutive events of one table merge; a table switch closes the pending batch; commit flushes', () => {
    const b = createBatcher(opts());
    assert.deepEqual(b.rows(ev(A, 100, [1, 2])), [], 'nothing leaves while the batch is open');
    assert.deepEqual(b.rows(ev(A, 200, [3])), [], 'same table: merged');
    const first = b.rows(ev(B, 300, [10]));
    assert.equal(first.length, 1);
    assert.deepEqual(first[0], {
      task: 'task1',
      sourceId: 'src1',
      schema: 'db',
      table: 'a',
      target: { schema: 'tgt', table: 'a_all' },
      columns: ['id', 'v'],
      key: ['id'],
      coord: `${F9}:200`,
      prev: `${F9}:4`,
      startIfMissing: false,
      safe: false,
      changes: [
        { op: 'insert', after: [1, 'v1'] },
        { op: 'insert', after: [2, 'v2'] },
        { op: 'insert', after: [3, 'v3'] },
      ],
      eventTime: 1_700_000_000_200,
      gtid: '0-1-200',
      bytes: 9,
      epoch: 3,
    } satisfies ApplyBatch);
    const second = b.rows(ev(A, 400, [4], 'delete'));
    assert.deepEqual(
      second.map((x) => [x.table, x.coord, x.prev, ids(x)]),
      [['b', `${F9}:300`, `${F9}:4`, [10]]],
    );
    const third = b.commit();
    assert.deepEqual(
      third.map((x) => [x.table, x.coord, x.prev, ids(x)]),
      [['a', `${F9}:400`, `${F9}:200`, [4]]],
    );
    assert.deepEqual(third[0]!.changes, [{ op: 'delete', before: [4, 'v4'] }]);
    assert.deepEqual(b.commit(), [], 'a second commit has nothing to flush');
  });

  test('commit ends a batch even when the next transaction touches the same table', () => {
    const out = feed(createBatcher(opts()), [{ rows: ev(A, 100, [1]) }, 'commit', { rows: ev(A, 200, [2]) }, 'commit']);
    assert.deepEqual(
      out.map((x) => [x.coord, x.prev, ids(x)]),
      [
        [`${F9}:100`, `${F9}:4`, [1]],
        [`${F9}:200`, `${F9}:100`, [2]],
      ],
    );
  });

  test('updates carry both images; values are encoded for JSON', () => {
    const big = 2n ** 63n;
    const bytes = Buffer.from([0, 255]);
    const out = feed(createBatcher(opts()), [
      { rows: { ...ev(A, 100, []), op: 'update', rows: [{ before: [1, bytes], after: [big, null] }] } },
      'commit',
    ]);
    assert.deepEqual(out[0]!.changes, [{ op: 'update', before: [1, { $bytes: 'AP8=' }], after: [{ $int: big.toString() }, null] }]);
  });

  test('maxRows splits one event into parts with increasing part numbers', () => {
    const b = createBatcher(opts({ maxRows: 2 }));
    const during = b.rows(ev(A, 500, [1, 2, 3, 4, 5]));
    const end = b.commit();
    const all = [...during, ...end];
    assert.deepEqual(
      all.map((x) => [x.coord, x.prev, ids(x)]),
      [
        [`${F9}:500`, `${F9}:4`, [1, 2]],
        [`${F9}:500#1`, `${F9}:500`, [3, 4]],
        [`${F9}:500#2`, `${F9}:500#1`, [5]],
      ],
    );
    assert.equal(during.length, 2, 'full parts leave during the event');
    assertChain(all, () => ({ file: F9, pos: 4 }));
  });

  test('maxBytes splits one event by the size of its values', () => {
    // Each row: id 1 digit + a 10-byte Buffer = 11 bytes; 25 bytes hold two rows.
    const b = createBatcher(opts({ maxBytes: 25 }));
    const all = [...b.rows(ev(A, 700, [1, 2, 3, 4, 5], 'insert', F9, () => Buffer.alloc(10, 7))), ...b.commit()];
    assert.deepEqual(
      all.map((x) => [x.coord, ids(x)]),
      [
        [`${F9}:700`, [1, 2]],
        [`${F9}:700#1`, [3, 4]],
        [`${F9}:700#2`, [5]],
      ],
    );
    assertChain(all, () => ({ file: F9, pos: 4 }));
  });

  test('a row larger than maxBytes travels alone, never dropped', () => {
    const b = createBatcher(opts({ maxBytes: 5 }));
    const all = [...b.rows(ev(A, 700, [1, 2, 3], 'insert', F9, () => 'x'.repeat(100))), ...b.commit()];
    assert.deepEqual(
      all.map((x) => [x.coord, ids(x)]),
      [
        [`${F9}:700`, [1]],
        [`${F9}:700#1`, [2]],
        [`${F9}:700#2`, [3]],
      ],
    );
  });

  test('a batch already full when the next event starts: the chain still holds and coords increase', () => {
    const b = createBatcher(opts({ maxRows: 2 }));
    const all = feed(b, [{ rows: ev(A, 100, [1, 2]) }, { rows: ev(A, 200, [3, 4, 5]) }, 'commit']);
    assert.deepEqual(all.map(ids), [[1, 2], [3, 4], [5]]);
    assert.equal(all[0]!.coord, `${F9}:100`);
    assertChain(all, () => ({ file: F9, pos: 4 }));
    for (const x of all.slice(1)) assert.equal(parseCoordText(x.coord).pos, 200);
  });

  test('coords keep increasing across a binlog rotation (000009 → 000010)', () => {
    const all = feed(createBatcher(opts()), [
      { rows: ev(A, 9_000_000, [1]) },
      'commit',
      { rows: ev(A, 120, [2], 'insert', F10) },
      'commit',
    ]);
    assert.deepEqual(
      all.map((x) => [x.coord, x.prev]),
      [
        [`${F9}:9000000`, `${F9}:4`],
        [`${F10}:120`, `${F9}:9000000`],
      ],
    );
    assertChain(all, () => ({ file: F9, pos: 4 }));
  });

  test('an empty rows event adds nothing and closes nothing of the same table', () => {
    const b = createBatcher(opts());
    assert.deepEqual(b.rows(ev(A, 100, [1])), []);
    assert.deepEqual(b.rows(ev(A, 150, [])), []);
    assert.deepEqual(
      b.commit().map((x) => [x.coord, ids(x)]),
      [[`${F9}:100`, [1]]],
    );
  });
});

describe('batcher: checkpoints', () => {
  test('the first batch of a table without a checkpoint follows the origin; with one, the checkpoint', () => {
    const applied = new Map([[keyOf(A), { file: F9, pos: 50 }]]);
    const all = feed(createBatcher(opts({ applied, origin: { file: F9, pos: 90 } })), [
      { rows: ev(A, 100, [1]) },
      { rows: ev(B, 110, [2]) },
      'commit',
    ]);
    assert.deepEqual(
      all.map((x) => [x.table, x.prev]),
      [
        ['a', `${F9}:50`],
        ['b', `${F9}:90`],
      ],
    );
  });

  test('an empty-file origin (GTID start) orders before every real coordinate', () => {
    const all = feed(createBatcher(opts({ origin: { file: '', pos: 0 }, startIfMissing: true })), [{ rows: ev(A, 100, [1]) }, 'commit']);
    assert.equal(all[0]!.prev, ':0');
    assertChain(all, () => ({ file: '', pos: 0 }));
  });

  test('batches at or below the checkpoint are not emitted, but the next one follows them', () => {
    const items: Item[] = [{ rows: ev(A, 100, [1]) }, 'commit', { rows: ev(A, 200, [2]) }, 'commit', { rows: ev(A, 300, [3]) }, 'commit'];
    const fresh = feed(createBatcher(opts()), items);
    assert.deepEqual(
      fresh.map((x) => x.coord),
      [`${F9}:100`, `${F9}:200`, `${F9}:300`],
    );

    // The table stands at the second batch: only the third is emitted, and its prev is the
    // checkpoint, so the applier's rule (apply only when checkpoint == prev) lets it through.
    const applied = new Map([[keyOf(A), { file: F9, pos: 200 }]]);
    const resumed = feed(createBatcher(opts({ applied })), items);
    assert.deepEqual(
      resumed.map((x) => [x.coord, x.prev, ids(x)]),
      [[`${F9}:300`, `${F9}:200`, [3]]],
    );
    assert.deepEqual(resumed[0], fresh[2], 'identical to what the first run queued');
  });

  test('a checkpoint on a part: earlier parts are skipped, the next part follows the checkpoint', () => {
    const applied = new Map([[keyOf(A), { file: F9, pos: 500, part: 1 }]]);
    const b = createBatcher(opts({ maxRows: 2, applied }));
    const all = feed(b, [{ rows: ev(A, 500, [1, 2, 3, 4, 5]) }, { rows: ev(B, 600, [9]) }, 'commit']);
    assert.deepEqual(
      all.map((x) => [x.table, x.coord, x.prev, ids(x)]),
      [
        ['a', `${F9}:500#2`, `${F9}:500#1`, [5]],
        ['b', `${F9}:600`, `${F9}:4`, [9]],
      ],
    );
  });

  test('a checkpoint past every batch of the stream: nothing of that table is emitted, other tables are', () => {
    const applied = new Map([[keyOf(A), { file: F10, pos: 4 }]]);
    const all = feed(createBatcher(opts({ applied })), [
      { rows: ev(A, 100, [1]) },
      { rows: ev(B, 200, [2]) },
      { rows: ev(A, 300, [3]) },
      'commit',
    ]);
    assert.deepEqual(
      all.map((x) => [x.table, x.coord, x.prev]),
      [['b', `${F9}:200`, `${F9}:4`]],
    );
  });

  test('safe follows safeAt, asked with each emitted batch coordinate (parts included)', () => {
    const high: BinlogCoord = { file: F9, pos: 500, part: 1 };
    const asked: string[] = [];
    const b = createBatcher(
      opts({
        maxRows: 2,
        safeAt: (coord) => {
          asked.push(coordText(coord));
          return compareCoords(coord, high) < 0;
        },
      }),
    );
    const all = feed(b, [
      { rows: ev(A, 100, [1]) },
      'commit',
      { rows: ev(A, 500, [2, 3, 4, 5, 6]) },
      'commit',
      { rows: ev(A, 900, [7]) },
      'commit',
    ]);
    assert.deepEqual(
      all.map((x) => [x.coord, x.safe]),
      [
        [`${F9}:100`, true],
        [`${F9}:500`, true],
        [`${F9}:500#1`, false],
        [`${F9}:500#2`, false],
        [`${F9}:900`, false],
      ],
    );
    assert.deepEqual(
      asked,
      all.map((x) => x.coord),
    );
  });

  for (const startIfMissing of [true, false]) {
    test(`startIfMissing ${startIfMissing} passes through to the first batch of each table`, () => {
      const all = feed(createBatcher(opts({ startIfMissing })), [{ rows: ev(A, 100, [1]) }, { rows: ev(B, 200, [2]) }, 'commit']);
      assert.deepEqual(
        all.map((x) => [x.table, x.prev, x.startIfMissing]),
        [
          ['a', `${F9}:4`, startIfMissing],
          ['b', `${F9}:4`, startIfMissing],
        ],
      );
    });
  }

  test('startIfMissing false: no batch ever claims it', () => {
    const all = feed(createBatcher(opts({ startIfMissing: false, maxRows: 1 })), [
      { rows: ev(A, 100, [1, 2]) },
      'commit',
      { rows: ev(A, 200, [3]) },
      'commit',
    ]);
    assert.equal(all.length, 3);
    for (const x of all) assert.equal(x.startIfMissing, false);
  });

  // Incremental mode, table without a checkpoint row yet. The applier (apply-job.ts) takes
  // `stored ?? (startIfMissing ? prev : undefined)`, and the batcher sets startIfMissing on EVERY
  // batch. So if the table's second batch is delivered first (its first one failed once and was
  // retried, or stalled: the queue does not keep order), the second applies at once, and the
  // first is then "covered" and skipped: its rows are lost. Only the table's first batch (the
  // one whose prev is the origin) may start a missing table; a later one must wait.
  test("incremental: a later batch delivered before the table's first one waits, nothing is lost", () => {
    const all = feed(createBatcher(opts({ startIfMissing: true })), [
      { rows: ev(A, 100, [1]) },
      'commit',
      { rows: ev(A, 200, [2]) },
      'commit',
    ]);
    assert.deepEqual(all.map((x) => [x.coord, x.prev, x.startIfMissing]).slice(0, 1), [[`${F9}:100`, `${F9}:4`, true]]);
    const target = new Map<string, TargetTable>();
    runApplier(singleJobs([all[1]!, all[0]!]), target, () => 0);
    assert.deepEqual(
      target.get(keyOf(A))?.written.map((c) => c.after![0]),
      [1, 2],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A generated stream over several tables and transactions, and a model of the applier's rule.

interface Txn {
  /** Where the transaction starts: a place the reader may resume from. */
  start: BinlogCoord;
  items: Item[];
}

function makeStream(seed: number, count: number): Txn[] {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let fileNo = 9;
  let pos = 4;
  let id = 0;
  const file = () => `mysql-bin.${String(fileNo).padStart(6, '0')}`;
  const value = (): RowValue =>
    pick<() => RowValue>([
      () => 'x'.repeat(Math.floor(rnd() * 25)),
      () => Buffer.from(Array.from({ length: Math.floor(rnd() * 30) }, () => Math.floor(rnd() * 256))),
      () => 2n ** 60n + BigInt(Math.floor(rnd() * 1000)),
      () => null,
      () => rnd(),
    ])();
  const txns: Txn[] = [];
  for (let t = 0; t < count; t++) {
    if (t > 0 && rnd() < 0.2) {
      fileNo += 1;
      pos = 4;
    }
    const start = { file: file(), pos };
    pos += 42; // GTID event
    const items: Item[] = [];
    const events = 1 + Math.floor(rnd() * 5);
    for (let e = 0; e < events; e++) {
      const table = pick([A, B, C]);
      const op = pick<RowOp>(['insert', 'insert', 'update', 'delete']);
      pos += 60 + Math.floor(rnd() * 3000);
      const rows = Array.from({ length: 1 + Math.floor(rnd() * 7) }, () => {
        id += 1;
        const before: RowValue[] = [id, value()];
        const after: RowValue[] = [id, value()];
        return op === 'insert' ? { after } : op === 'delete' ? { before } : { before, after };
      });
      items.push({
        rows: { table, op, rows, coord: { file: file(), pos }, eventTime: 1_700_000_000_000 + t * 1000 + e, gtid: `0-1-${t + 1}` },
      });
    }
    pos += 31; // XID event
    items.push('commit');
    txns.push({ start, items });
  }
  return txns;
}

/** Every change of the stream per table, in binlog order, as the applier should end up writing them. */
function expectedChanges(txns: Txn[]): Map<string, EncodedChange[]> {
  const out = new Map<string, EncodedChange[]>();
  for (const txn of txns) {
    for (const item of txn.items) {
      if (item === 'commit') continue;
      const list = out.get(keyOf(item.rows.table)) ?? [];
      for (const row of item.rows.rows) {
        const c: EncodedChange = { op: item.rows.op };
        if (row.before) c.before = encodeRow(row.before);
        if (row.after) c.after = encodeRow(row.after);
        list.push(c);
      }
      out.set(keyOf(item.rows.table), list);
    }
  }
  return out;
}

/** Batches per transaction (index of the transaction in `txns`). */
function batchesOf(options: BatcherOptions, txns: Txn[], from = 0): { txn: number; batch: ApplyBatch }[] {
  const batcher = createBatcher(options);
  const out: { txn: number; batch: ApplyBatch }[] = [];
  for (let t = from; t < txns.length; t++) for (const batch of feed(batcher, txns[t]!.items)) out.push({ txn: t, batch });
  return out;
}

interface TargetTable {
  checkpoint: BinlogCoord | undefined;
  written: EncodedChange[];
}

/** Each batch its own job, as when the reader flushes after every batch. */
const singleJobs = (batches: ApplyBatch[]): ApplyJob[] =>
  batches.flatMap((b) => groupIntoJobs([b], { maxRows: Infinity, maxBytes: Infinity }));

/** Jobs as the reader forms them: flushes of random size, each grouped within small limits. */
function jobsOf(batches: ApplyBatch[], rnd: () => number): ApplyJob[] {
  const jobs: ApplyJob[] = [];
  for (let i = 0; i < batches.length; ) {
    const flush = 1 + Math.floor(rnd() * 8);
    jobs.push(...groupIntoJobs(batches.slice(i, i + flush), { maxRows: 6, maxBytes: 200 }));
    i += flush;
  }
  return jobs;
}

const jobText = (j: ApplyJob) => `${j.table}@${j.batches.map((b) => `${b.prev}->${b.coord}`).join(',')}`;

/**
 * The applier's rule (decideApply, as apply-job.ts runs it) on a model target: skip, wait at
 * the tail of the queue, or write the batches from `from` on and move the checkpoint. Jobs are
 * taken in a scrambled order. Stops after `limit` applies (a crash) and returns the jobs not
 * yet taken.
 */
function runApplier(
  queue: ApplyJob[],
  target: Map<string, TargetTable>,
  rnd: () => number,
  limit = Infinity,
  stats = { partial: 0 },
): ApplyJob[] {
  const waiting = [...queue];
  let applied = 0;
  let idle = 0;
  while (waiting.length > 0 && applied < limit) {
    const job = waiting.splice(Math.floor(rnd() * Math.min(waiting.length, 6)), 1)[0]!;
    const key = tableKey(job.schema, job.table);
    const table = target.get(key) ?? { checkpoint: undefined, written: [] };
    target.set(key, table);
    const decision = decideApply(table.checkpoint, job);
    assert.notEqual(
      decision.action,
      'conflict',
      `${key} stands at ${table.checkpoint && coordText(table.checkpoint)}, inside ${jobText(job)}`,
    );
    if (decision.action === 'skip') {
      idle = 0;
      continue;
    }
    if (decision.action === 'wait') {
      waiting.push(job);
      idle += 1;
      assert.ok(idle < 20 * (waiting.length + 10), `stuck: ${waiting.map(jobText).join(', ')}`);
      continue;
    }
    assert.equal(decision.action, 'apply');
    const from = decision.action === 'apply' ? decision.from : 0;
    if (from > 0) stats.partial += 1;
    const batches = job.batches.slice(from);
    for (const b of batches) table.written.push(...b.changes);
    table.checkpoint = parseCoordText(batches.at(-1)!.coord);
    applied += 1;
    idle = 0;
  }
  return waiting;
}

function assertWrittenOnce(target: Map<string, TargetTable>, txns: Txn[]) {
  const expected = expectedChanges(txns);
  for (const [key, changes] of expected) {
    assert.deepEqual(target.get(key)?.written, changes, `${key}: every change exactly once, in order`);
  }
}

describe('batcher: generated streams', () => {
  const limits = { maxRows: 4, maxBytes: 48 };
  const seeds = [1, 7, 42, 1234];
  const origin = (txns: Txn[]) => txns[0]!.start;

  for (const seed of seeds) {
    test(`seed ${seed}: chain, limits, no row lost or repeated`, () => {
      const txns = makeStream(seed, 30);
      const batches = batchesOf(opts({ ...limits, origin: origin(txns) }), txns).map((x) => x.batch);
      assert.ok(new Set(batches.map((b) => b.table)).size === 3, 'all tables appear');
      assert.ok(
        batches.some((b) => parseCoordText(b.coord).part),
        'some events were split',
      );
      assert.ok(
        batches.some((b) => b.coord.startsWith(F10)),
        'the stream crosses a rotation',
      );
      assertChain(batches, () => origin(txns));
      for (const b of batches) {
        assert.ok(b.changes.length >= 1 && b.changes.length <= limits.maxRows, `${b.coord}: 1..maxRows changes`);
        assert.deepEqual(b.columns, ['id', 'v']);
        assert.deepEqual(b.key, b.table === 'c' ? [] : ['id']);
        assert.deepEqual(b.target, { schema: 'tgt', table: `${b.table}_all` });
      }
      // Concatenating each table's batches gives back its changes in order.
      const got = new Map<string, EncodedChange[]>();
      for (const b of batches) got.set(tableKey(b.schema, b.table), [...(got.get(tableKey(b.schema, b.table)) ?? []), ...b.changes]);
      assert.deepEqual(got, expectedChanges(txns));
      // Coordinates are unique per table (they become job ids and checkpoints).
      const seen = new Set(batches.map((b) => `${b.table}|${b.coord}`));
      assert.equal(seen.size, batches.length);
    });

    test(`seed ${seed}: deterministic, two batchers over the same events give identical batches`, () => {
      const txns = makeStream(seed, 30);
      const one = batchesOf(opts({ ...limits, origin: origin(txns) }), txns);
      const two = batchesOf(opts({ ...limits, origin: origin(txns) }), makeStream(seed, 30));
      assert.deepEqual(two, one);
      assert.equal(JSON.stringify(two), JSON.stringify(one));
    });

    test(`seed ${seed}: the applier's rule applies everything exactly once however the queue delivers`, () => {
      const txns = makeStream(seed, 30);
      // `all` mode: the copy hands every table over at the low watermark (the origin).
      const target = new Map<string, TargetTable>([A, B, C].map((t) => [keyOf(t), { checkpoint: origin(txns), written: [] }]));
      const batches = batchesOf(opts({ ...limits, origin: origin(txns) }), txns).map((x) => x.batch);
      // At-least-once: every job delivered twice, scrambled.
      const rnd = prng(seed + 100);
      const left = runApplier([...jobsOf(batches, rnd), ...jobsOf(batches, rnd)].reverse(), target, rnd);
      assert.deepEqual(left, []);
      assertWrittenOnce(target, txns);
    });

    for (const mode of ['all', 'incremental'] as const) {
      test(`seed ${seed}, ${mode}: crash and restart from the global checkpoint, with old jobs still queued`, () => {
        const txns = makeStream(seed, 30);
        const rnd = prng(seed * 31 + (mode === 'all' ? 1 : 2));
        const startIfMissing = mode === 'incremental';
        const target = new Map<string, TargetTable>(
          mode === 'all' ? [A, B, C].map((t) => [keyOf(t), { checkpoint: origin(txns), written: [] }]) : [],
        );
        const run1 = batchesOf(opts({ ...limits, origin: origin(txns), startIfMissing }), txns);
        for (const crashAfter of [0.25, 0.6]) {
          // Fresh copy of the target per crash point.
          const t1 = new Map([...target].map(([k, v]) => [k, { checkpoint: v.checkpoint, written: [...v.written] }]));
          const jobs1 = jobsOf(
            run1.map((x) => x.batch),
            rnd,
          );
          const leftover = runApplier(jobs1, t1, rnd, Math.floor(jobs1.length * crashAfter));

          // The global checkpoint: the start of the oldest transaction with a batch not covered.
          const covered = (b: ApplyBatch) => {
            const at = t1.get(tableKey(b.schema, b.table))?.checkpoint;
            return at !== undefined && compareCoords(at, parseCoordText(b.coord)) >= 0;
          };
          const firstOpen = run1.find((x) => !covered(x.batch))?.txn ?? txns.length;
          assert.ok(firstOpen < txns.length, 'the crash left work to do');
          const resume = txns[firstOpen]!.start;

          // The reader restarts there, with the tables' checkpoints as `applied`.
          const applied = new Map([...t1].filter(([, v]) => v.checkpoint).map(([k, v]) => [k, v.checkpoint!]));
          const run2 = batchesOf(opts({ ...limits, origin: resume, applied, startIfMissing }), txns, firstOpen).map((x) => x.batch);

          // Each table's first new batch follows exactly where the table stands.
          const firstOf = new Map<string, ApplyBatch>();
          for (const b of run2) if (!firstOf.has(tableKey(b.schema, b.table))) firstOf.set(tableKey(b.schema, b.table), b);
          for (const [key, b] of firstOf) assert.equal(b.prev, coordText(applied.get(key) ?? resume), `${key}: first batch after restart`);

          // Nothing emitted is already covered; everything not covered is emitted again, identically.
          for (const b of run2) assert.ok(!covered(b), `${b.table}@${b.coord} was already applied`);
          const notCovered = run1.filter((x) => x.txn >= firstOpen && !covered(x.batch)).map((x) => x.batch);
          assert.deepEqual(
            run2,
            notCovered.map((b) =>
              startIfMissing && !applied.has(tableKey(b.schema, b.table)) && b.prev === coordText(origin(txns))
                ? { ...b, prev: coordText(resume) }
                : b,
            ),
          );

          // Old jobs (leftovers, plus duplicates of done ones) and the new ones, grouped
          // differently this time, all mixed.
          const stats = { partial: 0 };
          const left = runApplier([...jobsOf(run2, rnd), ...leftover, ...jobs1.slice(0, 5)].reverse(), t1, rnd, Infinity, stats);
          assert.ok(stats.partial > 0, 'some jobs overlapped applied batches and applied only their tail');
          assert.deepEqual(left, []);
          assertWrittenOnce(t1, txns);
        }
      });
    }
  }
});

describe('batcher: after a switch of server', () => {
  const ORIGIN: BinlogCoord = { file: '', pos: 0 };
  /** Table a's row stands at the switch origin, having applied domain 0 up to transaction 20 (ev() makes pos n transaction 0-1-n). */
  const switchedOpts = (over: Partial<BatcherOptions> = {}) =>
    opts({
      applied: new Map([[keyOf(A), ORIGIN]]),
      switched: new Map([[keyOf(A), { set: parseGtidSet('0-1-20'), lanes: [] }]]),
      ...over,
    });

  test('transactions the table holds are left out, its last one is replayed idempotently, later ones apply as usual; the chain starts at the origin', () => {
    const out = feed(createBatcher(switchedOpts()), [
      { rows: ev(A, 15, [1]) },
      'commit',
      { rows: ev(A, 20, [2]) },
      'commit',
      { rows: ev(A, 25, [3]) },
      'commit',
      { rows: ev(B, 26, [4]) },
      'commit',
    ]);
    assert.deepEqual(
      out.map((b) => [b.table, b.coord, b.prev, b.safe, ids(b)]),
      [
        ['a', `${F9}:20`, ':0', true, [2]],
        ['a', `${F9}:25`, `${F9}:20`, false, [3]],
        ['b', `${F9}:26`, `${F9}:4`, false, [4]],
      ],
    );
  });

  test('a batch wholly held moves nothing: the next batch still follows the origin', () => {
    const out = feed(createBatcher(switchedOpts()), [{ rows: ev(A, 10, [1, 2]) }, 'commit', { rows: ev(A, 30, [3]) }, 'commit']);
    assert.deepEqual(
      out.map((b) => [b.coord, b.prev]),
      [[`${F9}:30`, ':0']],
    );
  });

  test('a DDL the table holds is not run again; one it lacks is a barrier from the origin', () => {
    const ddl = (pos: number) => ({
      barriers: [
        { table: A, ddl: { source: 'ALTER', kind: 'alter', target: ['ALTER'], after: [], shard: 'none' as const }, creates: false },
      ],
      coord: { file: F9, pos },
      eventTime: 0,
      gtid: `0-1-${pos}`,
    });
    const batcher = createBatcher(switchedOpts());
    assert.deepEqual(batcher.ddl(ddl(20)), []);
    assert.deepEqual(
      batcher.ddl(ddl(21)).map((b) => [b.coord, b.prev]),
      [[`${F9}:21`, ':0']],
    );
  });

  test("a lane's own set counts for the changes of its lane only", () => {
    const laneOfId = (id: number) => formerLane({ op: 'insert', after: encodeRow([id, `v${id}`]) }, [0], 2)!;
    const [inLane0, inLane1] = [1, 2, 3, 4, 5, 6].reduce<[number[], number[]]>(
      (acc, id) => {
        acc[laneOfId(id)]!.push(id);
        return acc;
      },
      [[], []],
    );
    // The table's joins stand at 10; lane 0 applied up to 20, lane 1 nothing of its own.
    const batcher = createBatcher(
      switchedOpts({
        switched: new Map([[keyOf(A), { set: parseGtidSet('0-1-10'), lanes: [{ count: 2, index: 0, set: parseGtidSet('0-1-20') }] }]]),
      }),
    );
    const out = feed(batcher, [{ rows: ev(A, 15, [...inLane0, ...inLane1]) }, 'commit']);
    assert.deepEqual(out.flatMap(ids).sort(), [...inLane1].sort(), 'lane 0 holds transaction 15, lane 1 does not');
  });
});
