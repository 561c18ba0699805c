import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupIntoJobs } from '../../src/producers/binlog/apply-jobs.js';
import { decideApply } from '../../src/processors/apply/apply-rule.js';
import type { ApplyBatch } from '../../src/shared/binlog/batch.js';
import { parseCoordText } from '../../src/shared/binlog/position.js';

const F = 'mysql-bin.000003';

function batch(table: string, prev: number, coord: number, over: Partial<ApplyBatch> = {}): ApplyBatch {
  return {
    task: 't',
    sourceId: 's',
    schema: 'db',
    table,
    target: { schema: 'db', table },
    columns: ['id', 'v'],
    key: ['id'],
    coord: `${F}:${coord}`,
    prev: `${F}:${prev}`,
    startIfMissing: false,
    safe: false,
    changes: [{ op: 'insert', after: [coord, 'x'] }],
    eventTime: 0,
    gtid: null,
    bytes: 10,
    epoch: 1,
    ...over,
  };
}

const spans = (batches: ApplyBatch[], limits = { maxRows: 100, maxBytes: 1000 }) =>
  groupIntoJobs(batches, limits).map((j) => `${j.table}:${j.batches.map((b) => b.coord.slice(F.length + 1)).join(',')}`);

describe('groupIntoJobs', () => {
  test('chained batches of a table share a job; tables stay apart; order within a table holds', () => {
    assert.deepEqual(spans([batch('a', 4, 10), batch('b', 4, 11), batch('a', 10, 20), batch('a', 20, 30), batch('b', 11, 31)]), [
      'a:10,20,30',
      'b:11,31',
    ]);
  });

  test('a job closes at the row and byte limits', () => {
    const chain = [batch('a', 4, 10), batch('a', 10, 20), batch('a', 20, 30), batch('a', 30, 40)];
    assert.deepEqual(spans(chain, { maxRows: 2, maxBytes: 1000 }), ['a:10,20', 'a:30,40']);
    assert.deepEqual(spans(chain, { maxRows: 100, maxBytes: 30 }), ['a:10,20,30', 'a:40']);
  });

  test('a break in the chain, new columns, a table start or another reader epoch never share a job', () => {
    assert.deepEqual(spans([batch('a', 4, 10), batch('a', 15, 20)]), ['a:10', 'a:20'], 'prev is not the last coord');
    assert.deepEqual(spans([batch('a', 4, 10), batch('a', 10, 20, { columns: ['id', 'v', 'w'] })]), ['a:10', 'a:20'], 'columns changed');
    assert.deepEqual(
      spans([batch('a', 4, 10), batch('a', 10, 20, { startIfMissing: true })]),
      ['a:10', 'a:20'],
      'may start a missing table',
    );
    assert.deepEqual(spans([batch('a', 4, 10), batch('a', 10, 20, { epoch: 2 })]), ['a:10', 'a:20'], 'cut by another reader');
    assert.deepEqual(
      groupIntoJobs([batch('a', 4, 10, { epoch: 2 })], { maxRows: 100, maxBytes: 1000 }).map((j) => j.epoch),
      [2],
      'a job carries its reader epoch',
    );
  });

  test('batches keep their own safe flag and changes', () => {
    const [job] = groupIntoJobs([batch('a', 4, 10, { safe: true }), batch('a', 10, 20)], { maxRows: 100, maxBytes: 1000 });
    assert.deepEqual(
      job!.batches.map((b) => [b.prev, b.coord, b.safe, b.changes.length]),
      [
        [`${F}:4`, `${F}:10`, true, 1],
        [`${F}:10`, `${F}:20`, false, 1],
      ],
    );
  });
});

describe('decideApply', () => {
  const job = (startIfMissing = false) => ({
    startIfMissing,
    batches: groupIntoJobs([batch('a', 4, 10), batch('a', 10, 20), batch('a', 20, 30)], { maxRows: 100, maxBytes: 1000 })[0]!.batches,
  });
  const at = (pos: number) => parseCoordText(`${F}:${pos}`);
  const cases: [string, number | undefined, boolean, ReturnType<typeof decideApply>][] = [
    ['stands at the first prev: apply all', 4, false, { action: 'apply', from: 0 }],
    ['first batch applied: apply the rest', 10, false, { action: 'apply', from: 1 }],
    ['two applied', 20, false, { action: 'apply', from: 2 }],
    ['all applied: skip', 30, false, { action: 'skip' }],
    ['past the job: skip', 99, false, { action: 'skip' }],
    ['before the first prev: wait for the predecessor', 2, false, { action: 'wait', until: 'predecessor', current: at(2) }],
    ['no checkpoint row: wait for the copy', undefined, false, { action: 'wait', until: 'copy' }],
    ['no checkpoint row, may start: apply all', undefined, true, { action: 'apply', from: 0 }],
    ['inside a batch: conflict', 15, false, { action: 'conflict', current: at(15), batch: 1 }],
    ['inside the first batch: conflict', 7, false, { action: 'conflict', current: at(7), batch: 0 }],
  ];
  for (const [name, stored, startIfMissing, expected] of cases) {
    test(name, () => assert.deepEqual(decideApply(stored === undefined ? undefined : at(stored), job(startIfMissing)), expected));
  }
});

test('a DDL barrier is a job of its own: rows before it and after it go in other jobs', () => {
  const ddl = {
    source: 'ALTER TABLE a ADD c INT',
    kind: 'alter table',
    target: ['ALTER TABLE `db`.`a` ADD COLUMN `c` INT'],
    after: [],
    shard: 'none' as const,
  };
  const jobs = groupIntoJobs(
    [batch('a', 4, 10), batch('a', 10, 20, { ddl, changes: [], columns: [], key: [] }), batch('a', 20, 30), batch('a', 30, 40)],
    { maxRows: 100, maxBytes: 1000 },
  );
  assert.deepEqual(
    jobs.map((j) => j.batches.map((b) => b.coord.slice(F.length + 1)).join(',')),
    ['10', '20', '30,40'],
  );
  assert.deepEqual(jobs[1]!.batches[0]!.ddl, ddl);
  assert.equal(jobs[0]!.batches[0]!.ddl, undefined);
});
