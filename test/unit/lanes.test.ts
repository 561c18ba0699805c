import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBatcher, type TableMeta } from '../../src/producers/binlog/batcher.js';
import { chooseLane, formerLane, laneOfKey, lanePlan, type LanePlan } from '../../src/producers/binlog/lanes.js';
import type { EncodedChange } from '../../src/shared/binlog/batch.js';
import { tableKey } from '../../src/shared/checkpoint/sync-checkpoint.js';

const F = 'mysql-bin.000009';
const columns = ['id', 'u', 'v'];
const ins = (id: number, u = id, v = 0): EncodedChange => ({ op: 'insert', after: [id, u, v] });
const del = (id: number, u = id): EncodedChange => ({ op: 'delete', before: [id, u, 0] });
const upd = (from: [number, number], to: [number, number]): EncodedChange => ({ op: 'update', before: [...from, 0], after: [...to, 1] });

/** Two ids of different lanes and two of the same lane, for `count` lanes. */
function idsFor(count: number) {
  const lane = (id: number) => laneOfKey([id], count);
  const ids = Array.from({ length: 50 }, (_, i) => i + 1);
  const a = ids[0]!;
  const sameLane = ids.find((id) => id !== a && lane(id) === lane(a))!;
  const otherLane = ids.find((id) => lane(id) !== lane(a))!;
  return { a, sameLane, otherLane, lane };
}

describe('lanes: plan', () => {
  test('no lanes without a key or with one lane', () => {
    assert.equal(lanePlan(columns, [], 4, []), undefined);
    assert.equal(lanePlan(columns, ['id'], 1, []), undefined);
    assert.equal(lanePlan(columns, ['missing'], 4, []), undefined);
  });
  test('a unique key that holds the whole key guards nothing; any other guards its columns', () => {
    assert.deepEqual(lanePlan(columns, ['id'], 4, [['id'], ['u', 'id']]), { count: 4, key: [0], guard: [] });
    assert.deepEqual(lanePlan(columns, ['id'], 4, [['u']]), { count: 4, key: [0], guard: [1] });
    // A unique key inside a composite key: two keys (1,a) and (1,b) collide on it.
    assert.deepEqual(lanePlan(columns, ['id', 'v'], 4, [['id']]), { count: 4, key: [0, 2], guard: [0] });
  });
  test('unknown keys, or a unique column the rows do not carry: every change joins', () => {
    assert.deepEqual(lanePlan(columns, ['id'], 4, 'unknown'), { count: 4, key: [0], guard: 'unknown' });
    assert.deepEqual(lanePlan(columns, ['id'], 4, [['target_only']]), { count: 4, key: [0], guard: 'unknown' });
  });
});

describe('lanes: choice', () => {
  const plain: LanePlan = { count: 4, key: [0], guard: [] };
  const guarded: LanePlan = { count: 4, key: [0], guard: [1] };
  const { a, sameLane, otherLane, lane } = idsFor(4);

  test('a change stays in the lane of its key; the hash is a pure function of the key values', () => {
    assert.equal(chooseLane(ins(a), plain), lane(a));
    assert.equal(chooseLane(del(a), plain), lane(a));
    assert.equal(chooseLane(upd([a, 1], [a, 2]), plain), lane(a));
    assert.equal(laneOfKey([a], 4), laneOfKey([a], 4));
  });
  test('an update that moves its key to another lane joins; within the lane it stays', () => {
    assert.equal(chooseLane(upd([a, 1], [otherLane, 1]), plain), 'join');
    assert.equal(chooseLane(upd([a, 1], [sameLane, 1]), plain), lane(a));
  });
  test('with another unique key, inserts, deletes and updates of its columns join; other updates stay', () => {
    assert.equal(chooseLane(ins(a), guarded), 'join');
    assert.equal(chooseLane(del(a), guarded), 'join');
    assert.equal(chooseLane(upd([a, 1], [a, 2]), guarded), 'join');
    assert.equal(chooseLane({ op: 'update', before: [a, 1, 0], after: [a, 1, 9] }, guarded), lane(a));
  });
  test('unknown unique keys: everything joins', () => {
    assert.equal(chooseLane({ op: 'update', before: [a, 1, 0], after: [a, 1, 9] }, { ...plain, guard: 'unknown' }), 'join');
  });
  test('keys equal under a case- and accent-insensitive collation share a lane', () => {
    for (const count of [2, 3, 4, 16]) {
      assert.equal(laneOfKey(['Élan  '], count), laneOfKey(['elan'], count));
      assert.equal(laneOfKey([{ $int: '18446744073709551615' }], count), laneOfKey([{ $int: '18446744073709551615' }], count));
    }
  });
  test('the lane a change had under another count: none for an update that crossed lanes there', () => {
    const two = idsFor(2);
    assert.equal(formerLane(ins(two.a), [0], 2), two.lane(two.a));
    assert.equal(formerLane(upd([two.a, 1], [two.otherLane, 1]), [0], 2), undefined);
  });
});

describe('lanes: batcher', () => {
  test('after a join, batches stay in the table chain until enough in a row could go to lanes', () => {
    const b = createBatcher(opts({ calmBatches: 2 }));
    const { a: id } = idsFor(4);
    const dest = Array.from({ length: 50 }, (_, i) => i + 1000).find((x) => laneOfKey([x], 4) !== laneOfKey([id], 4))!;
    const at = (pos: number, change: EncodedChange) => {
      b.rows({ table: T, op: change.op, rows: rows([change]), coord: { file: F, pos }, eventTime: 0, gtid: null });
      return b.commit()[0]!;
    };
    assert.ok(at(100, ins(id)).lane, 'lanes from the start');
    assert.equal(at(200, upd([id, id], [dest, id])).lane, undefined, 'a join');
    assert.equal(at(300, del(dest)).lane, undefined, 'calm 1: the table chain');
    assert.equal(at(400, ins(id)).lane, undefined, 'calm 2: the table chain');
    assert.ok(at(500, ins(dest)).lane, 'calm 3: lanes again');
  });

  const T: TableMeta = { schema: 'db', table: 'hot', target: { schema: 'db', table: 'hot' }, columns, key: ['id'] };
  const rows = (changes: EncodedChange[]) =>
    changes.map((c) => ({ before: c.before as number[] | undefined, after: c.after as number[] | undefined }));
  const opts = (over: Partial<Parameters<typeof createBatcher>[0]> = {}) => ({
    task: 't',
    sourceId: 's',
    maxRows: 100,
    maxBytes: 1 << 20,
    applied: new Map([[tableKey('db', 'hot'), { file: F, pos: 4 }]]),
    origin: { file: F, pos: 4 },
    startIfMissing: false,
    epoch: 1,
    safeAt: () => false,
    lanes: 4,
    calmBatches: 0,
    ...over,
  });
  const { a, otherLane, lane } = idsFor(4);

  test('a batch splits by lane at one coordinate, each lane chained on its own; a join waits for the lanes and they follow it', () => {
    const b = createBatcher(opts());
    b.rows({ table: T, op: 'insert', rows: rows([ins(a), ins(otherLane)]), coord: { file: F, pos: 100 }, eventTime: 0, gtid: null });
    const first = b.commit();
    assert.deepEqual(
      first.map((x) => [x.lane, x.prev, x.coord, x.changes.length]),
      [
        [{ index: lane(a), count: 4 }, `${F}:4`, `${F}:100`, 1],
        [{ index: lane(otherLane), count: 4 }, `${F}:4`, `${F}:100`, 1],
      ].sort((x, y) => (x[0] as { index: number }).index - (y[0] as { index: number }).index),
    );
    const dest = Array.from({ length: 50 }, (_, i) => i + 1000).find((id) => lane(id) !== lane(a))!;
    b.rows({ table: T, op: 'update', rows: rows([upd([a, a], [dest, a])]), coord: { file: F, pos: 200 }, eventTime: 0, gtid: null });
    const second = b.commit();
    assert.equal(second.length, 1);
    assert.equal(second[0]!.lane, undefined, 'a join is in the table chain');
    assert.equal(second[0]!.prev, `${F}:4`);
    assert.deepEqual(
      second[0]!.join!.map((w) => w.lane!.index).sort(),
      [lane(a), lane(otherLane)].sort(),
      'it waits for every lane read so far',
    );
    b.rows({ table: T, op: 'delete', rows: rows([del(otherLane)]), coord: { file: F, pos: 300 }, eventTime: 0, gtid: null });
    const after = b.commit()[0]!;
    assert.deepEqual([after.lane?.index, after.prev], [lane(otherLane), `${F}:200`], 'a lane follows the join');
    b.ddl({
      barriers: [
        {
          table: { ...T, columns: [], key: [] },
          ddl: { source: 'x', kind: 'alter table', target: ['x'], after: [], shard: 'none' },
          creates: false,
        },
      ],
      coord: { file: F, pos: 400 },
      eventTime: 0,
      gtid: null,
    });
    assert.deepEqual(
      b.waitsOf('db', 'hot'),
      [{ schema: 'db', table: 'hot', coord: `${F}:400` }],
      'a DDL is a join: the lanes restart after it',
    );
  });

  test('changes the lane rows of an earlier lane count cover are left out, their batch kept', () => {
    const two = idsFor(2);
    const key = tableKey('db', 'hot');
    const appliedLanes = new Map([[key, [{ count: 2, at: new Map([[two.lane(two.a), { file: F, pos: 100 }]]) }]]]);
    const b = createBatcher(opts({ appliedLanes }));
    b.rows({
      table: T,
      op: 'insert',
      rows: rows([ins(two.a), ins(two.otherLane)]),
      coord: { file: F, pos: 100 },
      eventTime: 0,
      gtid: null,
    });
    const out = b.commit();
    const written = out.flatMap((x) => x.changes.map((c) => c.after![0]));
    assert.deepEqual(written, [two.otherLane], 'the change lane 0 of 2 applied is not written again');
    assert.ok(out.every((x) => x.coord === `${F}:100`));
  });
});
