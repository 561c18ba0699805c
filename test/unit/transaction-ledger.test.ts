import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appliersBehind, backlogDrained, backlogFull } from '../../src/producers/binlog/back-pressure.js';
import { createTransactionLedger } from '../../src/producers/binlog/transaction-ledger.js';
import { coordText, parseCoordText } from '../../src/shared/binlog/position.js';
import { tableKey } from '../../src/shared/checkpoint/sync-checkpoint.js';

const F = 'mysql-bin.000007';
const at = (pos: number | string) => parseCoordText(`${F}:${pos}`);

/** What the reader tells the ledger, in binlog order; positions in file F, `a@150#1` is table a's batch at 150 part 1. */
type Step = ['restart', number | undefined] | ['begin', number, number] | ['batch', string] | ['commit', number] | ['passed', number];

function replay(steps: Step[]) {
  const ledger = createTransactionLedger();
  for (const step of steps) {
    if (step[0] === 'restart') ledger.restart(step[1] === undefined ? undefined : at(step[1]));
    else if (step[0] === 'begin') ledger.begin(at(step[1]), step[2]);
    else if (step[0] === 'commit') ledger.commit(at(step[1]));
    else if (step[0] === 'passed') ledger.passed(at(step[1]));
    else {
      const [table, pos] = step[1].split('@') as [string, string];
      ledger.add([{ schema: 'app', table, coord: `${F}:${pos}`, bytes: 10 }]);
    }
  }
  return ledger;
}

/** Each table's checkpoint, as `a@150`. */
const applied = (...marks: string[]) =>
  new Map(
    marks.map((m) => {
      const [table, pos] = m.split('@') as [string, string];
      return [tableKey('app', table), at(pos)];
    }),
  );

describe('transaction ledger: what is applied, and where the reader may resume', () => {
  // [name, steps, tables' checkpoints, resume, pending batches, oldest pending time, transactions retired]
  const cases: [string, Step[], Map<string, ReturnType<typeof at>>, string | undefined, number, number, number][] = [
    ['nothing read: the run starts from its start', [['restart', 100]], applied(), `${F}:100`, 0, 0, 0],
    ['from a GTID, nothing read: no place yet', [['restart', undefined]], applied(), undefined, 0, 0, 0],
    [
      'an applied transaction is retired: resume after its commit',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['commit', 200],
      ],
      applied('a@150'),
      `${F}:200`,
      0,
      0,
      1,
    ],
    [
      'a checkpoint past the batch covers it too',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['commit', 200],
      ],
      applied('a@900'),
      `${F}:200`,
      0,
      0,
      1,
    ],
    [
      'a transaction applied in one table only holds the resume at its start',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['batch', 'b@160'],
        ['commit', 200],
      ],
      applied('a@150'),
      `${F}:100`,
      1,
      1000,
      0,
    ],
    [
      'the part of a split batch counts: a checkpoint at part 1 does not cover part 2',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150#1'],
        ['batch', 'a@150#2'],
        ['commit', 200],
      ],
      applied('a@150#1'),
      `${F}:100`,
      1,
      1000,
      0,
    ],
    [
      'an unapplied transaction holds the resume at its start; the applied ones after it are retired',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['commit', 200],
        ['begin', 200, 2000],
        ['batch', 'b@250'],
        ['commit', 300],
      ],
      applied('b@250'),
      `${F}:100`,
      1,
      1000,
      1,
    ],
    [
      'the oldest pending time skips transactions fully applied behind an unapplied one',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['commit', 200],
        ['begin', 200, 2000],
        ['batch', 'b@250'],
        ['commit', 300],
      ],
      applied('a@150'),
      `${F}:200`,
      1,
      2000,
      1,
    ],
    [
      'the transaction still being read is never retired, even when applied',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
      ],
      applied('a@150'),
      `${F}:100`,
      0,
      0,
      0,
    ],
    [
      'outside a transaction every event end is a place to resume',
      [
        ['restart', 100],
        ['passed', 120],
        ['passed', 140],
      ],
      applied(),
      `${F}:140`,
      0,
      0,
      0,
    ],
    [
      'inside a transaction an event end is not',
      [
        ['restart', 100],
        ['begin', 140, 1000],
        ['passed', 160],
        ['batch', 'a@170'],
        ['passed', 170],
      ],
      applied(),
      `${F}:140`,
      1,
      1000,
      0,
    ],
    [
      'a statement without a transaction (DDL) commits where it ends',
      [
        ['restart', 100],
        ['batch', 'a@150'],
        ['commit', 150],
      ],
      applied(),
      `${F}:150`,
      0,
      0,
      0,
    ],
    [
      'a restart forgets what the last run read',
      [
        ['restart', 100],
        ['begin', 100, 1000],
        ['batch', 'a@150'],
        ['commit', 200],
        ['restart', 100],
      ],
      applied(),
      `${F}:100`,
      0,
      0,
      0,
    ],
  ];
  for (const [name, steps, checkpoints, resume, pending, oldest, retired] of cases) {
    test(name, () => {
      const { resume: got, figures } = replay(steps).settle(checkpoints, 0);
      assert.equal(got && coordText(got), resume, 'resume');
      assert.equal(figures.pendingBatches, pending, 'pending batches');
      assert.equal(figures.pendingBytes, pending * 10, 'pending bytes');
      assert.equal(figures.oldestPendingTime, oldest, 'oldest pending time');
      assert.equal(figures.appliedTransactions, retired, 'transactions retired');
    });
  }

  test('pending counts grow with every batch added and are recounted at each settle', () => {
    const ledger = replay([
      ['restart', 100],
      ['batch', 'a@110'],
      ['begin', 120, 1000],
      ['batch', 'a@150'],
      ['batch', 'b@160'],
    ]);
    assert.deepEqual(ledger.backlog(), { pendingBatches: 3, pendingBytes: 30, pendingTransactions: 1 });
    ledger.settle(applied('a@150'), 0);
    assert.deepEqual(
      ledger.backlog(),
      { pendingBatches: 1, pendingBytes: 10, pendingTransactions: 1 },
      'only batches of tracked transactions stay',
    );
    ledger.restart(at(100));
    assert.deepEqual(
      ledger.backlog(),
      { pendingBatches: 1, pendingBytes: 10, pendingTransactions: 0 },
      'a restart keeps the batch counts until the next settle',
    );
    assert.equal(ledger.inTransaction(), false);
  });

  test('a batch held for long holds one entry, not every transaction read after it, and the resume stays at its start', () => {
    const ledger = replay([
      ['restart', 100],
      ['begin', 100, 1000],
      ['batch', 'held@150'],
      ['commit', 200],
    ]);
    let pos = 200;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10_000; i++) {
        ledger.begin(at(pos), 2000);
        ledger.add([{ schema: 'app', table: 'busy', coord: `${F}:${pos + 1}`, bytes: 10 }]);
        ledger.commit(at(pos + 2));
        pos += 10;
      }
      const { resume, figures } = ledger.settle(applied(`busy@${pos}`), round);
      assert.equal(resume && coordText(resume), `${F}:100`, 'the global checkpoint never passes the held batch');
      assert.deepEqual([figures.pendingTransactions, figures.pendingBatches, figures.oldestPendingTime], [1, 1, 1000]);
      assert.equal(figures.appliedTransactions, (round + 1) * 10_000);
    }
    // Part of the busy table's transactions not applied yet: those stay, behind the held one.
    ledger.begin(at(pos), 3000);
    ledger.add([{ schema: 'app', table: 'busy', coord: `${F}:${pos + 1}`, bytes: 10 }]);
    ledger.commit(at(pos + 2));
    assert.equal(ledger.settle(applied(`busy@${pos - 9}`), 11).figures.pendingTransactions, 2);
    const { resume, figures } = ledger.settle(applied('held@150', `busy@${pos + 1}`), 12);
    assert.equal(resume && coordText(resume), `${F}:${pos + 2}`, 'once the held batch is applied, the resume moves past everything');
    assert.equal(figures.pendingTransactions, 0);
  });

  test('read past a position: only what this run has read since its restart counts', () => {
    const ledger = replay([
      ['restart', 100],
      ['begin', 100, 1000],
      ['batch', 'a@150'],
    ]);
    assert.equal(ledger.readPast(at(150)), false, 'inside the transaction the batch is not handed on yet');
    ledger.commit(at(200));
    assert.equal(ledger.readPast(at(150)), true);
    ledger.restart(at(100));
    assert.equal(ledger.readPast(at(150)), false, 'a new run from an earlier place has not');
    assert.equal(createTransactionLedger().readPast(at(150)), false, 'from a GTID, nothing read yet');
  });

  test('recent TPS: transactions retired over about the last ten seconds', () => {
    const ledger = createTransactionLedger();
    let pos = 100;
    const applyTransactions = (n: number) => {
      for (let i = 0; i < n; i++) {
        ledger.begin(at(pos), 0);
        ledger.add([{ schema: 'app', table: 'a', coord: `${F}:${pos + 1}`, bytes: 1 }]);
        ledger.commit(at(pos + 2));
        pos += 10;
      }
      return applied(`a@${pos}`);
    };
    // [now, transactions applied since the last settle, expected recentTps]
    const steps: [number, number, number][] = [
      [0, 0, 0],
      [1000, 5, 5],
      [2000, 5, 5],
      [4000, 30, 10],
      [10_000, 0, 4],
      [10_500, 0, 4],
      [30_000, 10, 0],
      [31_000, 10, 10],
    ];
    for (const [now, n, tps] of steps) assert.equal(ledger.settle(applyTransactions(n), now).figures.recentTps, tps, `at ${now} ms`);
  });
});

describe('back-pressure: high and low water marks in batches, bytes, transactions and bytes held in the process', () => {
  const MiB = 1 << 20;
  // [pending batches, pending bytes, pending transactions, bytes held, full (pause), drained (resume), appliers behind]
  const cases: [number, number, number, number, boolean, boolean, boolean][] = [
    [0, 0, 0, 0, false, true, false],
    [500, 0, 500, 0, false, true, false],
    [501, 0, 501, 0, false, true, true],
    [5_000, 32 * MiB, 5_000, 0, false, true, true],
    [5_001, 0, 1, 0, false, false, true],
    [0, 32 * MiB + 1, 0, 0, false, false, false],
    [9_999, 64 * MiB - 1, 9_999, 0, false, false, true],
    [10_000, 0, 1, 0, true, false, true],
    [10, 64 * MiB, 10, 0, true, false, false],
    [1, 0, 10_000, 0, false, true, false],
    [1, 0, 10_001, 0, false, false, false],
    [1, 0, 19_999, 0, false, false, false],
    [1, 0, 20_000, 0, true, false, false],
    [0, 0, 0, 8 * MiB, false, true, false],
    [0, 0, 0, 8 * MiB + 1, false, false, false],
    [0, 0, 0, 24 * MiB - 1, false, false, false],
    [0, 0, 0, 24 * MiB, true, false, false],
  ];
  for (const [pendingBatches, pendingBytes, pendingTransactions, held, full, drained, behind] of cases) {
    test(`${pendingBatches} batches, ${pendingBytes} bytes, ${pendingTransactions} transactions, ${held} bytes held`, () => {
      const backlog = { pendingBatches, pendingBytes, pendingTransactions };
      assert.deepEqual([backlogFull(backlog, held), backlogDrained(backlog, held), appliersBehind(backlog)], [full, drained, behind]);
    });
  }
});

test('with GTID tracking, the global checkpoint carries the set of every transaction before it', () => {
  const ledger = createTransactionLedger();
  ledger.restart(at(100), '0-1-9');
  ledger.begin(at(100), 0, '0-1-9');
  ledger.add([{ schema: 'db', table: 'a', coord: `${F}:150`, bytes: 1 }]);
  ledger.commit(at(200), '0-1-10');
  ledger.begin(at(200), 0, '0-1-10');
  ledger.add([{ schema: 'db', table: 'b', coord: `${F}:250`, bytes: 1 }]);
  ledger.commit(at(300), '0-1-11');
  const stands = (a: number, b: number) =>
    new Map([
      [tableKey('db', 'a'), at(a)],
      [tableKey('db', 'b'), at(b)],
    ]);
  assert.deepEqual(
    [ledger.settle(stands(100, 100), 0)].map((s) => [coordText(s.resume!), s.resumeGtid]),
    [[`${F}:100`, '0-1-9']],
  );
  const first = ledger.settle(stands(150, 100), 1);
  assert.deepEqual([coordText(first.resume!), first.resumeGtid], [`${F}:200`, '0-1-10'], 'the second transaction is pending');
  const both = ledger.settle(stands(150, 250), 2);
  assert.deepEqual([coordText(both.resume!), both.resumeGtid], [`${F}:300`, '0-1-11'], 'nothing pending: the last commit');
});
