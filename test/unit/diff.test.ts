import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffEvents, renderDiffProgress, renderDiffResult } from '../../src/cli/diff-output.js';
import { matchColumns } from '../../src/processors/diff/diff-columns.js';
import { rowReport } from '../../src/processors/diff/diff-job.js';
import { bucketCondition, checksumQuery, keyCondition, rowsQuery, shardSide, tableSide } from '../../src/processors/diff/diff-sql.js';
import { fixHeader, fixStatements } from '../../src/processors/diff/fix-sql.js';
import { keyedComparison, multisetComparison, rowReader, type RawRow } from '../../src/processors/diff/row-compare.js';
import { diffClean, diffSummary, type DiffReport } from '../../src/shared/diff/diff-report.js';
import { columnInfo as col } from '../support/column-info.js';
import type { ColumnInfo, TableInfo } from '../../src/shared/sql/catalog.js';

const ID = col('id', 'int');
const NAME = col('name', 'varchar', 'varchar(20)');
const F = col('f', 'double');
const J = col('j', 'json');
const BIN = col('b', 'varbinary', 'varbinary(8)');
const table = (columns: ColumnInfo[]): TableInfo => ({
  schema: 'db',
  table: 't',
  columns,
  uniqueKeys: [],
  uniqueIndexes: 0,
  estimatedRows: 0,
  averageRowBytes: 0,
  createSql: '',
});
const raw = (...values: (string | null)[]): RawRow => values.map((v) => (v === null ? null : Buffer.from(v)));

test('columns line up by name; extract columns are constants of the shard; a missing column or another type family is one line each', () => {
  const target = [ID, NAME, col('c_table', 'varchar')];
  assert.deepEqual(matchColumns(target, table([ID, NAME]), [{ column: 'c_table', value: '01' }], 'source s1 `db`.`t`'), {
    ok: true,
    columns: [
      { kind: 'column', name: 'id' },
      { kind: 'column', name: 'name' },
      { kind: 'extract', value: '01' },
    ],
  });
  // A widened integer and MariaDB's JSON-as-LONGTEXT compare alike.
  assert.equal(matchColumns([col('id', 'bigint'), col('j', 'json')], table([ID, col('j', 'longtext')]), [], 's').ok, true);
  assert.deepEqual(matchColumns([ID, col('name', 'blob')], table([ID, NAME, F]), [], 'source s1 `db`.`t`'), {
    ok: false,
    problems: [
      'column `name` is varchar(20) on source s1 `db`.`t` but blob on the target',
      'column `f` is on source s1 `db`.`t` but not on the target',
    ],
  });
  assert.deepEqual(matchColumns([ID, NAME], table([ID]), [], 'src'), {
    ok: false,
    problems: ['column `name` is on the target but not on src'],
  });
});

test('checksum and row queries: quoted names, NULL flags, the shard derived table carrying extract values as parameters', () => {
  const side = tableSide('d b', 't`1', '`x` > 0');
  assert.deepEqual(checksumQuery(side, [ID, NAME], [{ sql: '`id` >= ?', params: [5] }]), {
    sql: "SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS(',', `id`, CONVERT(`name` USING utf8mb4), CONCAT(ISNULL(`id`), ISNULL(`name`))))) AS s FROM `d b`.`t``1` WHERE `id` >= ? AND `x` > 0",
    params: [5],
  });
  const shard = shardSide(
    'db',
    't_01',
    [ID, col('c_table', 'varchar')],
    [
      { kind: 'column', name: 'id' },
      { kind: 'extract', value: '01' },
    ],
    '`id` <> 3',
  );
  assert.deepEqual(shard, {
    from: '(SELECT *, ? AS `c_table` FROM `db`.`t_01` WHERE `id` <> 3) AS `shard`',
    params: ['01'],
    filter: undefined,
  });
  const rows = rowsQuery(shard, [ID], [ID, col('f', 'float'), col('b', 'bit')], [keyCondition([ID], [[1n], [2n]])]);
  assert.deepEqual(rows, {
    sql: 'SELECT `id`, `id`, `f` + 0E0, `b` + 0 FROM (SELECT *, ? AS `c_table` FROM `db`.`t_01` WHERE `id` <> 3) AS `shard` WHERE ((`id` = ?) OR (`id` = ?))',
    params: ['01', 1n, 2n],
  });
  assert.deepEqual(bucketCondition([ID], 2, 8).params, [8, 2]);
});

test('keyed comparison: changed, extra and missing rows by key; floats compared as numbers and JSON parsed', () => {
  const shape = { key: [ID], columns: [ID, F, J] };
  const cmp = keyedComparison(rowReader(shape));
  cmp.addSource(raw('1', '1', '1.7976931348623157e308', '{"a":1,"b":[1,2]}'));
  cmp.addSource(raw('2', '2', '0.5', null));
  cmp.addSource(raw('3', '3', '1', '[]'));
  // TiDB prints the same double with all its digits, and JSON normalized.
  cmp.addTarget(raw('1', '1', '1.7976931348623157E+308', '{"b": [1, 2], "a": 1}'));
  cmp.addTarget(raw('2', '2', '0.5', 'null'));
  cmp.addTarget(raw('4', '4', '1', '[]'));
  const found = cmp.finish().map((d) => [d.kind, d.key, d.row.map((b) => b?.toString() ?? null)]);
  assert.deepEqual(found, [
    ['changed', [2n], ['2', '0.5', null]],
    ['extra', [4n], ['4', '1', '[]']],
    ['missing', [3n], ['3', '1', '[]']],
  ]);
});

test('multiset comparison of a keyless table: copies count, equal rows cancel', () => {
  const cmp = multisetComparison(rowReader({ key: [], columns: [ID, NAME] }));
  for (const r of [raw('1', 'x'), raw('1', 'x'), raw('2', null), raw('3', 'z')]) cmp.addSource(r);
  for (const r of [raw('1', 'x'), raw('2', null), raw('3', 'z'), raw('9', ''), raw('9', '')]) cmp.addTarget(r);
  const found = cmp.finish().map((d) => [d.kind, d.count, d.row.map((b) => b?.toString() ?? null)]);
  assert.deepEqual(found, [
    ['missing', 1, ['1', 'x']],
    ['extra', 2, ['9', '']],
  ]);
});

test('fix SQL: REPLACE the source row, DELETE an extra row by key; without a key, INSERT and DELETE … LIMIT 1 per copy', () => {
  const target = { schema: 'db', table: 't' };
  const row = raw('7', "it's", '\x00\xff');
  row[2] = Buffer.from([0, 255]);
  assert.deepEqual(fixStatements(target, [ID], [ID, NAME, BIN], { kind: 'changed', key: [7n], row, count: 1 }), [
    "REPLACE INTO `db`.`t` (`id`, `name`, `b`) VALUES (7, 'it\\'s', X'00ff');",
  ]);
  assert.deepEqual(fixStatements(target, [ID], [ID, NAME, BIN], { kind: 'extra', key: [7n], row, count: 1 }), [
    'DELETE FROM `db`.`t` WHERE `id` = 7;',
  ]);
  assert.deepEqual(fixStatements(target, [], [ID, NAME], { kind: 'extra', key: [], row: raw('1', null), count: 2 }), [
    'DELETE FROM `db`.`t` WHERE `id` <=> 1 AND `name` <=> NULL LIMIT 1;',
    'DELETE FROM `db`.`t` WHERE `id` <=> 1 AND `name` <=> NULL LIMIT 1;',
  ]);
  assert.deepEqual(fixStatements(target, [], [ID], { kind: 'missing', key: [], row: raw('1'), count: 1 }), [
    'INSERT INTO `db`.`t` (`id`) VALUES (1);',
  ]);
  assert.match(fixHeader('test', "+08'00").join('\n'), /SET SESSION time_zone = '\+08\\'00';/);
});

const report = (overrides: Partial<DiffReport> = {}): DiffReport => ({
  id: 'r1',
  task: 'test',
  state: 'done',
  startedAt: 0,
  updatedAt: 0,
  finishedAt: 5000,
  fixStatements: 3,
  tables: [
    {
      table: '`db`.`t`',
      sources: ['s1 `db`.`t`', 's2 `db`.`t`'],
      outcome: 'different',
      rows: 1234,
      chunks: 2,
      chunksDone: 2,
      chunksDifferent: 1,
      ms: 1500,
      notes: [],
      differentRows: 2,
      differences: [
        rowReport([ID], [ID], { kind: 'missing', key: [21n], row: [], count: 1 }),
        rowReport([BIN], [BIN], { kind: 'extra', key: [Buffer.from([1, 2])], row: [], count: 1 }),
      ],
    },
    {
      table: '`db`.`gone`',
      sources: ['s1 `db`.`gone`'],
      outcome: 'missing',
      rows: 0,
      chunks: 0,
      chunksDone: 0,
      chunksDifferent: 0,
      ms: 0,
      notes: ['target table `db`.`gone` does not exist (routed from s1 `db`.`gone`)'],
      differentRows: 0,
      differences: [],
    },
  ],
  ...overrides,
});

test('report: the differing rows by key, the summary, and clean only when every table is equal', () => {
  assert.deepEqual(
    report().tables[0]!.differences.map((d) => d.key),
    [{ id: '21' }, { b: '0x0102' }],
  );
  assert.deepEqual(renderDiffResult(report(), '/tmp/fix.sql'), [
    'DIFFERENT `db`.`t` <- s1 `db`.`t`, s2 `db`.`t`: 1,234 rows, 2 chunks (1 different), 1.5 s',
    '          missing id="21"',
    '          extra   b="0x0102"',
    'MISSING   `db`.`gone` <- s1 `db`.`gone`: 0 rows, 0 chunks (0 different), 0.0 s',
    '          target table `db`.`gone` does not exist (routed from s1 `db`.`gone`)',
    '2 of 2 tables not proven equal',
    'fix SQL (3 statements): /tmp/fix.sql',
  ]);
  const summary = diffSummary(report());
  assert.deepEqual([summary.tables, summary.different, summary.missing, summary.differentRows, summary.rowsCompared], [2, 1, 1, 2, 1234]);
  assert.equal(diffClean(report()), false);
  const equal = report({ tables: [{ ...report().tables[0]!, outcome: 'equal', differentRows: 0, differences: [] }] });
  assert.equal(diffClean(equal), true);
  assert.equal(diffClean({ ...equal, state: 'running' }), false);
  assert.match(renderDiffProgress({ ...report(), state: 'running' }, 80)[1]!, /2\/2 chunks/);
});

test('JSON lines: progress when it moves, each table once when it settles', () => {
  const seen = { tables: new Set<string>(), progress: '' };
  const running = report({ state: 'running', tables: [{ ...report().tables[0]!, outcome: 'pending', chunksDone: 1 }] });
  assert.deepEqual(
    diffEvents(running, seen).map((e) => (e as { event: string }).event),
    ['progress'],
  );
  assert.deepEqual(diffEvents(running, seen), []);
  const done = report();
  assert.deepEqual(
    diffEvents(done, seen).map((e) => [(e as { event: string }).event, (e as { table?: string }).table]),
    [
      ['progress', undefined],
      ['table', '`db`.`t`'],
      ['table', '`db`.`gone`'],
    ],
  );
});
