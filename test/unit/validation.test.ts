import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Batch, BatchTable } from '../../src/shared/binlog/batch.js';
import { metaTables } from '../../src/shared/checkpoint/meta-schema.js';
import { recordPendingStatements, type PendingRow } from '../../src/shared/checkpoint/validator-store.js';
import { goDurationMs, ramSizeBytes } from '../../src/shared/config/units.js';
import { keyDigest, pendingChanges } from '../../src/shared/validation/pending-change.js';
import { formatStatement } from '../../src/shared/sql/script.js';
import { startTimeMs } from '../../src/shared/state/validation-state.js';
import { compareStatement, groupRows, judgeGroup } from '../../src/producers/validation/row-compare.js';

describe("DM's units", () => {
  test('Go durations in milliseconds', () => {
    for (const [text, ms] of [
      ['30m', 1_800_000],
      ['1m30s', 90_000],
      ['10s', 10_000],
      ['1.5h', 5_400_000],
      ['250ms', 250],
      ['0', 0],
    ] as const) {
      assert.equal(goDurationMs(text), ms, text);
    }
  });

  test('sizes as units.RAMInBytes reads them: binary multiples, any case, optional b/ib', () => {
    for (const [text, bytes] of [
      ['500m', 500 * 2 ** 20],
      ['1g', 2 ** 30],
      ['64MiB', 64 * 2 ** 20],
      ['2KB', 2048],
      ['100', 100],
    ] as const) {
      assert.equal(ramSizeBytes(text), bytes, text);
    }
  });

  test('a start time without a zone is UTC', () => {
    assert.equal(startTimeMs('2021-10-21 00:01:00'), Date.UTC(2021, 9, 21, 0, 1));
    assert.equal(startTimeMs('2021-10-21T00:01:00+08:00'), Date.UTC(2021, 9, 20, 16, 1));
    assert.ok(Number.isNaN(startTimeMs('yesterday')));
  });
});

const table: BatchTable = {
  task: 't',
  sourceId: 's1',
  schema: 'db',
  table: 'items',
  target: { schema: 'db', table: 'items' },
  columns: ['id', 'c'],
  key: ['id'],
};

const batch = (coord: string, changes: Batch['changes'], eventTime = 1000): Batch => ({
  coord,
  prev: '',
  safe: false,
  changes,
  eventTime,
  gtid: null,
});

describe('pendingChanges', () => {
  test('one per key, the last change winning; a key moved away leaves a delete behind', () => {
    const changes = pendingChanges(
      table,
      ['id'],
      [
        batch('f.1:10', [
          { op: 'insert', after: [1, 'a'] },
          { op: 'update', before: [1, 'a'], after: [1, 'b'] },
        ]),
        batch('f.1:20', [
          { op: 'update', before: [2, 'x'], after: [3, 'x'] },
          { op: 'delete', before: [4, 'gone'] },
        ]),
      ],
    );
    assert.deepEqual(
      changes.map((c) => [c.rowKey, c.op, c.image, c.coord]),
      [
        ['[["id",1]]', 'update', [1, 'b'], 'f.1:10'],
        ['[["id",2]]', 'delete', [2, 'x'], 'f.1:20'],
        ['[["id",3]]', 'update', [3, 'x'], 'f.1:20'],
        ['[["id",4]]', 'delete', [4, 'gone'], 'f.1:20'],
      ],
    );
    assert.equal(changes[0]!.keyHash, keyDigest('db', 'items', '[["id",1]]'));
    assert.notEqual(keyDigest('db', 'items', '[["id",1]]'), keyDigest('db', 'other', '[["id",1]]'));
  });

  test('nothing for a table without a key, for DDL barriers, or before the start time', () => {
    const rows = [batch('f.1:10', [{ op: 'insert', after: [1, 'a'] }], 500)];
    assert.deepEqual(pendingChanges(table, [], rows), []);
    assert.deepEqual(pendingChanges(table, ['id'], rows, 600), []);
    assert.equal(pendingChanges(table, ['id'], rows, 500).length, 1);
    const ddl = { ...batch('f.1:30', []), ddl: { source: 'ALTER', kind: 'alter', target: [], after: [], shard: 'none' as const } };
    assert.deepEqual(pendingChanges(table, ['id'], [ddl]), []);
  });
});

function pending(id: number, op: PendingRow['op'], image: PendingRow['image'], target = 'items'): PendingRow {
  const rowKey = JSON.stringify([['id', id]]);
  return {
    sourceId: 's1',
    schema: 'db',
    table: 'items',
    target: { schema: 'db', table: target },
    columns: ['id', 'c'],
    rowKey,
    keyHash: keyDigest('db', 'items', rowKey),
    op,
    image,
    coord: 'f.1:10',
    eventTime: 0,
    ageMs: 0,
  };
}

test('recording statements stay small: many big rows go in several', () => {
  const big = 'x'.repeat(300_000);
  const changes = pendingChanges(
    table,
    ['id'],
    [1, 2, 3, 4, 5, 6, 7].map((id) => batch(`f.1:${id}`, [{ op: 'insert', after: [id, big] }])),
  );
  const statements = recordPendingStatements(metaTables('dm_meta', 't'), table, changes);
  assert.deepEqual(
    statements.map((s) => s.values.length / 12),
    [3, 3, 1],
  );
  assert.match(statements[0]!.sql, /^INSERT INTO `dm_meta`\.`t_validator_pending_change`/);
});

describe('row comparison', () => {
  test('groups by target table, at most the batch size each', () => {
    const rows = [
      pending(1, 'insert', [1, 'a']),
      pending(2, 'insert', [2, 'b']),
      pending(3, 'insert', [3, 'c'], 'other'),
      pending(4, 'delete', [4, 'd']),
    ];
    assert.deepEqual(
      groupRows(rows, 2).map((g) => [g.target.table, g.rows.map((r) => r.rowKey)]),
      [
        ['items', ['[["id",1]]', '[["id",2]]']],
        ['items', ['[["id",4]]']],
        ['other', ['[["id",3]]']],
      ],
    );
  });

  test('full mode compares every column of inserts and updates, NULL-safely; deletes and fast mode only look the row up', () => {
    const [group] = groupRows([pending(1, 'update', [1, null]), pending(2, 'delete', [2, 'x'])], 10);
    const [floats] = groupRows([pending(3, 'insert', [3, 0.1])], 10);
    assert.match(formatStatement(compareStatement(floats!, 'full', new Map())), /`c` <=> 1e-1,/, 'a fraction goes as a DOUBLE');
    const [bits] = groupRows([pending(4, 'insert', [4, { $bytes: Buffer.from([1, 2]).toString('base64') }])], 10);
    assert.match(
      formatStatement(compareStatement(bits!, 'full', new Map([['c', 'bit']]))),
      /`c` <=> 258,/,
      'BIT bytes go as their integer',
    );
    const full = compareStatement(group!, 'full', new Map([['c', 'json']]));
    assert.equal(
      full.sql,
      'SELECT ? AS n, `id` <=> ?, `c` <=> CAST(? AS JSON), `id`, `c` FROM `db`.`items` WHERE `id` = ? UNION ALL SELECT ? AS n, 1, 1, `id`, `c` FROM `db`.`items` WHERE `id` = ?',
    );
    assert.deepEqual(full.values, [0, 1, null, 1, 1, 2]);
    const fast = compareStatement(group!, 'fast', new Map());
    assert.deepEqual(fast.values, [0, 1, 1, 2]);
  });

  test("the answer: DM's three kinds of difference, with both rows", () => {
    const [group] = groupRows(
      [
        pending(1, 'update', [1, 'a']),
        pending(2, 'insert', [2, 'b']),
        pending(3, 'delete', [3, 'c']),
        pending(4, 'insert', [4, 'd']),
        pending(5, 'delete', [5, 'e']),
      ],
      10,
    );
    const outcome = judgeGroup(group!, [
      [0, 1, 0, 1, 'changed'],
      [2, 1, 1, 3, 'c'],
      [3, 1, 1, 4, 'd'],
    ]);
    assert.deepEqual(
      outcome.matched.map((r) => r.rowKey),
      ['[["id",4]]', '[["id",5]]'],
    );
    assert.deepEqual(
      outcome.failed.map((f) => [f.row.rowKey, f.kind, f.srcData, f.dstData, f.differ]),
      [
        ['[["id",1]]', 'Column data not matched', '{"id":1,"c":"a"}', '{"id":1,"c":"changed"}', ['c']],
        ['[["id",2]]', 'Expected rows not exist', '{"id":2,"c":"b"}', null, []],
        ['[["id",3]]', 'Deleted rows exist', '{"id":3,"c":"c"}', '{"id":3,"c":"c"}', []],
      ],
    );
  });
});
