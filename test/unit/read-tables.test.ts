import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createReadTables } from '../../src/producers/binlog/read-tables.js';
import type { BinlogEvent } from '../../src/producers/binlog/binlog-stream.js';
import { makeTableFilter } from '../../src/shared/filter/block-allow.js';
import { makeExtractor, makeRouter } from '../../src/shared/filter/route.js';
import type { DmqError } from '../../src/shared/errors.js';
import type { TrackedTable } from '../../src/shared/schema/tracked-table.js';

const rules = {
  filter: makeTableFilter(null, { caseSensitive: false }),
  route: makeRouter([], false),
  extractColumns: makeExtractor([], false),
  hasExpressionFilters: () => false,
};

/** zongji's shared map of the connection, which every tablemap and rows event points at. */
const zongjiMap: Record<number, { parentSchema: string; tableName: string; columns: { name: string; type: number }[] }> = {};

function tablemap(tableId: number, table: string): BinlogEvent {
  zongjiMap[tableId] = { parentSchema: 'db', tableName: table, columns: [{ name: 'id', type: 3 }] };
  return {
    getEventName: () => 'tablemap',
    nextPosition: 0,
    timestamp: 0,
    tableId,
    schemaName: 'db',
    tableName: table,
    columnCount: 1,
    columnNames: ['id'],
    columnTypes: [3],
    primaryKey: [0],
    tableMap: zongjiMap,
  };
}

const rows = (tableId: number): BinlogEvent => ({
  getEventName: () => 'writerows',
  nextPosition: 0,
  timestamp: 0,
  tableId,
  tableMap: zongjiMap,
  rows: [],
});

/** Tables of a reader whose tablemaps name their columns (no tracked definitions needed); any failure fails the test. */
const untrackedReader = () =>
  createReadTables(
    't',
    's1',
    rules,
    () => undefined,
    (err) => assert.fail(String(err)),
  );

test('table ids churning (each DDL or reopen gives a table a new id) leave one remembered id per table', () => {
  const tables = untrackedReader();
  const coord = { file: 'bin.000001', pos: 4 };
  // Two tables reopened 500 times each, as a long-running source with DDLs and FLUSH TABLES does.
  for (let i = 0; i < 500; i++) {
    for (const [offset, table] of [
      [0, 'a'],
      [1, 'b'],
    ] as const) {
      const id = 100 + i * 2 + offset;
      tables.map(tablemap(id, table), coord);
      assert.equal(tables.of(rows(id))?.table, table);
    }
  }
  assert.equal(tables.size(), 2);
  assert.equal(Object.keys(zongjiMap).length, 2, "zongji's own map is pruned too");
  // The current ids still decode.
  assert.equal(tables.of(rows(100 + 499 * 2))?.table, 'a');
  assert.equal(tables.of(rows(100 + 499 * 2 + 1))?.table, 'b');
});

/** A tablemap as binlog_row_metadata=MINIMAL logs it: column types, no names, no key. */
function minimalTablemap(tableId: number, types: number[]): BinlogEvent {
  const { columnNames: _names, primaryKey: _key, ...event } = tablemap(tableId, 'm');
  return { ...event, columnCount: types.length, columnTypes: types };
}

const tracked: TrackedTable = {
  columns: [
    { name: 'id', type: 'int(11)', charset: null, collation: null },
    { name: 'note', type: 'varchar(20)', charset: 'utf8mb4', collation: 'utf8mb4_general_ci' },
  ],
  primaryKey: ['id'],
  charset: 'utf8mb4',
};

test('a tablemap without column names takes names and key from the tracked definition', () => {
  const tables = createReadTables(
    't',
    's1',
    rules,
    (s, t) => (s === 'db' && t === 'm' ? tracked : undefined),
    (err) => assert.fail(String(err)),
  );
  tables.map(minimalTablemap(7, [3, 15]), { file: 'bin.000001', pos: 4 });
  const table = tables.of(rows(7));
  assert.deepEqual(table?.columns, ['id', 'note']);
  assert.deepEqual(table?.key, ['id']);
});

test('a tablemap that does not fit the tracked definition pauses the task with binlog-schema update to run', () => {
  const failures: unknown[] = [];
  const tables = createReadTables(
    't',
    's1',
    rules,
    () => tracked,
    (err) => failures.push(err),
  );
  tables.map(minimalTablemap(8, [3, 15, 3]), { file: 'bin.000001', pos: 4 });
  tables.map(minimalTablemap(9, [3, 3]), { file: 'bin.000001', pos: 8 });
  const untracked = createReadTables(
    't',
    's1',
    rules,
    () => undefined,
    (err) => failures.push(err),
  );
  untracked.map(minimalTablemap(10, [3]), { file: 'bin.000001', pos: 12 });
  assert.deepEqual(
    failures.map((f) => [(f as DmqError).code, (f as DmqError).where]),
    [
      ['BINLOG_SCHEMA', 'bin.000001:4'],
      ['BINLOG_SCHEMA', 'bin.000001:8'],
      ['BINLOG_SCHEMA', 'bin.000001:12'],
    ],
  );
  assert.match((failures[0] as DmqError).message, /the binlog has 3 columns, the tracked definition 2 \(id, note\)/);
  assert.match(
    (failures[1] as DmqError).message,
    /column 2 is note varchar\(20\) in the tracked definition, but the binlog logs it with type code 3/,
  );
  assert.match((failures[2] as DmqError).message, /the schema tracker has no definition of it/);
  assert.match((failures[0] as DmqError).workaround ?? '', /dmq binlog-schema update t s1 db m/);
});

test('a table mapped again as before keeps its description; other columns, another key or a DDL describe it afresh', () => {
  const tables = untrackedReader();
  const coord = { file: 'bin.000001', pos: 4 };
  tables.map(tablemap(9, 'k'), coord);
  const first = tables.of(rows(9));
  tables.map(tablemap(9, 'k'), coord);
  assert.equal(tables.of(rows(9)), first, 'each transaction maps its tables again: nothing to describe anew');
  tables.map({ ...tablemap(9, 'k'), columnCount: 2, columnNames: ['id', 'v'], columnTypes: [3, 3] }, coord);
  const widened = tables.of(rows(9));
  assert.deepEqual(widened?.columns, ['id', 'v']);
  tables.map({ ...tablemap(9, 'k'), columnCount: 2, columnNames: ['id', 'v'], columnTypes: [3, 3], primaryKey: [1] }, coord);
  const rekeyed = tables.of(rows(9));
  assert.deepEqual(rekeyed?.key, ['v']);
  tables.changed();
  assert.notEqual(tables.of(rows(9)), rekeyed, 'a DDL the tracker followed: described afresh');
  assert.deepEqual(tables.of(rows(9))?.key, ['v']);
});
