import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildStatements, type ApplyTable, type RowChange, type Statement } from '../../src/processors/apply/statements.js';

const T = '`db`.`t`';
const byId: ApplyTable = { target: { schema: 'db', table: 't' }, columns: ['id', 'name', 'n'], key: ['id'] };
const composite: ApplyTable = { target: { schema: 'db', table: 't' }, columns: ['a', 'b', 'v'], key: ['a', 'b'] };
const keyless: ApplyTable = { target: { schema: 'db', table: 't' }, columns: ['x', 'y'], key: [] };
/** byId with its target's other unique keys known: `name` is unique. */
const byIdUnique: ApplyTable = { ...byId, uniqueColumns: ['name'] };
const CASE_N = (k: number) => `CASE \`id\` ${Array.from({ length: k }, () => 'WHEN ? THEN ?').join(' ')} END`;

const ins = (...after: RowChange['after'][]): RowChange[] => after.map((a) => ({ op: 'insert', after: a! }));
const del = (...before: RowChange['before'][]): RowChange[] => before.map((b) => ({ op: 'delete', before: b! }));
const upd = (before: RowChange['before'], after: RowChange['after']): RowChange => ({ op: 'update', before: before!, after: after! });

const UPSERT_ID = ' ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`), `n` = VALUES(`n`)';

interface Case {
  name: string;
  table: ApplyTable;
  changes: RowChange[];
  safeMode: boolean;
  maxStatementBytes?: number;
  expected: Statement[];
}

const cases: Case[] = [
  {
    name: 'one insert',
    table: byId,
    changes: ins([1, 'a', 10]),
    safeMode: false,
    expected: [{ sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [1, 'a', 10] }],
  },
  {
    name: 'consecutive inserts merge into one multi-row INSERT',
    table: byId,
    changes: ins([1, 'a', 10], [2, null, 20], [3, 'c', null]),
    safeMode: false,
    expected: [
      {
        sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)`,
        values: [1, 'a', 10, 2, null, 20, 3, 'c', null],
      },
    ],
  },
  {
    // rowBytes([n, 'x', n]) = 2 + (1+3+1) * 3 = 17: 40 bytes hold two rows.
    name: 'a size limit splits a run of inserts, order kept',
    table: byId,
    changes: ins([1, 'a', 1], [2, 'b', 2], [3, 'c', 3], [4, 'd', 4], [5, 'e', 5]),
    safeMode: false,
    maxStatementBytes: 40,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?)`, values: [1, 'a', 1, 2, 'b', 2] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?)`, values: [3, 'c', 3, 4, 'd', 4] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [5, 'e', 5] },
    ],
  },
  {
    name: 'a row larger than the limit still goes, alone',
    table: byId,
    changes: ins([1, 'a', 1], [2, 'x'.repeat(100), 2], [3, 'c', 3]),
    safeMode: false,
    maxStatementBytes: 40,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [1, 'a', 1] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [2, 'x'.repeat(100), 2] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [3, 'c', 3] },
    ],
  },
  {
    name: 'safe mode: inserts become one upsert updating every column',
    table: byId,
    changes: ins([1, 'a', 10], [2, 'b', 20]),
    safeMode: true,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?)${UPSERT_ID}`, values: [1, 'a', 10, 2, 'b', 20] },
    ],
  },
  {
    name: 'safe mode with a size limit: every part is an upsert',
    table: byId,
    changes: ins([1, 'a', 1], [2, 'b', 2], [3, 'c', 3]),
    safeMode: true,
    maxStatementBytes: 40,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?)${UPSERT_ID}`, values: [1, 'a', 1, 2, 'b', 2] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)${UPSERT_ID}`, values: [3, 'c', 3] },
    ],
  },
  {
    name: 'update by key: UPDATE … WHERE key, the changed columns set from the after image',
    table: byId,
    changes: [upd([1, 'a', 10], [1, 'b', 11]), upd([2, 'a', 10], [2, 'a', 12]), upd([3, 'a', 10], [3, 'a', 10])],
    safeMode: false,
    expected: [
      { sql: `UPDATE ${T} SET \`name\` = ?, \`n\` = ? WHERE \`id\` = ?`, values: ['b', 11, 1] },
      { sql: `UPDATE ${T} SET \`n\` = ? WHERE \`id\` = ?`, values: [12, 2] },
      // Nothing changed (the source matched the row): set everything rather than send invalid SQL.
      { sql: `UPDATE ${T} SET \`id\` = ?, \`name\` = ?, \`n\` = ? WHERE \`id\` = ?`, values: [3, 'a', 10, 3] },
    ],
  },
  {
    name: 'update: bytes compare by content, so an unchanged blob is not sent again',
    table: byId,
    changes: [
      upd([1, Buffer.from([0, 1]), 10], [1, Buffer.from([0, 1]), 11]),
      upd([2, Buffer.from([0, 1]), 10], [2, Buffer.from([0, 2]), 10]),
    ],
    safeMode: false,
    expected: [
      { sql: `UPDATE ${T} SET \`n\` = ? WHERE \`id\` = ?`, values: [11, 1] },
      { sql: `UPDATE ${T} SET \`name\` = ? WHERE \`id\` = ?`, values: [Buffer.from([0, 2]), 2] },
    ],
  },
  {
    name: 'consecutive updates of different rows changing the same columns merge into one UPDATE … CASE',
    table: byIdUnique,
    changes: [upd([1, 'a', 10], [1, 'a', 11]), upd([2, 'b', 20], [2, 'b', 21]), upd([3, 'c', 30], [3, 'c', 31])],
    safeMode: false,
    expected: [{ sql: `UPDATE ${T} SET \`n\` = ${CASE_N(3)} WHERE \`id\` IN (?, ?, ?)`, values: [1, 11, 2, 21, 3, 31, 1, 2, 3] }],
  },
  {
    name: 'merged updates split where the row repeats, the columns differ, a unique column or the key changes',
    table: byIdUnique,
    changes: [
      upd([1, 'a', 10], [1, 'a', 11]),
      upd([2, 'b', 20], [2, 'b', 21]),
      upd([1, 'a', 11], [1, 'a', 12]),
      upd([3, 'c', 30], [3, 'c', 31]),
      upd([4, 'd', 40], [4, 'D', 40]),
      upd([5, 'e', 50], [6, 'e', 50]),
      upd([7, 'g', 70], [7, 'g', 71]),
    ],
    safeMode: false,
    expected: [
      { sql: `UPDATE ${T} SET \`n\` = ${CASE_N(2)} WHERE \`id\` IN (?, ?)`, values: [1, 11, 2, 21, 1, 2] },
      { sql: `UPDATE ${T} SET \`n\` = ${CASE_N(2)} WHERE \`id\` IN (?, ?)`, values: [1, 12, 3, 31, 1, 3] },
      { sql: `UPDATE ${T} SET \`name\` = ? WHERE \`id\` = ?`, values: ['D', 4] },
      { sql: `UPDATE ${T} SET \`id\` = ? WHERE \`id\` = ?`, values: [6, 5] },
      { sql: `UPDATE ${T} SET \`n\` = ? WHERE \`id\` = ?`, values: [71, 7] },
    ],
  },
  {
    name: 'merged updates keep one value type per column, so CASE converts as a lone value would',
    table: { ...byId, uniqueColumns: [] },
    changes: [upd([1, 'a', 10], [1, 'x', 10]), upd([2, 'b', 20], [2, null, 20]), upd([3, 'c', 30], [3, Buffer.from('y'), 30])],
    safeMode: false,
    expected: [
      { sql: `UPDATE ${T} SET \`name\` = ${CASE_N(2)} WHERE \`id\` IN (?, ?)`, values: [1, 'x', 2, null, 1, 2] },
      { sql: `UPDATE ${T} SET \`name\` = ? WHERE \`id\` = ?`, values: [Buffer.from('y'), 3] },
    ],
  },
  {
    name: 'updates of a composite key or in safe mode are never merged',
    table: { ...composite, uniqueColumns: [] },
    changes: [upd([1, 'x', 'old'], [1, 'x', 'new']), upd([2, 'x', 'old'], [2, 'x', 'new'])],
    safeMode: false,
    expected: [
      { sql: `UPDATE ${T} SET \`v\` = ? WHERE \`a\` = ? AND \`b\` = ?`, values: ['new', 1, 'x'] },
      { sql: `UPDATE ${T} SET \`v\` = ? WHERE \`a\` = ? AND \`b\` = ?`, values: ['new', 2, 'x'] },
    ],
  },
  {
    name: 'update changing the key matches the OLD key',
    table: byId,
    changes: [upd([1, 'a', 10], [7, 'a', 10])],
    safeMode: false,
    expected: [{ sql: `UPDATE ${T} SET \`id\` = ? WHERE \`id\` = ?`, values: [7, 1] }],
  },
  {
    name: 'update by composite key',
    table: composite,
    changes: [upd([1, 'x', 'old'], [1, 'x', 'new'])],
    safeMode: false,
    expected: [{ sql: `UPDATE ${T} SET \`v\` = ? WHERE \`a\` = ? AND \`b\` = ?`, values: ['new', 1, 'x'] }],
  },
  {
    name: 'safe mode update: delete the old key, then upsert the new row',
    table: byId,
    changes: [upd([1, 'a', 10], [7, 'b', 11])],
    safeMode: true,
    expected: [
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?)`, values: [1] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)${UPSERT_ID}`, values: [7, 'b', 11] },
    ],
  },
  {
    name: 'safe mode update, composite key',
    table: composite,
    changes: [upd([1, 'x', 'old'], [2, 'y', 'new'])],
    safeMode: true,
    expected: [
      { sql: `DELETE FROM ${T} WHERE (\`a\` = ? AND \`b\` = ?)`, values: [1, 'x'] },
      {
        sql: `INSERT INTO ${T} (\`a\`, \`b\`, \`v\`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \`a\` = VALUES(\`a\`), \`b\` = VALUES(\`b\`), \`v\` = VALUES(\`v\`)`,
        values: [2, 'y', 'new'],
      },
    ],
  },
  {
    name: 'update without a key: every column compared with <=>, LIMIT 1',
    table: keyless,
    changes: [upd([1, null], [1, 'z'])],
    safeMode: false,
    expected: [{ sql: `UPDATE ${T} SET \`y\` = ? WHERE \`x\` <=> ? AND \`y\` <=> ? LIMIT 1`, values: ['z', 1, null] }],
  },
  {
    name: 'update without a key in safe mode: still <=> and LIMIT 1 (no key to upsert on)',
    table: keyless,
    changes: [upd([1, null], [1, 'z'])],
    safeMode: true,
    expected: [{ sql: `UPDATE ${T} SET \`y\` = ? WHERE \`x\` <=> ? AND \`y\` <=> ? LIMIT 1`, values: ['z', 1, null] }],
  },
  {
    name: 'deletes without a key: one statement per row, <=> for every column, LIMIT 1',
    table: keyless,
    changes: del([1, null], [1, null], [2, 'b']),
    safeMode: false,
    expected: [
      { sql: `DELETE FROM ${T} WHERE \`x\` <=> ? AND \`y\` <=> ? LIMIT 1`, values: [1, null] },
      { sql: `DELETE FROM ${T} WHERE \`x\` <=> ? AND \`y\` <=> ? LIMIT 1`, values: [1, null] },
      { sql: `DELETE FROM ${T} WHERE \`x\` <=> ? AND \`y\` <=> ? LIMIT 1`, values: [2, 'b'] },
    ],
  },
  {
    name: 'inserts without a key: multi-row INSERT (safe mode has no key to upsert on)',
    table: keyless,
    changes: ins([1, 'a'], [1, 'a']),
    safeMode: true,
    expected: [{ sql: `INSERT INTO ${T} (\`x\`, \`y\`) VALUES (?, ?), (?, ?)`, values: [1, 'a', 1, 'a'] }],
  },
  {
    name: 'consecutive deletes by a single-column key: one DELETE … IN',
    table: byId,
    changes: del([1, 'a', 10], [2, 'b', 20], [3, null, null]),
    safeMode: false,
    expected: [{ sql: `DELETE FROM ${T} WHERE \`id\` IN (?, ?, ?)`, values: [1, 2, 3] }],
  },
  {
    name: 'deletes are the same in safe mode',
    table: byId,
    changes: del([1, 'a', 10], [2, 'b', 20]),
    safeMode: true,
    expected: [{ sql: `DELETE FROM ${T} WHERE \`id\` IN (?, ?)`, values: [1, 2] }],
  },
  {
    // Per key: 8 + (1 + 3) = 12 bytes; 25 bytes hold two keys.
    name: 'a size limit splits a run of deletes',
    table: byId,
    changes: del([1, 'a', 1], [2, 'b', 2], [3, 'c', 3]),
    safeMode: false,
    maxStatementBytes: 25,
    expected: [
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?, ?)`, values: [1, 2] },
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?)`, values: [3] },
    ],
  },
  {
    name: 'consecutive deletes by a composite key: OR of ANDs',
    table: composite,
    changes: del([1, 'x', 'p'], [1, 'y', 'q'], [2, 'x', null]),
    safeMode: false,
    expected: [
      {
        sql: `DELETE FROM ${T} WHERE (\`a\` = ? AND \`b\` = ?) OR (\`a\` = ? AND \`b\` = ?) OR (\`a\` = ? AND \`b\` = ?)`,
        values: [1, 'x', 1, 'y', 2, 'x'],
      },
    ],
  },
  {
    name: 'mixed operations keep their order; only neighbours of the same kind merge',
    table: byId,
    changes: [
      ...ins([1, 'a', 1], [2, 'b', 2]),
      ...del([1, 'a', 1]),
      upd([2, 'b', 2], [2, 'B', 3]),
      upd([2, 'B', 3], [2, 'C', 4]),
      ...ins([1, 'again', 5]),
      ...del([2, 'C', 4], [1, 'again', 5]),
      ...ins([9, 'z', 9]),
    ],
    safeMode: false,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?), (?, ?, ?)`, values: [1, 'a', 1, 2, 'b', 2] },
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?)`, values: [1] },
      { sql: `UPDATE ${T} SET \`name\` = ?, \`n\` = ? WHERE \`id\` = ?`, values: ['B', 3, 2] },
      { sql: `UPDATE ${T} SET \`name\` = ?, \`n\` = ? WHERE \`id\` = ?`, values: ['C', 4, 2] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [1, 'again', 5] },
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?, ?)`, values: [2, 1] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`, values: [9, 'z', 9] },
    ],
  },
  {
    name: 'mixed operations in safe mode',
    table: byId,
    changes: [...ins([1, 'a', 1]), upd([1, 'a', 1], [1, 'b', 2]), ...del([1, 'b', 2]), ...ins([1, 'c', 3])],
    safeMode: true,
    expected: [
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)${UPSERT_ID}`, values: [1, 'a', 1] },
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?)`, values: [1] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)${UPSERT_ID}`, values: [1, 'b', 2] },
      { sql: `DELETE FROM ${T} WHERE \`id\` IN (?)`, values: [1] },
      { sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)${UPSERT_ID}`, values: [1, 'c', 3] },
    ],
  },
  {
    name: 'odd identifiers are quoted (backtick, space, dot, unicode)',
    table: { target: { schema: 'my.db', table: 'ta`ble x' }, columns: ['i`d', 'col umn', 'ü.名'], key: ['i`d'] },
    changes: [...ins([1, 'a', 'b']), upd([1, 'a', 'b'], [1, 'c', 'd']), ...del([1, 'c', 'd'])],
    safeMode: false,
    expected: [
      { sql: 'INSERT INTO `my.db`.`ta``ble x` (`i``d`, `col umn`, `ü.名`) VALUES (?, ?, ?)', values: [1, 'a', 'b'] },
      { sql: 'UPDATE `my.db`.`ta``ble x` SET `col umn` = ?, `ü.名` = ? WHERE `i``d` = ?', values: ['c', 'd', 1] },
      { sql: 'DELETE FROM `my.db`.`ta``ble x` WHERE `i``d` IN (?)', values: [1] },
    ],
  },
  {
    name: 'odd identifiers in safe mode and without a key',
    table: { target: { schema: 'my.db', table: 'ta`ble x' }, columns: ['a`', 'b c'], key: [] },
    changes: [...del(['1', null])],
    safeMode: true,
    expected: [{ sql: 'DELETE FROM `my.db`.`ta``ble x` WHERE `a``` <=> ? AND `b c` <=> ? LIMIT 1', values: ['1', null] }],
  },
  {
    name: 'values are passed through as parameters, never pasted (bigint, Buffer, quotes)',
    table: byId,
    changes: ins([2n ** 64n - 1n, "O'Brien`; DROP TABLE t; --", Buffer.from([0, 39, 96, 255])]),
    safeMode: false,
    expected: [
      {
        sql: `INSERT INTO ${T} (\`id\`, \`name\`, \`n\`) VALUES (?, ?, ?)`,
        values: [2n ** 64n - 1n, "O'Brien`; DROP TABLE t; --", Buffer.from([0, 39, 96, 255])],
      },
    ],
  },
  {
    name: 'no changes: no statements',
    table: byId,
    changes: [],
    safeMode: true,
    expected: [],
  },
];

describe('buildStatements', () => {
  for (const c of cases) {
    test(c.name, () => {
      const options: { safeMode: boolean; maxStatementBytes?: number } = { safeMode: c.safeMode };
      if (c.maxStatementBytes !== undefined) options.maxStatementBytes = c.maxStatementBytes;
      const got = buildStatements(c.table, c.changes, options);
      assert.deepEqual(got, c.expected);
      for (const s of got) assert.equal(s.sql.split('?').length - 1, s.values.length, `placeholders match values: ${s.sql}`);
    });
  }

  test('the default size limit keeps a large run in one statement', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => [i, `name ${i}`, i * 2]);
    const got = buildStatements(byId, ins(...rows), { safeMode: false });
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.values, rows.flat());
  });

  test('a long run of updates merges in statements of at most 100 rows', () => {
    const changes = Array.from({ length: 250 }, (_, i) => upd([i, 'a', 0], [i, 'a', i + 1]));
    const got = buildStatements({ ...byId, uniqueColumns: [] }, changes, { safeMode: false });
    assert.deepEqual(
      got.map((s) => s.values.length / 3),
      [100, 100, 50],
    );
  });

  test('the input changes are not modified', () => {
    const changes = [upd([1, 'a', 10], [2, 'b', 20]), ...del([3, 'c', 30])];
    const copy = structuredClone(changes);
    buildStatements(byId, changes, { safeMode: true });
    assert.deepEqual(changes, copy);
  });
});

describe('buildStatements errors', () => {
  // [name, table, change, the image it lacks]
  const missing: [string, ApplyTable, RowChange, 'before' | 'after'][] = [
    ['insert without after', byId, { op: 'insert' }, 'after'],
    ['insert with only before', byId, { op: 'insert', before: [1, 'a', 1] }, 'after'],
    ['delete without before', byId, { op: 'delete' }, 'before'],
    ['delete with only after', byId, { op: 'delete', after: [1, 'a', 1] }, 'before'],
    ['update without before', byId, { op: 'update', after: [1, 'a', 1] }, 'before'],
    ['update without after', byId, { op: 'update', before: [1, 'a', 1] }, 'after'],
    ['keyless delete without before', keyless, { op: 'delete' }, 'before'],
    ['keyless update without after', keyless, { op: 'update', before: [1, 2] }, 'after'],
  ];
  for (const [name, table, change, which] of missing) {
    for (const safeMode of [false, true]) {
      test(`${name}${safeMode ? ' (safe mode)' : ''}: names the table, the image and binlog_row_image`, () => {
        // The bad change sits after a good one: the error is not lost in a merged run.
        const good: RowChange = { op: 'insert', after: table.columns.map((_, i) => i) };
        assert.throws(
          () => buildStatements(table, [good, change], { safeMode }),
          (err: unknown) => {
            assert.ok(err instanceof Error);
            assert.equal(err.message, `a row change of ${T} lacks its ${which} image (binlog_row_image must be FULL)`);
            return true;
          },
        );
      });
    }
  }

  test('a key column not among the columns names it and the table', () => {
    assert.throws(() => buildStatements({ ...byId, key: ['nope'] }, ins([1, 'a', 1]), { safeMode: false }), {
      message: `key column nope is not among the columns of ${T}`,
    });
  });
});
